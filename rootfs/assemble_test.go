package rootfs

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stx-build/stx-build/repo"
)

func TestAssembleArgs(t *testing.T) {
	host := t.TempDir()
	if err := os.MkdirAll(filepath.Join(host, "etc/apt/sources.list.d"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(host, "etc/apt/sources.list.d/debian.sources"), []byte("Types: deb\nURIs: http://mirror.example/debian\nSuites: bookworm\nComponents: main\n"), 0o644)
	os.WriteFile(filepath.Join(host, "etc/apt/sources.list.d/off.list.disabled"), []byte("deb http://x.example/ y z\n"), 0o644)
	os.WriteFile(filepath.Join(host, "etc/apt/sources.list"), nil, 0o644) // empty: skipped

	args, err := AssembleArgs(AssembleSpec{
		Suite: "bookworm", Arch: "arm64", Packages: []string{"b", "a", "a"},
		LocalRepos: []string{"/out/arm64/repo"}, HostRoot: host, CustomizeHooks: []string{"echo hi"},
	}, "/t")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"--variant=apt", "--mode=root", "--format=directory", "--architectures=arm64",
		"--dpkgopt=force-unsafe-io", `--aptopt=APT::Install-Recommends "false"`, `--aptopt=Acquire::Check-Valid-Until "false"`,
		"--include=a,b", "--hook-dir=" + MergedUsrHooks, "--setup-hook=" + pinHook, "--customize-hook=echo hi", "bookworm", "/t",
		filepath.Join(host, "etc/apt/sources.list.d/debian.sources"),
		"deb [trusted=yes] copy:///out/arm64/repo stx main",
	}
	if !reflect.DeepEqual(args, want) {
		t.Errorf("args:\n got %q\nwant %q", args, want)
	}
	// A trixie root on this bookworm host: its mirror, trixie's suites.
	args, err = AssembleArgs(AssembleSpec{Suite: "trixie", Arch: "amd64", HostRoot: host}, "/t")
	if err != nil {
		t.Fatal(err)
	}
	if got := args[len(args)-1]; got != "deb http://mirror.example/debian trixie main" || contains(args, filepath.Join(host, "etc/apt/sources.list.d/debian.sources")) {
		t.Errorf("trixie on a bookworm host: %q", args)
	}
	args, _ = AssembleArgs(AssembleSpec{Suite: "bookworm", Arch: "amd64", Mirror: "http://mirror.example/debian", Components: []string{"main", "contrib"}}, "/t")
	if got := args[len(args)-1]; got != "http://mirror.example/debian" || !contains(args, "--components=main,contrib") {
		t.Errorf("mirror args: %q", args)
	}
}

// The setup hook writes the pin that puts the project's repositories above
// the archive, and Normalize removes it again.
func TestLocalPinHook(t *testing.T) {
	root := t.TempDir()
	if out, err := exec.Command("sh", "-c", pinHook, "sh", root).CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	got, err := os.ReadFile(filepath.Join(root, LocalPinFile))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != LocalPin || !strings.Contains(LocalPin, "Pin-Priority: 1001") {
		t.Errorf("pin file %q, want %q", got, LocalPin)
	}
	if err := Normalize(root, time.Unix(0, 0)); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, LocalPinFile)); err == nil {
		t.Error("Normalize left the pin in the root")
	}
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

func TestNormalize(t *testing.T) {
	root := t.TempDir()
	files := map[string]string{
		"etc/machine-id":                                    "0123456789abcdef\n",
		"var/log/dpkg.log":                                  "log\n",
		"var/lib/apt/lists/x_Packages":                      "idx\n",
		"var/cache/ldconfig/aux-cache":                      "bin\n",
		"usr/lib/python3/dist-packages/m/__pycache__/a.pyc": "pyc",
		"usr/lib/python3/dist-packages/m/a.py":              "py",
		"etc/apt/sources.list.d/0001main.list":              "deb [trusted=yes] copy:///out/amd64/repo stx main\n",
		"etc/apt/sources.list.d/0002other.list":             "deb http://mirror.example/debian bookworm main\ndeb [trusted=yes] file:///x stx main\n",
		"usr/bin/tool":                                      "#!/bin/sh\n",
	}
	for p, c := range files {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(root, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, p), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	os.Symlink("tool", filepath.Join(root, "usr/bin/link"))
	epoch := time.Unix(1704067200, 0)
	if err := Normalize(root, epoch); err != nil {
		t.Fatal(err)
	}
	for _, gone := range []string{"var/log/dpkg.log", "var/lib/apt/lists/x_Packages", "var/cache/ldconfig/aux-cache", "usr/lib/python3/dist-packages/m/__pycache__", "etc/apt/sources.list.d/0001main.list"} {
		if _, err := os.Lstat(filepath.Join(root, gone)); err == nil {
			t.Errorf("%s should be gone", gone)
		}
	}
	if data, _ := os.ReadFile(filepath.Join(root, "etc/machine-id")); len(data) != 0 {
		t.Errorf("machine-id not emptied: %q", data)
	}
	if data, _ := os.ReadFile(filepath.Join(root, "etc/apt/sources.list.d/0002other.list")); string(data) != "deb http://mirror.example/debian bookworm main\n" {
		t.Errorf("other.list = %q", data)
	}
	if info, err := os.Stat(filepath.Join(root, "tmp")); err != nil || info.Mode().Perm()|info.Mode()&os.ModeSticky != 0o777|os.ModeSticky {
		t.Errorf("tmp: %v %v", info.Mode(), err)
	}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := os.Lstat(p)
		if err != nil {
			return err
		}
		if !info.ModTime().Equal(epoch) {
			t.Errorf("%s: mtime %v", p, info.ModTime())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// treeDigest hashes every path's type, mode, owner, mtime, link target and
// content, in lexical order.
func treeDigest(t *testing.T, root string) (string, int) {
	t.Helper()
	h := sha256.New()
	n := 0
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		info, err := os.Lstat(p)
		if err != nil {
			return err
		}
		st := info.Sys().(*syscall.Stat_t)
		fmt.Fprintf(h, "%s %v %d:%d %d", rel, info.Mode(), st.Uid, st.Gid, info.ModTime().Unix())
		switch {
		case info.Mode()&fs.ModeSymlink != 0:
			l, _ := os.Readlink(p)
			fmt.Fprintf(h, " -> %s", l)
		case info.Mode().IsRegular():
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			s := sha256.Sum256(data)
			fmt.Fprintf(h, " %x", s)
		}
		fmt.Fprintln(h)
		n++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil)), n
}

// TestAssembleReproducible makes the same root three times, with packages
// from the project's repository: in one mmdebstrap run, then layered on a
// cached archive root (made, then reused), and compares the trees entry by
// entry: a root made from the cache is the cold one bit for bit.
func TestAssembleReproducible(t *testing.T) {
	if testing.Short() || os.Geteuid() != 0 {
		t.Skip("needs root and the archive (mmdebstrap)")
	}
	if _, err := exec.LookPath("mmdebstrap"); err != nil {
		t.Skip("mmdebstrap not installed")
	}
	dir := t.TempDir()
	// A tiny package in a local repository.
	pkgRoot := filepath.Join(dir, "pkg")
	os.MkdirAll(filepath.Join(pkgRoot, "DEBIAN"), 0o755)
	os.MkdirAll(filepath.Join(pkgRoot, "usr/share/stx-test"), 0o755)
	// It depends on a project package and an archive package that
	// nothing else pulls in: both end up marked as automatically
	// installed, in one run as on a cached root.
	os.WriteFile(filepath.Join(pkgRoot, "DEBIAN/control"), []byte("Package: stx-assemble-test\nVersion: 1.0\nArchitecture: all\nDepends: stx-assemble-lib, netbase\nMaintainer: t <t@stx-build.invalid>\nDescription: test\n"), 0o644)
	os.WriteFile(filepath.Join(pkgRoot, "usr/share/stx-test/marker"), []byte("hello\n"), 0o644)
	deb := filepath.Join(dir, "stx-assemble-test_1.0_all.deb")
	if out, err := exec.Command("dpkg-deb", "--build", "--root-owner-group", pkgRoot, deb).CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb: %v %s", err, out)
	}
	// The project's sensible-utils, older than the archive's (0.0.17+nmu1
	// in bookworm, newer in later suites), as a project pinning an old
	// release or rebuilding a binNMU'd source has: the root must get it.
	oldRoot := filepath.Join(dir, "old")
	os.MkdirAll(filepath.Join(oldRoot, "DEBIAN"), 0o755)
	os.MkdirAll(filepath.Join(oldRoot, "usr/share/stx-test"), 0o755)
	os.WriteFile(filepath.Join(oldRoot, "DEBIAN/control"), []byte("Package: sensible-utils\nVersion: 0.0.17-stx1\nArchitecture: all\nMaintainer: t <t@stx-build.invalid>\nDescription: the project's own, older than the archive's\n"), 0o644)
	os.WriteFile(filepath.Join(oldRoot, "usr/share/stx-test/sensible-utils"), []byte("project\n"), 0o644)
	oldDeb := filepath.Join(dir, "sensible-utils_0.0.17-stx1_all.deb")
	if out, err := exec.Command("dpkg-deb", "--build", "--root-owner-group", oldRoot, oldDeb).CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb: %v %s", err, out)
	}
	libRoot := filepath.Join(dir, "lib")
	os.MkdirAll(filepath.Join(libRoot, "DEBIAN"), 0o755)
	os.WriteFile(filepath.Join(libRoot, "DEBIAN/control"), []byte("Package: stx-assemble-lib\nVersion: 1.0\nArchitecture: all\nMaintainer: t <t@stx-build.invalid>\nDescription: test\n"), 0o644)
	libDeb := filepath.Join(dir, "stx-assemble-lib_1.0_all.deb")
	if out, err := exec.Command("dpkg-deb", "--build", "--root-owner-group", libRoot, libDeb).CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb: %v %s", err, out)
	}
	r, err := repo.Open(filepath.Join(dir, "repo"), "amd64")
	if err != nil {
		t.Fatal(err)
	}
	// The repository is signed and apt verifies it (signed-by=), on the
	// mmdebstrap path and on the cached-root path.
	keyDir := filepath.Join(dir, "repo-key")
	signer, err := repo.OpenSigner(context.Background(), keyDir)
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755) // apt reads the keyring as _apt
	if err := r.Publish(context.Background(), []string{deb, oldDeb, libDeb}, repo.Options{Date: time.Unix(1704067200, 0), Signer: signer}); err != nil {
		t.Fatal(err)
	}
	spec := AssembleSpec{Suite: "bookworm", Arch: "amd64", Packages: []string{"stx-assemble-test", "sensible-utils"}, ProjectRepos: []string{r.Dir()}, Epoch: 1704067200,
		RepoKeyring: repo.KeyringPath(keyDir)}
	cache := filepath.Join(dir, "cache")
	var digests []string
	for i := 0; i < 3; i++ {
		target := filepath.Join(dir, fmt.Sprintf("root%d", i))
		var log strings.Builder
		if i > 0 {
			spec.Cache = cache
		}
		start := time.Now()
		if err := Assemble(context.Background(), spec, target, &log); err != nil {
			t.Fatalf("%v\n%s", err, log.String())
		}
		t.Logf("root %d (cache %q) in %s", i, spec.Cache, time.Since(start).Round(100*time.Millisecond))
		if i > 0 {
			if entries, _ := filepath.Glob(filepath.Join(cache, "*", essentialStatus)); len(entries) != 1 {
				t.Fatalf("%d cached archive roots, want 1", len(entries))
			}
		}
		if data, err := os.ReadFile(filepath.Join(target, "usr/share/stx-test/marker")); err != nil || string(data) != "hello\n" {
			t.Fatalf("local package not installed: %v", err)
		}
		if _, err := os.Stat(filepath.Join(target, "usr/share/stx-test/sensible-utils")); err != nil {
			t.Errorf("the archive's newer sensible-utils won over the project's older one: %v", err)
		}
		if data, _ := os.ReadFile(filepath.Join(target, "var/lib/apt/extended_states")); !strings.Contains(string(data), "Package: stx-assemble-lib\n") || !strings.Contains(string(data), "Package: netbase\n") {
			t.Errorf("extended_states does not mark stx-assemble-lib and netbase as automatically installed:\n%s", data)
		}
		if _, err := os.Stat(filepath.Join(target, LocalPinFile)); err == nil {
			t.Error("the pin is left in the finished root")
		}
		d, n := treeDigest(t, target)
		t.Logf("root %d: %d entries, digest %s", i, n, d[:16])
		digests = append(digests, d)
	}
	if digests[0] != digests[1] || digests[1] != digests[2] {
		t.Errorf("assemblies differ: cold %s, layered (cache made) %s, layered (cache used) %s", digests[0][:16], digests[1][:16], digests[2][:16])
		if out, _ := exec.Command("diff", "-r", "--no-dereference", filepath.Join(dir, "root0"), filepath.Join(dir, "root2")).CombinedOutput(); len(out) > 0 {
			t.Logf("diff -r cold layered:\n%.4000s", out)
		}
		list := `cd "$1" && find . -printf '%p %M %U:%G %T@ %l\n' | sort`
		a, _ := exec.Command("sh", "-c", list, "sh", filepath.Join(dir, "root0")).Output()
		b, _ := exec.Command("sh", "-c", list, "sh", filepath.Join(dir, "root2")).Output()
		os.WriteFile("/tmp/stx-layered-cold.txt", a, 0o644)
		os.WriteFile("/tmp/stx-layered-cached.txt", b, 0o644)
		out, _ := exec.Command("diff", "/tmp/stx-layered-cold.txt", "/tmp/stx-layered-cached.txt").CombinedOutput()
		t.Logf("metadata diff cold layered:\n%.4000s", out)
	}
}

// TestFinishSources: a root assembled from the host's apt sources keeps
// none of what mmdebstrap wrote from them (they name the build machine's
// mirrors); one assembled from the project's mirror keeps the mirror's
// lines and drops only the build machine's repositories; files a package
// put in sources.list.d stay either way.
func TestFinishSources(t *testing.T) {
	files := map[string]string{
		"etc/apt/sources.list":                      "deb http://mirror.example/debian bookworm main\n",
		"etc/apt/sources.list.d/0000debian.sources": "Types: deb\nURIs: http://mirror.example/debian\nSuites: bookworm\nComponents: main\n",
		"etc/apt/sources.list.d/0001main.list":      "deb [trusted=yes] copy:///out/amd64/repo stx main\n",
		"etc/apt/sources.list.d/vendor.list":        "deb http://vendor.example/apt stable main\n",
	}
	for _, tc := range []struct {
		name   string
		mirror string
		kept   []string
	}{
		{"host sources", "", []string{"etc/apt/sources.list.d/vendor.list"}},
		{"project mirror", "http://mirror.example/debian", []string{"etc/apt/sources.list", "etc/apt/sources.list.d/0000debian.sources", "etc/apt/sources.list.d/vendor.list"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			for p, c := range files {
				os.MkdirAll(filepath.Dir(filepath.Join(root, p)), 0o755)
				if err := os.WriteFile(filepath.Join(root, p), []byte(c), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if err := finish(AssembleSpec{Mirror: tc.mirror, Epoch: 1704067200}, root); err != nil {
				t.Fatal(err)
			}
			var got []string
			for p := range files {
				if _, err := os.Lstat(filepath.Join(root, p)); err == nil {
					got = append(got, p)
				}
			}
			slices.Sort(got)
			if !slices.Equal(got, tc.kept) {
				t.Errorf("kept %q, want %q", got, tc.kept)
			}
		})
	}
}
