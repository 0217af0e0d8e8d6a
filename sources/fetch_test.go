package sources

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stx-build/stx-build/manifests"
)

const (
	tinyName    = "stx-tiny"
	tinyVersion = "1.0-1"
	tinyKey     = "stx-tiny_1.0-1"
	tinyDSC     = tinyKey + ".dsc"
	tinyOrig    = "stx-tiny_1.0.orig.tar.gz"
)

// buildTiny makes a small real "3.0 (quilt)" source package with
// dpkg-source -b and returns the directory holding its .dsc and files.
func buildTiny(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("dpkg-source"); err != nil {
		t.Skip("dpkg-source not found")
	}
	work := t.TempDir()
	tree := filepath.Join(work, "stx-tiny-1.0")
	files := map[string]string{
		"README": "A tiny package for stx-build's tests.\n",
		"debian/control": `Source: stx-tiny
Section: misc
Priority: optional
Maintainer: stx-build tests <tests@stx-build.invalid>
Standards-Version: 4.6.2
Rules-Requires-Root: no

Package: stx-tiny
Architecture: all
Description: tiny test package
 Used by stx-build's source fetching tests.
`,
		"debian/changelog": `stx-tiny (1.0-1) unstable; urgency=medium

  * Initial release.

 -- stx-build tests <tests@stx-build.invalid>  Sat, 01 Jan 2000 00:00:00 +0000
`,
		"debian/rules":         "#!/usr/bin/make -f\n%:\n\tdh $@\n",
		"debian/source/format": "3.0 (quilt)\n",
	}
	for name, data := range files {
		p := filepath.Join(tree, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run := func(name string, args ...string) {
		cmd := exec.Command(name, args...)
		cmd.Dir = work
		cmd.Env = append(os.Environ(), "SOURCE_DATE_EPOCH=946684800", "LC_ALL=C")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
	}
	run("tar", "--exclude=debian", "--sort=name", "--mtime=@946684800", "--owner=0", "--group=0",
		"-czf", tinyOrig, "stx-tiny-1.0")
	run("dpkg-source", "-b", "stx-tiny-1.0")
	if err := os.RemoveAll(tree); err != nil {
		t.Fatal(err)
	}
	return work
}

// archive serves the files of dir under any URL directory, recording
// requests, with per-file overrides to simulate a tampered or missing file.
type archive struct {
	dir      string
	mu       sync.Mutex
	paths    []string
	override map[string][]byte // nil value: 404
}

func (a *archive) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name := path.Base(r.URL.Path)
	a.mu.Lock()
	a.paths = append(a.paths, r.URL.Path)
	data, overridden := a.override[name]
	a.mu.Unlock()
	if overridden {
		if data == nil {
			http.NotFound(w, r)
			return
		}
		w.Write(data)
		return
	}
	data, err := os.ReadFile(filepath.Join(a.dir, name))
	if err != nil {
		http.NotFound(w, r)
		return
	}
	w.Write(data)
}

func (a *archive) count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.paths)
}

func sha256File(t *testing.T, p string) string {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

func sha256Bytes(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func dscPackage(url, sum string) *manifests.Package {
	return &manifests.Package{Name: tinyName, Dir: "/nonexistent",
		Source: manifests.Source{DSC: &manifests.DSCSource{URL: url, SHA256: sum}}}
}

// cacheEntries lists what is in CacheDir/sources (temporaries included).
func cacheEntries(t *testing.T, cache string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(cache, "sources"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestFetchDSC(t *testing.T) {
	pool := buildTiny(t)
	arch := &archive{dir: pool}
	srv := httptest.NewServer(arch)
	defer srv.Close()
	cache := t.TempDir()
	f := &Fetcher{CacheDir: cache, HTTP: srv.Client()}
	pkg := dscPackage(srv.URL+"/pool/main/s/"+tinyDSC, sha256File(t, filepath.Join(pool, tinyDSC)))

	got, err := f.Fetch(context.Background(), pkg)
	if err != nil {
		t.Fatal(err)
	}
	wantDir := filepath.Join(cache, "sources", tinyKey)
	if got.Kind != KindDSC || got.Dir != wantDir || got.DSC != filepath.Join(wantDir, tinyDSC) {
		t.Errorf("Fetch = %+v, want dsc in %s", got, wantDir)
	}
	for _, name := range []string{tinyDSC, tinyOrig, "stx-tiny_1.0-1.debian.tar.xz"} {
		if a, b := sha256File(t, filepath.Join(pool, name)), sha256File(t, filepath.Join(wantDir, name)); a != b {
			t.Errorf("%s: cached copy differs", name)
		}
	}
	if names := cacheEntries(t, cache); strings.Join(names, " ") != tinyKey {
		t.Errorf("cache holds %q, want only %s", names, tinyKey)
	}
	first := arch.count()
	if first != 3 {
		t.Errorf("%d requests, want 3 (.dsc and two files)", first)
	}
	for _, p := range arch.paths {
		if !strings.HasPrefix(p, "/pool/main/s/") {
			t.Errorf("requested %s, want files from the .dsc's directory", p)
		}
	}

	// Cached and intact: no network.
	if _, err := f.Fetch(context.Background(), pkg); err != nil {
		t.Fatal(err)
	}
	if n := arch.count(); n != first {
		t.Errorf("reuse made %d requests, want none", n-first)
	}

	// A cached file that no longer matches is fetched again.
	if err := os.WriteFile(filepath.Join(wantDir, tinyOrig), []byte("rotten"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Fetch(context.Background(), pkg); err != nil {
		t.Fatal(err)
	}
	if n := arch.count(); n != first+3 {
		t.Errorf("refetch made %d requests, want 3", n-first)
	}
	if a, b := sha256File(t, filepath.Join(pool, tinyOrig)), sha256File(t, filepath.Join(wantDir, tinyOrig)); a != b {
		t.Error("refetch did not restore the orig tarball")
	}
	if names := cacheEntries(t, cache); strings.Join(names, " ") != tinyKey {
		t.Errorf("cache holds %q, want only %s", names, tinyKey)
	}
}

func TestFetchDSCErrors(t *testing.T) {
	pool := buildTiny(t)
	dscSum := sha256File(t, filepath.Join(pool, tinyDSC))
	origSum := sha256File(t, filepath.Join(pool, tinyOrig))
	orig, err := os.ReadFile(filepath.Join(pool, tinyOrig))
	if err != nil {
		t.Fatal(err)
	}
	tampered := append([]byte(nil), orig...)
	tampered[len(tampered)/2] ^= 0xff

	tests := []struct {
		name     string
		override map[string][]byte
		sum      string
		path     string
		want     []string
	}{
		{
			name:     "tampered file",
			override: map[string][]byte{tinyOrig: tampered},
			want:     []string{tinyOrig, "sha256 is " + sha256Bytes(tampered), "want " + origSum},
		},
		{
			name: "wrong dsc sha256",
			sum:  strings.Repeat("0", 64),
			want: []string{tinyDSC, "sha256 is " + dscSum, "want " + strings.Repeat("0", 64)},
		},
		{
			name:     "truncated file",
			override: map[string][]byte{tinyOrig: orig[:10]},
			want:     []string{tinyOrig, "size is 10, want " + strconv.Itoa(len(orig))},
		},
		{
			name:     "longer file",
			override: map[string][]byte{tinyOrig: append(append([]byte(nil), orig...), 'x')},
			want:     []string{tinyOrig, "size is " + strconv.Itoa(len(orig)+1)},
		},
		{
			name:     "missing file",
			override: map[string][]byte{tinyOrig: nil},
			want:     []string{tinyOrig, "404"},
		},
		{
			name:     "missing dsc",
			override: map[string][]byte{tinyDSC: nil},
			want:     []string{tinyDSC, "404"},
		},
		{
			name: "not a dsc url",
			path: "/stx-tiny_1.0-1.txt",
			want: []string{"does not name a .dsc"},
		},
		{
			name: "bad sha256",
			sum:  "abc",
			want: []string{`sha256 "abc" is not 64 hex digits`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(&archive{dir: pool, override: tt.override})
			defer srv.Close()
			cache := t.TempDir()
			f := &Fetcher{CacheDir: cache, HTTP: srv.Client()}
			sum, p := dscSum, "/"+tinyDSC
			if tt.sum != "" {
				sum = tt.sum
			}
			if tt.path != "" {
				p = tt.path
			}
			_, err := f.Fetch(context.Background(), dscPackage(srv.URL+p, sum))
			if err == nil {
				t.Fatal("Fetch succeeded")
			}
			t.Logf("error: %v", err)
			prefix := "package stx-tiny: fetch " + srv.URL + p + ": "
			if !strings.HasPrefix(err.Error(), prefix) {
				t.Errorf("error %q does not start with %q", err, prefix)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if names := cacheEntries(t, cache); len(names) != 0 {
				t.Errorf("cache holds %q after a failed fetch, want nothing", names)
			}
		})
	}
}

func TestFetchLocal(t *testing.T) {
	pkgDir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(pkgDir, "src/debian"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(pkgDir, "src/debian/control"), []byte("Source: x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	f := &Fetcher{CacheDir: t.TempDir()}
	got, err := f.Fetch(context.Background(), &manifests.Package{Name: "x", Dir: pkgDir, Source: manifests.Source{Local: "src"}})
	if err != nil {
		t.Fatal(err)
	}
	if got.Kind != KindLocal || got.Dir != filepath.Join(pkgDir, "src") || got.DSC != "" {
		t.Errorf("Fetch = %+v", got)
	}
	if names := cacheEntries(t, f.CacheDir); len(names) != 0 {
		t.Errorf("local fetch wrote to the cache: %q", names)
	}

	_, err = f.Fetch(context.Background(), &manifests.Package{Name: "x", Dir: pkgDir, Source: manifests.Source{Local: "."}})
	if err == nil || !strings.HasPrefix(err.Error(), "package x: local source .: ") || !strings.Contains(err.Error(), "no debian/control") {
		t.Errorf("error = %v, want one naming the missing debian/control", err)
	}
}

func TestFetchDebianCached(t *testing.T) {
	pool := buildTiny(t)
	cache := t.TempDir()
	dir := filepath.Join(cache, "sources", tinyKey)
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(pool, dir); err != nil {
		t.Fatal(err)
	}
	// No apt environment: an intact cache entry needs none.
	f := &Fetcher{CacheDir: cache}
	pkg := &manifests.Package{Name: tinyName, Source: manifests.Source{Debian: tinyName + "=" + tinyVersion}}
	got, err := f.Fetch(context.Background(), pkg)
	if err != nil {
		t.Fatal(err)
	}
	if got.Kind != KindDebian || got.Dir != dir || got.DSC != filepath.Join(dir, tinyDSC) {
		t.Errorf("Fetch = %+v", got)
	}

	// An epoch is not part of Debian file names, nor of the cache key.
	pkg.Source.Debian = tinyName + "=0:" + tinyVersion
	if _, err := f.Fetch(context.Background(), pkg); err != nil {
		t.Fatal(err)
	}

	// A damaged entry is dropped and must be fetched again.
	if err := os.WriteFile(filepath.Join(dir, tinyOrig), []byte("rotten"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = f.Fetch(context.Background(), pkg)
	want := "package stx-tiny: fetch stx-tiny=0:1.0-1: not in the cache and no apt environment"
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error = %v, want prefix %q", err, want)
	}
	if names := cacheEntries(t, cache); len(names) != 0 {
		t.Errorf("cache holds %q, want the damaged entry gone", names)
	}
}

func TestFetchBadSource(t *testing.T) {
	f := &Fetcher{CacheDir: t.TempDir()}
	tests := []struct {
		name string
		src  manifests.Source
		want string
	}{
		{"none", manifests.Source{}, "package p: source: want exactly one of local, debian, dsc; 0 are set"},
		{"two", manifests.Source{Local: ".", Debian: "p=1"}, "package p: source: want exactly one of local, debian, dsc; 2 are set"},
		{"no version", manifests.Source{Debian: "p"}, "package p: fetch p: want name=version"},
		{"bad name", manifests.Source{Debian: "a/b=1"}, `package p: fetch a/b=1: bad source package name "a/b"`},
		{"bad version", manifests.Source{Debian: "p=1 2"}, `package p: fetch p=1 2: bad version "1 2"`},
		{"not http", manifests.Source{DSC: &manifests.DSCSource{URL: "file:///x.dsc", SHA256: strings.Repeat("a", 64)}}, "want an http or https URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.Fetch(context.Background(), &manifests.Package{Name: "p", Source: tt.src})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %v, want %q", err, tt.want)
			}
		})
	}
}
