package buildrun_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stx-build/stx-build/builders/deb"
	"github.com/stx-build/stx-build/buildrun"
	"github.com/stx-build/stx-build/cache"
	"github.com/stx-build/stx-build/cache/buildkey"
	"github.com/stx-build/stx-build/repo"
	"github.com/stx-build/stx-build/workspace"
)

// smallProject writes n local packages gen0..gen<n-1>, each building
// libgen<i>-dev and build-depending on the one before.
func smallProject(t *testing.T, n int) string {
	t.Helper()
	dir := t.TempDir()
	write := func(rel, content string, mode os.FileMode) {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
	}
	write("stx.yaml", "name: small\nsuite: bookworm\narchitectures: [amd64]\n", 0o644)
	for i := range n {
		name := fmt.Sprintf("gen%d", i)
		bd := ""
		if i > 0 {
			bd = fmt.Sprintf("Build-Depends: libgen%d-dev\n", i-1)
		}
		pkg := "packages/" + name + "/"
		write(pkg+"package.yaml", "name: "+name+"\nsource:\n  local: src\n", 0o644)
		write(pkg+"src/debian/control", "Source: "+name+"\nMaintainer: x <x@stx-build.invalid>\n"+bd+"\nPackage: lib"+name+"-dev\nArchitecture: any\nDescription: x\n x\n", 0o644)
		write(pkg+"src/debian/changelog", name+" (1.0) bookworm; urgency=medium\n\n  * x\n\n -- x <x@stx-build.invalid>  Mon, 01 Jan 2024 00:00:00 +0000\n", 0o644)
		write(pkg+"src/debian/source/format", "3.0 (native)\n", 0o644)
		write(pkg+"src/debian/rules", "#!/usr/bin/make -f\n%:\n\ttrue\n", 0o755)
	}
	return dir
}

// fillCache stores, for each package named, a small real .deb as its
// build under the key a build of the project computes; the base root is
// made if the test cache lacks it.
func fillCache(t *testing.T, ws *workspace.Workspace, c *cache.Cache, names ...string) {
	t.Helper()
	ctx := context.Background()
	spec, err := ws.BaseSpec()
	if err != nil {
		t.Fatal(err)
	}
	base, err := ws.BaseStore().Ensure(ctx, spec, false)
	if err != nil {
		t.Fatal(err)
	}
	bi, err := buildkey.ReadBase(base)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := buildkey.New(ctx, ws, buildkey.Options{Builder: deb.Version, BuildArch: workspace.HostArch(), Base: bi, Hasher: c.Hasher()})
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	for _, name := range names {
		b, ok := keys.Build(name, "amd64")
		if !ok {
			t.Fatalf("no key for %s", name)
		}
		root := filepath.Join(tmp, name)
		control := fmt.Sprintf("Package: lib%s-dev\nSource: %s\nVersion: 1.0\nArchitecture: amd64\nMaintainer: x <x@stx-build.invalid>\nDescription: x\n x\n", name, name)
		if err := os.MkdirAll(filepath.Join(root, "DEBIAN"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, "DEBIAN", "control"), []byte(control), 0o644); err != nil {
			t.Fatal(err)
		}
		f := filepath.Join(tmp, "lib"+name+"-dev_1.0_amd64.deb")
		if out, err := exec.Command("dpkg-deb", "--root-owner-group", "-Zgzip", "--build", root, f).CombinedOutput(); err != nil {
			t.Fatalf("dpkg-deb: %v: %s", err, out)
		}
		if _, err := c.Store(ctx, b, []string{f}); err != nil {
			t.Fatal(err)
		}
	}
}

// TestPlanKnowsCache: with the artifact cache, plan predicts a restore's
// cost (well under a second) for every package whose build the cache
// holds and its estimate for the others, as the build will do (issue 22,
// item 4).
func TestPlanKnowsCache(t *testing.T) {
	needBuildHost(t)
	dir := smallProject(t, 3)
	ws, err := workspace.Open(workspace.Options{Dir: dir, CacheDir: cacheDir})
	if err != nil {
		t.Fatal(err)
	}
	c := openCache(t, t.TempDir(), "", "")
	fillCache(t, ws, c, "gen0", "gen1")
	opts := buildrun.Options{Jobs: 2, TmpfsBudget: 1 << 30, Cache: c}
	cached := planFor(t, dir, cacheDir, opts)
	opts.Cache = nil
	cold := planFor(t, dir, cacheDir, opts)
	for _, id := range []string{"gen0:amd64", "gen1:amd64"} {
		if d := cached[id].End - cached[id].Start; d > 0.1 {
			t.Errorf("%s is in the cache, planned %.2fs", id, d)
		}
		if d := cold[id].End - cold[id].Start; d < 1 {
			t.Errorf("%s without the cache planned %.2fs, want its build's estimate", id, d)
		}
	}
	if a, b := cached["gen2:amd64"].End-cached["gen2:amd64"].Start, cold["gen2:amd64"].End-cold["gen2:amd64"].Start; a != b || a < 1 {
		t.Errorf("gen2 (not cached) planned %.2fs with the cache, %.2fs without", a, b)
	}
}

// TestRestoredPublishFailure: when publishing restored builds fails, each
// fails on its own, and nothing of a package whose publish failed stays in
// OUT/<arch>/debs or the repository (issue 21, item 4). Here the pool's
// directory for g* sources is a file; the cache holds every build, so
// nothing is built.
func TestRestoredPublishFailure(t *testing.T) {
	needBuildHost(t)
	dir := smallProject(t, 2)
	ws, err := workspace.Open(workspace.Options{Dir: dir, CacheDir: cacheDir})
	if err != nil {
		t.Fatal(err)
	}
	c := openCache(t, t.TempDir(), "", "")
	fillCache(t, ws, c, "gen0", "gen1")
	out := filepath.Join(dir, "out")
	r, err := repo.Open(filepath.Join(out, "amd64", "repo"), "amd64")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(r.Dir(), "pool", "main"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(r.Dir(), "pool", "main", "g"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, err = build(t, dir, buildrun.Options{OutDir: out, Jobs: 2, KeepGoing: true, Cache: c})
	var be *buildrun.BuildError
	if !errors.As(err, &be) || !slices.Contains(be.Failed, "gen0:amd64") {
		t.Fatalf("build: %v, want gen0:amd64 failed", err)
	}
	if entries, _ := os.ReadDir(filepath.Join(out, "amd64", "debs")); len(entries) > 0 {
		t.Errorf("OUT/amd64/debs holds %v after its packages failed to publish", entries)
	}
	if ps, err := r.Packages(); err != nil || len(ps) > 0 {
		t.Errorf("repository lists %v (%v)", ps, err)
	}

	// Fixed, the next run restores and publishes both, and a run after
	// that finds nothing to do.
	if err := os.Remove(filepath.Join(r.Dir(), "pool", "main", "g")); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		res, _, err := build(t, dir, buildrun.Options{OutDir: out, Jobs: 2, Cache: c})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Builds) != 0 {
			t.Errorf("built %v, want everything restored", builtNames(res))
		}
		if ps, err := r.Packages(); err != nil || len(ps) != 2 {
			t.Errorf("repository lists %v (%v), want both", ps, err)
		}
	}
}
