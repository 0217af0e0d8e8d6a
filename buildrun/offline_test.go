package buildrun_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stx-build/stx-build/buildrun"
	"github.com/stx-build/stx-build/internal/netns"
	"github.com/stx-build/stx-build/store"
	"github.com/stx-build/stx-build/workspace"
)

// offlineChildEnv names the project directory in the child of
// TestLockedOffline that builds inside a network namespace.
const offlineChildEnv = "STX_TEST_OFFLINE_PROJECT"

// simulatedPackages are what TestSimulateEqualsBuilds resolves: a
// library and its user, native on amd64 and cross for arm64.
var simulatedPackages = []string{"libstx", "stx-hello"}

// TestLockedOffline (issue 17's done-when): every package of the example
// (hello from the Debian archive among them) built for amd64 and arm64
// from examples/stx.lock (or, when none is committed, from a lock
// recorded by an unlocked build), with the base root made from the locked
// packages only, and then built again in a network namespace that has no
// network at all (only lo), with --offline (the locked packages from the
// store, hello's source from the cache, nothing downloaded): every .deb
// bit-identical. The image and ISO tests build those from the lock
// offline too (builders/image, builders/iso).
func TestLockedOffline(t *testing.T) {
	needBuildHost(t)
	if dir := os.Getenv(offlineChildEnv); dir != "" {
		offlineChild(t, dir)
		return
	}
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("unshare (util-linux) not installed")
	}
	dir := copyProject(t, t.TempDir(), true)
	if _, err := os.Stat(filepath.Join(dir, store.LockFile)); err != nil {
		// No committed examples/stx.lock: lock the packages as stx-build
		// lock does (build unlocked, record the build-dependency sets
		// and the base root's packages).
		recordLock(t, dir)
	}
	online := filepath.Join(dir, "out-online")
	if err := buildLocked(t, dir, online, false); err != nil {
		t.Fatal(err)
	}
	want := debDigests(t, online)

	if err := netns.Rerun("TestLockedOffline", offlineChildEnv+"="+dir, "STX_TEST_CACHE="+cacheDir); err != nil {
		t.Fatal(err)
	}
	got := debDigests(t, filepath.Join(dir, "out-offline"))
	if len(got) != len(want) {
		t.Errorf("online %d .debs, offline %d", len(want), len(got))
	}
	for f, sum := range want {
		if got[f] != sum {
			t.Errorf("%s: online %s, offline %s", f, sum, got[f])
		}
	}
	t.Logf("%d .debs bit-identical online and with no network", len(want))
}

// recordLock writes dir/stx.lock from an unlocked build of
// the example's packages: every resolved set and the base root's packages.
func recordLock(t *testing.T, dir string) {
	t.Helper()
	lock, add := &store.Lock{}, lockAdder()
	opts := buildrun.Options{Archs: []string{"amd64", "arm64"}, OutDir: filepath.Join(dir, "out-unlocked"),
		OnResolved: func(s *store.LockSet) { add(lock, s) }}
	if _, _, err := build(t, dir, opts); err != nil {
		t.Fatal(err)
	}
	ws, err := workspace.Open(workspace.Options{Dir: dir, CacheDir: cacheDir})
	if err != nil {
		t.Fatal(err)
	}
	spec, err := ws.BaseSpec()
	if err != nil {
		t.Fatal(err)
	}
	base, err := ws.BaseStore().Find(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	pkgs, err := store.RootPackages(base.Dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{"amd64", "arm64"} {
		for _, p := range pkgs {
			lock.Set(spec.Suite, a).Add(p)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, store.LockFile), lock.Marshal(), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("locked %d packages of the base and the build environments", len(lock.Items()))
}

// TestSimulateEqualsBuilds: stx-build lock --no-build's sets
// (buildrun.Simulate: nothing built, the project's packages stood in for
// by their debian/control) are the ones the builds resolve, for a library
// and its user, native on amd64 and cross for arm64, against the archive
// as it is now (the project unlocked; buildrun applies no lock it is not
// given).
func TestSimulateEqualsBuilds(t *testing.T) {
	needBuildHost(t)
	dir := copyProject(t, t.TempDir(), false)
	built, simulated, add := &store.Lock{}, &store.Lock{}, lockAdder()
	opts := buildrun.Options{Archs: []string{"amd64", "arm64"}, Packages: simulatedPackages, OutDir: filepath.Join(dir, "out"),
		OnResolved: func(s *store.LockSet) { add(built, s) }}
	if _, _, err := build(t, dir, opts); err != nil {
		t.Fatal(err)
	}
	ws, err := workspace.Open(workspace.Options{Dir: dir, CacheDir: cacheDir})
	if err != nil {
		t.Fatal(err)
	}
	opts.OnResolved, opts.OutDir = func(s *store.LockSet) { add(simulated, s) }, filepath.Join(dir, "out-simulated")
	opts.Status = testWriter{t}
	if err := buildrun.Simulate(context.Background(), ws, opts); err != nil {
		t.Fatal(err)
	}
	if len(built.Items()) == 0 {
		t.Fatal("the builds resolved no archive package")
	}
	if got, want := simulated.Marshal(), built.Marshal(); !bytes.Equal(got, want) {
		t.Errorf("the sets resolved without building differ from the builds':\n%s", lineDiff(string(want), string(got)))
	}
	t.Logf("%d archive packages, the same resolved by the builds and without building", len(built.Items()))
}

// lockAdder returns a function adding a set's packages (not its Release
// digests) to a lock, safe for concurrent use.
func lockAdder() func(*store.Lock, *store.LockSet) {
	var mu sync.Mutex
	return func(l *store.Lock, s *store.LockSet) {
		mu.Lock()
		defer mu.Unlock()
		set := l.Set(s.Suite, s.Arch)
		for _, p := range s.Packages {
			set.Add(p)
		}
	}
}

// lineDiff lists the lines only in want (-) and only in got (+).
func lineDiff(want, got string) string {
	in := func(s string) map[string]bool {
		m := map[string]bool{}
		for _, l := range strings.Split(s, "\n") {
			m[l] = true
		}
		return m
	}
	w, g := in(want), in(got)
	var out []string
	for _, l := range strings.Split(want, "\n") {
		if !g[l] {
			out = append(out, "- "+l)
		}
	}
	for _, l := range strings.Split(got, "\n") {
		if !w[l] {
			out = append(out, "+ "+l)
		}
	}
	return strings.Join(out, "\n")
}

// offlineChild is TestLockedOffline's second build, run in a network
// namespace.
func offlineChild(t *testing.T, dir string) {
	if err := netns.OnlyLoopback(); err != nil {
		t.Fatal(err)
	}
	if err := buildLocked(t, dir, filepath.Join(dir, "out-offline"), true); err != nil {
		t.Fatal(err)
	}
}

// buildLocked builds the example's packages for amd64 and arm64 from the
// project's stx.lock into out, without the artifact cache.
func buildLocked(t *testing.T, dir, out string, offline bool) error {
	t.Helper()
	ctx := context.Background()
	ws, err := workspace.Open(workspace.Options{Dir: dir, CacheDir: cacheDir})
	if err != nil {
		return err
	}
	lock, err := ws.ReadLock()
	if err != nil {
		return err
	}
	if lock == nil {
		return errors.New("examples/" + store.LockFile + " is missing (stx-build lock -C examples writes it)")
	}
	if err := ws.UseLock(ctx, lock, offline); err != nil {
		return err
	}
	_, err = buildrun.Run(ctx, ws, buildrun.Options{
		Archs: []string{"amd64", "arm64"}, OutDir: out,
		Status: testWriter{t}, Lock: lock,
	})
	return err
}
