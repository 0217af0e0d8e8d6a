package deb

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stx-build/stx-build/ramdisk"
	"github.com/stx-build/stx-build/rootfs"
	"github.com/stx-build/stx-build/runner"
)

const testDSC = `Format: 3.0 (quilt)
Source: foo
Version: 1.0-1
Checksums-Sha256:
 aaaa000000000000000000000000000000000000000000000000000000000000 100 foo_1.0.orig.tar.gz
 bbbb000000000000000000000000000000000000000000000000000000000000 20 foo_1.0-1.debian.tar.xz
Files:
 00 100 foo_1.0.orig.tar.gz
`

// TestSourceTreeKey: the key of a cached source tree changes with what
// the tree is made of (the .dsc, the files it lists, each patch's
// content and their order, the directory, the base, the script) and not
// with what it is not (the build's architecture, profiles, parallelism,
// the patches' names, the source's path).
func TestSourceTreeKey(t *testing.T) {
	dir := t.TempDir()
	write := func(path, data string) { writeFile(t, path, data) }
	type inputs struct {
		base, dsc, dir, script string
		patches                []string
	}
	ref := inputs{base: "base-1", dsc: testDSC, dir: "foo-1.0", script: "dpkg-source -x foo_1.0-1.dsc\npatch 000\npatch 001\n",
		patches: []string{"--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n", "--- a/y\n+++ b/y\n"}}
	n := 0
	key := func(in inputs, where string) string {
		t.Helper()
		n++
		d := filepath.Join(dir, where, strings.Repeat("x", n%3))
		dsc := filepath.Join(d, "foo_1.0-1.dsc")
		write(dsc, in.dsc)
		var patches []string
		for i, p := range in.patches {
			f := filepath.Join(d, "patches", patchName(i))
			write(f, p)
			patches = append(patches, f)
		}
		b := &Builder{Base: &rootfs.Base{Key: in.base}, LayerDir: filepath.Join(dir, "cache", "layers")}
		si, err := b.sourceInputs(dsc, patches, in.dir, in.script)
		if err != nil {
			t.Fatal(err)
		}
		return si.key()
	}
	want := key(ref, "ref")
	for _, tc := range []struct {
		name    string
		change  func(in *inputs)
		changes bool
	}{
		{"nothing, another path", func(*inputs) {}, false},
		{"a patch's content", func(in *inputs) { in.patches = []string{ref.patches[0] + "+c\n", ref.patches[1]} }, true},
		{"the patches' order", func(in *inputs) { in.patches = []string{ref.patches[1], ref.patches[0]} }, true},
		{"a patch less", func(in *inputs) { in.patches = ref.patches[:1] }, true},
		{"the .dsc", func(in *inputs) { in.dsc = strings.Replace(testDSC, "Files:", "Homepage: x\nFiles:", 1) }, true},
		{"a listed file's digest", func(in *inputs) { in.dsc = strings.Replace(testDSC, "bbbb", "bbbc", 1) }, true},
		{"the directory", func(in *inputs) { in.dir = "foo-1.1" }, true},
		{"the base", func(in *inputs) { in.base = "base-2" }, true},
		{"the script", func(in *inputs) { in.script += "true\n" }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := ref
			in.patches = append([]string(nil), ref.patches...)
			tc.change(&in)
			if got := key(in, tc.name); (got != want) != tc.changes {
				t.Errorf("key changed: %v, want %v", got != want, tc.changes)
			}
		})
	}

	// Nothing of the request but the source reaches the key.
	b := &Builder{Base: &rootfs.Base{Key: "base-1"}, LayerDir: filepath.Join(dir, "cache", "layers"), HostArch: "amd64"}
	dsc := filepath.Join(dir, "req", "foo_1.0-1.dsc")
	write(dsc, testDSC)
	var keys []string
	for _, req := range []Request{
		{Arch: "amd64", Parts: "any", Package: Package{Name: "foo", Version: "1.0-1", DSC: dsc}},
		{Arch: "arm64", Parts: "both", Package: Package{Name: "foo", Version: "1.0-1", DSC: dsc, Jobs: 4, Profiles: []string{"nocheck"}}},
	} {
		slot := &ramdisk.Slot{Dir: t.TempDir()}
		_, pdir, err := patchScript(slot, nil, "foo-1.0")
		if err != nil {
			t.Fatal(err)
		}
		si, err := b.sourceInputs(req.Package.DSC, patchFiles(pdir, 0), "foo-1.0", "dpkg-source -x")
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, si.key())
	}
	if keys[0] != keys[1] {
		t.Errorf("the build's architecture, parts, jobs or profiles changed the key")
	}

	write(dsc, "Source: foo\nVersion: 1.0-1\n")
	if _, err := b.sourceInputs(dsc, nil, "foo-1.0", "x"); err == nil {
		t.Errorf("a .dsc without Checksums-Sha256 gave a key")
	}
}

// fakeUnpacker stands for the sandbox of the unpack step: it makes a
// small tree (a file, an executable, a symlink, a subdirectory, set
// times) at dst.
type fakeUnpacker struct {
	dst  string
	runs int
}

func (f *fakeUnpacker) Run(ctx context.Context, spec *runner.Spec) error {
	f.runs++
	files := map[string]string{"debian/changelog": "foo (1.0-1) unstable; urgency=medium\n", "configure": "#!/bin/sh\n", "src/a.c": "int a;\n"}
	for name, data := range files {
		p := filepath.Join(f.dst, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			return err
		}
	}
	if err := os.Chmod(filepath.Join(f.dst, "configure"), 0o755); err != nil {
		return err
	}
	if err := os.Symlink("src/a.c", filepath.Join(f.dst, "a.c")); err != nil {
		return err
	}
	when := time.Unix(1_600_000_000, 123)
	for _, name := range []string{"debian/changelog", "configure", "src/a.c", "src", "debian", "."} {
		if err := os.Chtimes(filepath.Join(f.dst, name), when, when); err != nil {
			return err
		}
	}
	return chownTree(f.dst, rootfs.BuildUID, rootfs.BuildGID)
}

func (f *fakeUnpacker) Usable(context.Context) error { return nil }

// TestSourceTreeCache: a .dsc's tree is unpacked once and then copied
// from the cache, the same tree (modes, times, owners, symlinks); a
// build writing into its copy leaves the cache alone; a tampered entry
// is refused and removed, and STX_NO_SOURCE_CACHE unpacks anew.
func TestSourceTreeCache(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to keep the build user's ownership")
	}
	dir := t.TempDir()
	dsc := filepath.Join(dir, "src", "foo_1.0-1.dsc")
	writeFile(t, dsc, testDSC)
	fake := &fakeUnpacker{}
	b := &Builder{Runner: fake, Base: &rootfs.Base{Key: "base-1", Dir: filepath.Join(dir, "base")},
		HostArch: "amd64", LayerDir: filepath.Join(dir, "cache", "layers")}
	req := Request{Arch: "amd64", Parts: "any", Package: Package{Name: "foo", Version: "1.0-1", DSC: dsc}}
	var log strings.Builder
	unpack := func(wantRuns int, wantCached bool) string {
		t.Helper()
		slot := &ramdisk.Slot{Dir: t.TempDir()}
		fake.dst = filepath.Join(slot.Dir, "build", "foo-1.0")
		if err := os.Mkdir(filepath.Dir(fake.dst), 0o755); err != nil { // as prepare does
			t.Fatal(err)
		}
		cached, err := b.unpack(t.Context(), slot, req, "foo-1.0", &log)
		if err != nil {
			t.Fatal(err)
		}
		if fake.runs != wantRuns || cached != wantCached {
			t.Errorf("unpack ran %d times, cached %v; want %d, %v\n%s", fake.runs, cached, wantRuns, wantCached, log.String())
		}
		return fake.dst
	}
	first := unpack(1, false)
	second := unpack(1, true)
	if a, b := treeListing(t, first), treeListing(t, second); a != b {
		t.Errorf("cached tree differs:\n%s\nvs\n%s", a, b)
	}
	// The build writes into its tree: the next copy is the cached one.
	writeFile(t, filepath.Join(second, "src", "a.c"), "changed by the build\n")
	third := unpack(1, true)
	if got, _ := os.ReadFile(filepath.Join(third, "src", "a.c")); string(got) != "int a;\n" {
		t.Errorf("a build's write reached the cache: %q", got)
	}

	entries, _ := filepath.Glob(filepath.Join(dir, "cache", "source-trees", "*", "tree", "src", "a.c"))
	if len(entries) != 1 {
		t.Fatalf("cache entries: %q", entries)
	}
	if err := os.WriteFile(entries[0], []byte("int b;\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	unpack(2, false) // refused, unpacked, cached again
	if !strings.Contains(log.String(), "not used") {
		t.Errorf("log does not say the tampered entry was refused:\n%s", log.String())
	}
	unpack(2, true)
	t.Setenv(NoSourceCacheEnv, "1")
	unpack(3, false)
}

// treeListing describes every entry of the tree at dir: path, mode,
// owner, mtime, content or link target.
func treeListing(t *testing.T, dir string) string {
	t.Helper()
	var sb strings.Builder
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		var what string
		switch {
		case fi.Mode()&os.ModeSymlink != 0:
			what, _ = os.Readlink(p)
		case fi.Mode().IsRegular():
			data, _ := os.ReadFile(p)
			what = strings.TrimSpace(string(data))
		}
		st := fi.Sys().(*syscall.Stat_t)
		fmt.Fprintf(&sb, "%s %s %s %d:%d %s\n", rel, fi.Mode(), fi.ModTime().UTC().Format(time.RFC3339Nano), st.Uid, st.Gid, what)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return sb.String()
}
