package buildrun_test

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stx-build/stx-build/builders/deb"
	"github.com/stx-build/stx-build/buildrun"
	"github.com/stx-build/stx-build/store"
)

// TestLockHonoured: a build records its archive packages (what stx-build
// lock writes); with the lock edited by hand to an older version of one
// package the archive still offers, exactly the build-dependency layers
// of the packages using it change, and the older version is installed;
// with the package removed from the lock, the build fails naming it and
// how to add it.
func TestLockHonoured(t *testing.T) {
	needBuildHost(t)
	const pkg, newer, older = "kitty-terminfo", "0.26.5-5+deb12u1", "0.26.5-5"
	dir := copyProject(t, t.TempDir(), false, "stx-uses-terminfo", "stx-postinst-probe")
	opts := buildrun.Options{Archs: []string{"amd64"}, Packages: []string{"stx-uses-terminfo", "stx-postinst-probe"}}

	var mu sync.Mutex
	lock := &store.Lock{}
	opts.OnResolved = func(s *store.LockSet) {
		mu.Lock()
		defer mu.Unlock()
		set := lock.Set(s.Suite, s.Arch)
		set.Releases = s.Releases
		for _, p := range s.Packages {
			set.Add(p)
		}
	}
	res, _, err := build(t, dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	before := layerKeys(res)
	set := lock.Find("bookworm", "amd64")
	if set == nil || len(set.Releases) == 0 {
		t.Fatalf("no [bookworm amd64] set with Release digests in the lock:\n%s", lock.Marshal())
	}
	if _, ok := set.Lookup(pkg, newer, "all"); !ok {
		t.Skipf("the archive's %s is not %s any more; the test needs two versions of it (lock:\n%s)", pkg, newer, lock.Marshal())
	}
	size, sum, file := indexEntry(t, pkg, older)
	if size == 0 {
		t.Skipf("the base's indexes no longer offer %s %s", pkg, older)
	}

	// Hand-edit the lock's text, as a user would, and read it back.
	text := string(lock.Marshal())
	var edited []string
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, pkg+" "+newer+" ") {
			f := strings.Fields(l)
			url := strings.TrimSuffix(f[5], filepath.Base(f[5])) + filepath.Base(file)
			l = strings.Join([]string{pkg, older, "all", strconv.FormatInt(size, 10), "sha256:" + sum, url}, " ")
		}
		edited = append(edited, l)
	}
	locked, err := store.ParseLock("stx.lock", strings.NewReader(strings.Join(edited, "\n")))
	if err != nil {
		t.Fatal(err)
	}
	opts.OnResolved, opts.Lock = nil, locked
	res, _, err = build(t, dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	after := layerKeys(res)
	if before["stx-uses-terminfo"] == after["stx-uses-terminfo"] {
		t.Errorf("stx-uses-terminfo: layer %s did not change with the locked version", short(after["stx-uses-terminfo"]))
	}
	if before["stx-postinst-probe"] != after["stx-postinst-probe"] {
		t.Errorf("stx-postinst-probe does not use %s, but its layer changed: %s -> %s", pkg, short(before["stx-postinst-probe"]), short(after["stx-postinst-probe"]))
	}
	log, _ := os.ReadFile(filepath.Join(dir, "out", "amd64", "logs", "stx-uses-terminfo_1.0.log"))
	if !bytes.Contains(log, []byte("Inst "+pkg+" ("+older+" ")) {
		t.Errorf("the build did not install the locked %s %s:\n%s", pkg, older, lastLines(log, 40))
	}

	// A package the lock does not hold fails the build, naming it.
	var kept []string
	for _, l := range edited {
		if !strings.HasPrefix(l, pkg+" ") {
			kept = append(kept, l)
		}
	}
	if opts.Lock, err = store.ParseLock("stx.lock", strings.NewReader(strings.Join(kept, "\n"))); err != nil {
		t.Fatal(err)
	}
	opts.Packages = []string{"stx-uses-terminfo"}
	_, _, err = build(t, dir, opts)
	var be *deb.Error
	if !errors.As(err, &be) || be.Step != "build-deps" || !strings.Contains(be.Error(), pkg+" "+newer+" (all)") || !strings.Contains(be.Error(), "stx-build lock --update") {
		t.Fatalf("want a build-deps failure naming %s and stx-build lock --update, got %v", pkg, err)
	}
}

func layerKeys(res *buildrun.Result) map[string]string {
	m := map[string]string{}
	for _, b := range res.Builds {
		m[b.Package] = b.LayerKey
	}
	return m
}

// indexEntry finds name=version in the base root's amd64 Packages
// indexes: its size, sha256 and pool file name (0 when not there).
func indexEntry(t *testing.T, name, version string) (int64, string, string) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(cacheDir, "rootfs", "*", "root", "var", "lib", "apt", "lists", "*_binary-amd64_Packages"))
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, st := range bytes.Split(data, []byte("\n\n")) {
			fields := map[string]string{}
			sc := bufio.NewScanner(bytes.NewReader(st))
			sc.Buffer(make([]byte, 1<<20), 1<<20)
			for sc.Scan() {
				if k, v, ok := strings.Cut(sc.Text(), ": "); ok {
					fields[k] = v
				}
			}
			if fields["Package"] == name && fields["Version"] == version {
				size, _ := strconv.ParseInt(fields["Size"], 10, 64)
				return size, fields["SHA256"], fields["Filename"]
			}
		}
	}
	return 0, "", ""
}
