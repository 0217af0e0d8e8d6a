package buildkey_test

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stx-build/stx-build/cache"
	"github.com/stx-build/stx-build/cache/buildkey"
	"github.com/stx-build/stx-build/cache/filehash"
	"github.com/stx-build/stx-build/rootfs"
	"github.com/stx-build/stx-build/workspace"
)

var testBase = buildkey.Base{Key: "base-key", Archive: "archive-digest"}

// copyExample copies the example project, without the package fetched from
// the archive (keys of local packages need no network), to a new directory.
func copyExample(t testing.TB) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "project")
	src := filepath.Join("..", "..", "examples")
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if rel == filepath.Join("packages", "hello") {
			return filepath.SkipDir
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, info.Mode().Perm())
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

func plan(t testing.TB, dir string, mod func(*buildkey.Options)) *buildkey.Plan {
	t.Helper()
	ws, err := workspace.Open(workspace.Options{Dir: dir, CacheDir: t.TempDir(), HostArch: "amd64"})
	if err != nil {
		t.Fatal(err)
	}
	opts := buildkey.Options{Builder: "1", BuildArch: "amd64", Base: testBase}
	if mod != nil {
		mod(&opts)
	}
	p, err := buildkey.New(context.Background(), ws, opts)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func keys(p *buildkey.Plan) map[string]cache.Key {
	m := map[string]cache.Key{}
	for _, b := range p.Builds() {
		m[b.Package+"/"+b.Arch] = b.Key
	}
	return m
}

func TestExampleBuilds(t *testing.T) {
	p := plan(t, copyExample(t), nil)
	var ids []string
	for _, b := range p.Builds() {
		ids = append(ids, b.Package+"/"+b.Arch)
		if !b.Key.Valid() || b.Version != "1.0" {
			t.Errorf("%s: %+v", b.Package, b)
		}
	}
	want := []string{
		"libstx/amd64", "libstx/arm64", "stx-bootmarker/amd64", "stx-docs/amd64",
		"stx-hello/amd64", "stx-hello/arm64", "stx-tools/amd64", "stx-tools/arm64",
	}
	if fmt.Sprint(ids) != fmt.Sprint(want) {
		t.Fatalf("builds %v, want %v", ids, want)
	}
	if _, ok := p.Build("stx-docs", "arm64"); ok {
		t.Error("an Architecture: all package has a build on the second architecture")
	}

	// What each build's key takes from its dependencies.
	deps := func(pkg, arch string) []string {
		b, _ := p.Build(pkg, arch)
		var out []string
		for _, in := range b.Inputs {
			if in.Kind == cache.KindDep {
				out = append(out, in.Name)
			}
		}
		return out
	}
	for _, tc := range []struct {
		pkg, arch string
		want      []string
	}{
		{"libstx", "amd64", nil},
		{"stx-hello", "amd64", []string{"libstx/amd64"}},
		{"stx-tools", "amd64", []string{"libstx/amd64", "stx-hello/amd64"}},
		{"stx-docs", "amd64", []string{"stx-hello/amd64"}},
		// Cross builds may install the build machine's tools.
		{"stx-hello", "arm64", []string{"libstx/amd64", "libstx/arm64"}},
		{"stx-tools", "arm64", []string{"libstx/amd64", "libstx/arm64"}},
	} {
		if got := deps(tc.pkg, tc.arch); fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("%s/%s deps %v, want %v", tc.pkg, tc.arch, got, tc.want)
		}
	}
	b, _ := p.Build("stx-hello", "arm64")
	if !slices.Contains(b.Inputs, cache.Input{Kind: cache.KindBuild, Name: "profiles", Value: "cross,nocheck"}) {
		t.Errorf("cross build profiles missing: %v", b.Inputs)
	}
}

func TestKeysDoNotDependOnTheCheckout(t *testing.T) {
	a := keys(plan(t, copyExample(t), nil))
	dir := copyExample(t)
	// A VCS directory, other permissions, other mtimes: none reach a build.
	os.MkdirAll(filepath.Join(dir, "packages", "libstx", "src", ".git"), 0o755)
	os.WriteFile(filepath.Join(dir, "packages", "libstx", "src", ".git", "HEAD"), []byte("x"), 0o644)
	os.Chmod(filepath.Join(dir, "packages", "libstx", "src", "stx.c"), 0o600)
	b := keys(plan(t, dir, func(o *buildkey.Options) { o.Hasher = filehash.New(t.TempDir()) }))
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Fatalf("keys differ between checkouts:\n%v\n%v", a, b)
	}
}

func TestChangesInvalidateExactlyTheDependents(t *testing.T) {
	ref := keys(plan(t, copyExample(t), nil))
	all := slices.Sorted(func(yield func(string) bool) {
		for id := range ref {
			if !yield(id) {
				return
			}
		}
	})
	libstxAndUsers := []string{
		"libstx/amd64", "libstx/arm64", "stx-docs/amd64", "stx-hello/amd64",
		"stx-hello/arm64", "stx-tools/amd64", "stx-tools/arm64",
	}
	edit := func(rel, old, new string) func(t *testing.T, dir string) {
		return func(t *testing.T, dir string) {
			p := filepath.Join(dir, rel)
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if old == "" {
				data = append(data, new...)
			} else if !bytes.Contains(data, []byte(old)) {
				t.Fatalf("%s has no %q", rel, old)
			} else {
				data = bytes.Replace(data, []byte(old), []byte(new), 1)
			}
			if err := os.WriteFile(p, data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	tests := []struct {
		name    string
		change  func(t *testing.T, dir string)
		opts    func(*buildkey.Options)
		changed []string
	}{
		{"nothing", func(*testing.T, string) {}, nil, nil},
		{"library source", edit("packages/libstx/src/stx.c", "", "\n/* changed */\n"), nil, libstxAndUsers},
		{"library changelog", edit("packages/libstx/src/debian/changelog", "Initial release", "First release"), nil, libstxAndUsers},
		{"program source", edit("packages/stx-hello/src/stx-hello.c", "", "\n"), nil,
			[]string{"stx-docs/amd64", "stx-hello/amd64", "stx-hello/arm64", "stx-tools/amd64"}},
		{"bootmarker file", edit("packages/stx-bootmarker/src/Makefile", "", "\n"), nil, []string{"stx-bootmarker/amd64"}},
		{"exec bit", func(t *testing.T, dir string) {
			os.Chmod(filepath.Join(dir, "packages/stx-bootmarker/src/Makefile"), 0o755)
		}, nil, []string{"stx-bootmarker/amd64"}},
		{"new file", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, "packages/stx-tools/src/NEWS"), []byte("news\n"), 0o644)
		}, nil, []string{"stx-tools/amd64", "stx-tools/arm64"}},
		{"manifest comment", edit("packages/libstx/package.yaml", "", "# a comment\n"), nil, nil},
		{"manifest scheduling settings", edit("packages/libstx/package.yaml", "estimate: 30s", "estimate: 5m\n  jobs: 1\n  serial: true\n  tmpfs: disk"), nil, nil},
		{"manifest nocheck", edit("packages/stx-tools/package.yaml", "estimate: 30s", "estimate: 30s\n  nocheck: true"), nil,
			[]string{"stx-tools/amd64", "stx-tools/arm64"}},
		{"patch", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, "packages/stx-bootmarker/fix.patch"), []byte("--- a\n+++ b\n"), 0o644)
			edit("packages/stx-bootmarker/package.yaml", "", "patches: [fix.patch]\n")(t, dir)
		}, nil, []string{"stx-bootmarker/amd64"}},
		{"archive state", func(*testing.T, string) {}, func(o *buildkey.Options) { o.Base.Archive = "newer" }, all},
		{"base root", func(*testing.T, string) {}, func(o *buildkey.Options) { o.Base.Key = "other" }, all},
		{"builder version", func(*testing.T, string) {}, func(o *buildkey.Options) { o.Builder = "2" }, all},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := copyExample(t)
			tc.change(t, dir)
			got := keys(plan(t, dir, tc.opts))
			var changed []string
			for _, id := range all {
				if got[id] != ref[id] {
					changed = append(changed, id)
				}
			}
			if fmt.Sprint(changed) != fmt.Sprint(tc.changed) {
				t.Errorf("changed %v\nwant    %v", changed, tc.changed)
			}
		})
	}
}

func TestProjectProfilesAreInputs(t *testing.T) {
	dir := copyExample(t)
	ref := keys(plan(t, dir, nil))
	ws, err := workspace.Open(workspace.Options{Dir: dir, CacheDir: t.TempDir(), HostArch: "amd64", Profiles: []string{"nocheck"}})
	if err != nil {
		t.Fatal(err)
	}
	p, err := buildkey.New(context.Background(), ws, buildkey.Options{Builder: "1", BuildArch: "amd64", Base: testBase})
	if err != nil {
		t.Fatal(err)
	}
	for id, k := range keys(p) {
		if ref[id] == k {
			t.Errorf("%s: key unchanged by --profile nocheck", id)
		}
	}
}

func TestOptionsRequired(t *testing.T) {
	ws, err := workspace.Open(workspace.Options{Dir: copyExample(t), CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range []buildkey.Options{{Base: testBase}, {Builder: "1"}} {
		if _, err := buildkey.New(context.Background(), ws, o); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
}

func TestArchiveDigest(t *testing.T) {
	root := t.TempDir()
	if d, err := buildkey.ArchiveDigest(root); err != nil || d != "none" {
		t.Fatalf("no lists: %q %v", d, err)
	}
	lists := filepath.Join(root, "var", "lib", "apt", "lists")
	os.MkdirAll(lists, 0o755)
	os.WriteFile(filepath.Join(lists, "mirror_debian_dists_bookworm_InRelease"), []byte("Date: 1\n"), 0o644)
	os.WriteFile(filepath.Join(lists, "mirror_debian_dists_bookworm_main_binary-amd64_Packages"), []byte("huge"), 0o644)
	a, _ := buildkey.ArchiveDigest(root)
	os.WriteFile(filepath.Join(lists, "mirror_debian_dists_bookworm_main_binary-amd64_Packages"), []byte("other"), 0o644)
	b, _ := buildkey.ArchiveDigest(root)
	os.WriteFile(filepath.Join(lists, "mirror_debian_dists_bookworm_InRelease"), []byte("Date: 2\n"), 0o644)
	c, _ := buildkey.ArchiveDigest(root)
	if a == "none" || a != b || a == c {
		t.Errorf("digests %s %s %s: want a == b (indexes are pinned by Release) != c", a, b, c)
	}
}

// A base made from a lock takes the lock's digest as its archive state:
// the archive's (or the locked repositories') Release files changing
// does not change it.
func TestReadBaseLocked(t *testing.T) {
	root := t.TempDir()
	lists := filepath.Join(root, "var", "lib", "apt", "lists")
	os.MkdirAll(lists, 0o755)
	release := filepath.Join(lists, "_cache_locked-repos_0123_amd64_dists_stx_InRelease")
	os.WriteFile(release, []byte("signed by one cache's key\n"), 0o644)
	b := &rootfs.Base{Key: "k", Dir: root, Spec: rootfs.Spec{Suite: "bookworm", Locked: "abc"}}
	one, err := buildkey.ReadBase(b)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(release, []byte("signed by another cache's key\n"), 0o644)
	two, _ := buildkey.ReadBase(b)
	b.Spec.Locked = ""
	unlocked, _ := buildkey.ReadBase(b)
	if one.Archive != "stx.lock abc" || two != one || unlocked.Archive == one.Archive {
		t.Errorf("locked %+v, re-signed %+v, unlocked %+v", one, two, unlocked)
	}
}

// TestExplain stores the builds of the example, changes the library's
// source, and asks why its users are rebuilt.
func TestExplain(t *testing.T) {
	ctx := context.Background()
	dir := copyExample(t)
	c, err := cache.Open(cache.Options{Dir: filepath.Join(t.TempDir(), "artifacts")})
	if err != nil {
		t.Fatal(err)
	}
	store := func(p *buildkey.Plan) {
		for _, b := range p.Builds() {
			f := filepath.Join(t.TempDir(), b.Package+"_"+b.Version+"_"+b.Arch+".deb")
			os.WriteFile(f, []byte(b.Key), 0o644)
			if _, err := c.Store(ctx, b, []string{f}); err != nil {
				t.Fatal(err)
			}
		}
	}
	explain := func(p *buildkey.Plan, pkg string) string {
		b, _ := p.Build(pkg, "amd64")
		x, err := c.Explain(ctx, b, p.Current)
		if err != nil {
			t.Fatal(err)
		}
		var out strings.Builder
		x.Write(&out)
		return out.String()
	}
	p1 := plan(t, dir, nil)
	if got := explain(p1, "stx-tools"); !strings.Contains(got, "no earlier build of this package is recorded") {
		t.Errorf("first build:\n%s", got)
	}
	store(p1)
	if got := explain(p1, "stx-tools"); !strings.Contains(got, "not rebuilt: nothing changed since the last build") {
		t.Errorf("no-op:\n%s", got)
	}

	os.WriteFile(filepath.Join(dir, "packages/libstx/src/stx.c"), []byte("int changed;\n"), 0o644)
	p2 := plan(t, dir, nil)
	got := explain(p2, "stx-tools")
	t.Logf("\n%s", got)
	for _, want := range []string{
		"stx-tools 1.0 (amd64)",
		"rebuilt",
		"build-dependency libstx/amd64 changed",
		"build-dependency stx-hello/amd64 changed",
		"libstx 1.0 (amd64)",
		"source file stx.c changed (content)",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("explanation lacks %q", want)
		}
	}
	if got := explain(p2, "stx-bootmarker"); !strings.Contains(got, "nothing changed") {
		t.Errorf("unrelated package:\n%s", got)
	}
	store(p2)
	// Back to the first source: the first builds are still cached.
	os.WriteFile(filepath.Join(dir, "packages/libstx/src/stx.c"), mustRead(t, filepath.Join("..", "..", "examples", "packages/libstx/src/stx.c")), 0o644)
	p3 := plan(t, dir, nil)
	if got := explain(p3, "libstx"); !strings.Contains(got, "restored from the local cache") || !strings.Contains(got, "source file stx.c changed") {
		t.Errorf("revert:\n%s", got)
	}
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
