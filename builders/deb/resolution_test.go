package deb

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stx-build/stx-build/ramdisk"
	"github.com/stx-build/stx-build/repo"
	"github.com/stx-build/stx-build/rootfs"
	"github.com/stx-build/stx-build/runner"
	"github.com/stx-build/stx-build/store"
)

// TestResolutionKey: the key of a cached resolution changes with every
// input apt reads (a new project package version in a local repository,
// the lock, the archive's Release files, the base, the keyring, the
// script, the relations that apply) and not with what it does not read
// (a rebuild's bytes, a relation of another architecture or profile).
func TestResolutionKey(t *testing.T) {
	if _, err := exec.LookPath("dpkg-deb"); err != nil {
		t.Skip("no dpkg-deb")
	}
	dir := t.TempDir()
	write := func(path, data string) { writeFile(t, path, data) }
	base := filepath.Join(dir, "base")
	inRelease := filepath.Join(base, "var/lib/apt/lists/mirror_debian_dists_bookworm_InRelease")
	write(inRelease, "Suite: bookworm\nDate: 1\n")
	keyring := filepath.Join(dir, "key", "repo.gpg")
	write(keyring, "key 1")
	srcDir := filepath.Join(dir, "src")
	control := filepath.Join(srcDir, "debian", "control")
	const plainControl = "Source: foo\nBuild-Depends: debhelper-compat (= 13), libstx-dev\n\nPackage: foo\nArchitecture: any\n"
	write(control, plainControl)
	r, err := repo.Open(filepath.Join(dir, "repo"), "amd64")
	if err != nil {
		t.Fatal(err)
	}
	publish := func(control string) {
		t.Helper()
		d := t.TempDir()
		if err := r.Publish(t.Context(), []string{makeDeb(t, d, control)}, repo.Options{Date: time.Unix(1, 0)}); err != nil {
			t.Fatal(err)
		}
	}

	b := &Builder{
		Base:     &rootfs.Base{Key: "base-1", Dir: base, Spec: rootfs.Spec{Suite: "bookworm", Arch: "amd64"}},
		HostArch: "amd64", LayerDir: filepath.Join(dir, "cache", "layers"),
	}
	req := Request{Package: Package{Name: "foo", Version: "1.0"}, Arch: "amd64", Parts: "any",
		Repos: map[string]*repo.Repo{"amd64": r}, RepoKeyring: keyring}
	script := "apt-get build-dep -s /build/foo-1.0\n"
	key := func() string {
		t.Helper()
		releases, err := baseReleases(base)
		if err != nil {
			t.Fatal(err)
		}
		in, err := b.resolveInputs(req, srcDir, script, releases)
		if err != nil {
			t.Fatal(err)
		}
		return in.key()
	}
	const lib = "Package: libstx-dev\nVersion: 1.0\nArchitecture: amd64\nMaintainer: t <t@stx-build.invalid>\nDescription: t\n"
	steps := []struct {
		name    string
		change  func()
		changed bool
	}{
		{"nothing", func() {}, false},
		{"a project package published", func() { publish(lib) }, true},
		{"the same package rebuilt", func() { publish(lib + "Installed-Size: 9\n") }, false},
		{"a new version of it", func() {
			publish(lib[:len("Package: libstx-dev\n")] + "Version: 1.1\n" + lib[len("Package: libstx-dev\nVersion: 1.0\n"):])
		}, true},
		{"a lock", func() {
			b.Lock = &store.Lock{Sets: []*store.LockSet{{Suite: "bookworm", Arch: "amd64",
				Packages: []store.LockedPackage{{Name: "debhelper", Version: "13.11", Arch: "all", SHA256: "aa", Size: 1}}}}}
		}, true},
		{"a changed lock", func() { b.Lock.Sets[0].Packages[0].Version = "13.12" }, true},
		{"the archive's Release", func() { write(inRelease, "Suite: bookworm\nDate: 2\n") }, true},
		{"another base", func() { b.Base.Key = "base-2" }, true},
		{"another keyring", func() { write(keyring, "key 2") }, true},
		{"another script", func() { script += "# pinned\n" }, true},
		{"a test dependency with nocheck", func() {
			req.Package.Profiles = []string{"nocheck"}
			write(control, "Source: foo\nBuild-Depends: debhelper-compat (= 13), libstx-dev, check <!nocheck>\n\nPackage: foo\nArchitecture: any\n")
		}, false},
		{"the test dependency without nocheck", func() { req.Package.Profiles = nil }, true},
		{"an arm64-only dependency", func() {
			write(control, "Source: foo\nBuild-Depends: debhelper-compat (= 13), libstx-dev, check <!nocheck>, libarm [arm64]\nBuild-Depends-Indep: sphinx\n\nPackage: foo\nArchitecture: any\n")
		}, false},
		{"Build-Depends-Indep read for -b", func() { req.Parts = "both" }, true},
		{"a build conflict", func() {
			write(control, "Source: foo\nBuild-Depends: debhelper-compat (= 13), libstx-dev, check <!nocheck>, libarm [arm64]\nBuild-Depends-Indep: sphinx\nBuild-Conflicts: libbad\n\nPackage: foo\nArchitecture: any\n")
		}, true},
	}
	prev := key()
	seen := map[string]string{prev: "start"}
	for _, s := range steps {
		s.change()
		k := key()
		if got := k != prev; got != s.changed {
			t.Errorf("%s: key changed %v, want %v", s.name, got, s.changed)
		}
		if other, ok := seen[k]; ok && s.changed {
			t.Errorf("%s: the key of %s again", s.name, other)
		}
		seen[k] = s.name
		prev = k
	}
}

func TestBuildRelations(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "control")
	data := "Source: foo\nBuild-Depends: debhelper-compat (= 13),\n libfoo [amd64] | libbar,\n check <!nocheck>\nBuild-Depends-Arch: gcc-x [arm64]\nBuild-Depends-Indep: sphinx\nBuild-Conflicts: bad\nBuild-Conflicts-Indep: worse\n\nPackage: foo\nArchitecture: any\n"
	if err := os.WriteFile(file, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		arch, parts string
		prof        []string
		want        []string
	}{
		{"amd64", "both", nil, []string{"Build-Depends: debhelper-compat (= 13)", "Build-Depends: libfoo | libbar", "Build-Depends: check",
			"Build-Depends-Indep: sphinx", "Build-Conflicts: bad", "Build-Conflicts-Indep: worse"}},
		{"amd64", "any", []string{"nocheck"}, []string{"Build-Depends: debhelper-compat (= 13)", "Build-Depends: libfoo | libbar", "Build-Conflicts: bad"}},
		{"arm64", "all", nil, []string{"Build-Depends: debhelper-compat (= 13)", "Build-Depends: libbar", "Build-Depends: check",
			"Build-Depends-Indep: sphinx", "Build-Conflicts: bad", "Build-Conflicts-Indep: worse"}},
		{"arm64", "any", []string{"cross", "nocheck"}, []string{"Build-Depends: debhelper-compat (= 13)", "Build-Depends: libbar",
			"Build-Depends-Arch: gcc-x", "Build-Conflicts: bad"}},
	} {
		got, err := buildRelations(file, tc.arch, tc.prof, tc.parts)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s %s %v:\n got %q\nwant %q", tc.arch, tc.parts, tc.prof, got, tc.want)
		}
	}
	// A field the relation parser does not take is kept as written.
	if err := os.WriteFile(file, []byte("Source: foo\nBuild-Depends: a [amd64\n\nPackage: foo\nArchitecture: any\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := buildRelations(file, "amd64", nil, "any")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"Build-Depends as written: a [amd64"}; !reflect.DeepEqual(got, want) {
		t.Errorf("unparsable field: got %q, want %q", got, want)
	}
}

// fakeResolver is a runner whose every run prints out, as the resolve
// step's apt would.
type fakeResolver struct {
	runs int
	out  string
}

func (f *fakeResolver) Run(ctx context.Context, spec *runner.Spec) error {
	f.runs++
	_, err := io.WriteString(spec.Stdout, f.out)
	return err
}

func (f *fakeResolver) Usable(context.Context) error { return nil }

// TestResolutionCache: a resolution is run once and then read from the
// cache while its inputs stay; a changed relation runs it again, and so
// does STX_NO_RESOLVE_CACHE; a debian/control the strict reader refuses
// only means no caching.
func TestResolutionCache(t *testing.T) {
	dir := t.TempDir()
	write := func(path, data string) { writeFile(t, path, data) }
	base := filepath.Join(dir, "base")
	write(filepath.Join(base, "var/lib/apt/lists/mirror_debian_dists_bookworm_InRelease"), "Suite: bookworm\n")
	slot := &ramdisk.Slot{Name: "foo_1.0_amd64", Dir: filepath.Join(dir, "slot")}
	control := filepath.Join(slot.Dir, "build", "foo-1.0", "debian", "control")
	write(control, "Source: foo\nBuild-Depends: libbar-dev\n\nPackage: foo\nArchitecture: any\n")
	sum := strings.Repeat("ab", 32)
	fake := &fakeResolver{out: "Reading package lists...\nInst libbar-dev (1.0 Debian:12/stable [amd64])\n" +
		"'http://mirror.invalid/pool/libbar-dev_1.0_amd64.deb' libbar-dev_1.0_amd64.deb 10 SHA256:" + sum + "\n"}
	b := &Builder{
		Runner: fake, HostArch: "amd64", LayerDir: filepath.Join(dir, "cache", "layers"),
		Base: &rootfs.Base{Key: "base-1", Dir: base, Spec: rootfs.Spec{Suite: "bookworm", Arch: "amd64"}},
	}
	req := Request{Package: Package{Name: "foo", Version: "1.0"}, Arch: "amd64", Parts: "any"}
	releases, err := baseReleases(base)
	if err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	resolve := func(wantRuns int, wantCached bool) {
		t.Helper()
		ds, err := b.resolution(t.Context(), slot, req, "foo-1.0", "apt-get build-dep ...\n", releases, nil, &log)
		if err != nil {
			t.Fatal(err)
		}
		if fake.runs != wantRuns || ds.Cached != wantCached {
			t.Errorf("resolve step ran %d times, cached %v; want %d, %v", fake.runs, ds.Cached, wantRuns, wantCached)
		}
		if want := []string{"libbar-dev 1.0"}; !reflect.DeepEqual(ds.Inst, want) {
			t.Errorf("set %q, want %q", ds.Inst, want)
		}
		if len(ds.Fetch) != 1 || ds.Fetch[0].SHA256 != sum || ds.Fetch[0].Size != 10 {
			t.Errorf("downloads %+v", ds.Fetch)
		}
	}
	resolve(1, false)
	resolve(1, true)
	t.Setenv(NoResolveCacheEnv, "1")
	resolve(2, false)
	t.Setenv(NoResolveCacheEnv, "")
	write(control, "Source: foo\nBuild-Depends: libbar-dev, libbaz-dev\n\nPackage: foo\nArchitecture: any\n")
	resolve(3, false)
	resolve(3, true)
	write(control, "Source: foo\nnot a field\n")
	resolve(4, false)
	resolve(5, false)
	if !strings.Contains(log.String(), "build-deps resolution not cached") {
		t.Errorf("log does not say why the resolution was not cached:\n%s", log.String())
	}
}

// writeFile writes data to path, making its directories.
func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}
