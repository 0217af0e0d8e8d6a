package workspace

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stx-build/stx-build/repo"
	"github.com/stx-build/stx-build/rootfs"
	"github.com/stx-build/stx-build/store"
)

// lockFixture is a project whose mirror is a directory, and a lock of
// three packages in that mirror's pool.
type lockFixture struct {
	dir, mirror string
	lock        *store.Lock
}

func newLockFixture(t *testing.T) *lockFixture {
	t.Helper()
	if _, err := exec.LookPath("dpkg-deb"); err != nil {
		t.Skip("dpkg-deb not found")
	}
	f := &lockFixture{dir: t.TempDir(), mirror: t.TempDir(), lock: &store.Lock{}}
	if err := os.Mkdir(filepath.Join(f.dir, "packages"), 0o755); err != nil {
		t.Fatal(err)
	}
	project := "name: lock-test\nsuite: bookworm\narchitectures: [amd64, arm64]\nmirror: file://" + f.mirror + "\n"
	if err := os.WriteFile(filepath.Join(f.dir, "stx.yaml"), []byte(project), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, p := range []struct{ set, name, arch string }{{"amd64", "alpha", "all"}, {"amd64", "beta", "amd64"}, {"arm64", "alpha", "all"}, {"arm64", "gamma", "arm64"}} {
		f.lock.Set("bookworm", p.set).Add(f.deb(t, p.name, "1.0-1", p.arch))
	}
	return f
}

// deb builds a package into the mirror's pool and returns its lock entry.
func (f *lockFixture) deb(t *testing.T, name, version, arch string) store.LockedPackage {
	t.Helper()
	root := t.TempDir()
	ctl := fmt.Sprintf("Package: %s\nVersion: %s\nArchitecture: %s\nMaintainer: tests <tests@stx-build.invalid>\nDescription: test package\n", name, version, arch)
	if err := os.MkdirAll(filepath.Join(root, "DEBIAN"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "DEBIAN", "control"), []byte(ctl), 0o644); err != nil {
		t.Fatal(err)
	}
	path := fmt.Sprintf("pool/main/%s/%s/%s_%s_%s.deb", name[:1], name, name, version, arch)
	out := filepath.Join(f.mirror, path)
	if _, err := os.Stat(out); err != nil {
		if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
			t.Fatal(err)
		}
		if msg, err := exec.Command("dpkg-deb", "--root-owner-group", "--build", root, out).CombinedOutput(); err != nil {
			t.Fatalf("dpkg-deb: %v\n%s", err, msg)
		}
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	return store.LockedPackage{Name: name, Version: version, Arch: arch, Size: int64(len(data)), SHA256: hex.EncodeToString(sum[:]), Path: path}
}

func (f *lockFixture) open(t *testing.T, cache string) *Workspace {
	t.Helper()
	ws, err := Open(Options{Dir: f.dir, CacheDir: cache, HostArch: "amd64"})
	if err != nil {
		t.Fatal(err)
	}
	return ws
}

// UseLock: offline with an empty store lists what is missing and the
// fetch command; online it fetches from the mirror and publishes one
// signed repository per architecture, which become the only archive of
// the base root and the image and ISO roots; then, offline, the same
// works with the mirror gone (the store serves the locked files).
func TestUseLock(t *testing.T) {
	f := newLockFixture(t)
	ctx := context.Background()
	cache := t.TempDir()
	ws := f.open(t, cache)
	err := ws.UseLock(ctx, f.lock, true)
	var me *MissingError
	if !errors.As(err, &me) || len(me.Missing) != 3 || !strings.Contains(err.Error(), "stx-build fetch -C "+f.dir) || !strings.Contains(err.Error(), "gamma_1.0-1_arm64.deb") {
		t.Fatalf("offline, empty store: %v", err)
	}
	if err := ws.UseLock(ctx, f.lock, false); err != nil {
		t.Fatal(err)
	}
	la := ws.Locked()
	if la == nil || len(la.Sources) != 2 {
		t.Fatalf("locked archive: %+v", la)
	}
	for i, a := range []string{"amd64", "arm64"} {
		want := repo.SignedSourcesLine("copy://"+filepath.Join(la.Dir, a), ws.RepoKeyring(), a)
		if la.Sources[i] != want {
			t.Errorf("sources line %d: %q, want %q", i, la.Sources[i], want)
		}
	}
	want := map[string][]string{"amd64": {"alpha all", "beta amd64"}, "arm64": {"alpha all", "gamma arm64"}}
	for a, names := range want {
		r, err := repo.Open(filepath.Join(la.Dir, a), a)
		if err != nil {
			t.Fatal(err)
		}
		entries, err := r.Packages()
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range entries {
			got = append(got, e.Package+" "+e.Architecture)
			if p, ok := f.lock.Find("bookworm", a).Lookup(e.Package, e.Version, e.Architecture); !ok || p.SHA256 != e.SHA256 {
				t.Errorf("%s: %s %s is not the locked file", a, e.Package, e.SHA256)
			}
		}
		if strings.Join(got, ",") != strings.Join(names, ",") {
			t.Errorf("%s repository: %v, want %v", a, got, names)
		}
		if err := r.Verify(); err != nil {
			t.Error(err)
		}
		if _, err := os.Stat(filepath.Join(r.Dir(), "dists", "stx", "InRelease")); err != nil {
			t.Errorf("%s repository is not signed: %v", a, err)
		}
	}
	spec, err := ws.BaseSpec()
	if err != nil {
		t.Fatal(err)
	}
	args := rootfs.Args(spec, "/target")
	if spec.Locked != la.Digest || !slices.Contains(spec.Include, "apt") || spec.HostSources != "" || len(spec.Components) != 0 ||
		strings.Join(args[len(args)-2:], "\n") != strings.Join(la.Sources, "\n") || slices.Contains(args, "file://"+f.mirror) {
		t.Errorf("base spec does not install from the locked repositories only: %+v\n%q", spec, args)
	}
	// The base's key is the lock's, not where a cache keeps its copy.
	other := f.open(t, t.TempDir())
	if err := other.UseLock(ctx, f.lock, false); err != nil {
		t.Fatal(err)
	}
	if spec2, err := other.BaseSpec(); err != nil || spec2.Key("m") != spec.Key("m") || other.Locked().Sources[0] == la.Sources[0] {
		t.Errorf("two caches, one lock: keys %s %s (%v)", spec2.Key("m"), spec.Key("m"), err)
	}
	aptErr := errors.New("rootfs: mmdebstrap bookworm amd64: exit status 1\nE: Unable to locate package kitty-terminfo")
	if err := ws.WithLockHint(aptErr); !errors.Is(err, aptErr) || !strings.Contains(err.Error(), "stx-build lock --update -C "+f.dir) {
		t.Errorf("a package the lock lacks: %v", err)
	}
	if err := ws.WithLockHint(errors.New("disk full")); strings.Contains(err.Error(), "lock --update") {
		t.Errorf("an unrelated error got the lock hint: %v", err)
	}
	if p := ws.RootsProject(); p.Mirror != strings.Join(la.Sources, "\n") || ws.Project.Mirror != "file://"+f.mirror {
		t.Errorf("roots project mirror %q, project mirror %q", p.Mirror, ws.Project.Mirror)
	}

	// The mirror drops everything: offline, the store still has it all.
	if err := os.RemoveAll(filepath.Join(f.mirror, "pool")); err != nil {
		t.Fatal(err)
	}
	ws2 := f.open(t, cache)
	if err := ws2.UseLock(ctx, f.lock, true); err != nil {
		t.Fatalf("offline with a full store: %v", err)
	}
	if ws2.Locked().Dir != la.Dir {
		t.Errorf("the same lock gave another repository: %s, %s", ws2.Locked().Dir, la.Dir)
	}
	// Neither the mirror nor a new cache's store has them.
	err = f.open(t, t.TempDir()).UseLock(ctx, f.lock, false)
	if !errors.Is(err, store.ErrNotOnMirror) || !strings.Contains(err.Error(), "stx-build lock --update -C "+f.dir) {
		t.Errorf("locked versions nobody has: %v", err)
	}
}

// Sets locked at different times that disagree on a version cannot be
// served by one repository per architecture: an error names both.
func TestUseLockConflict(t *testing.T) {
	f := newLockFixture(t)
	f.lock.Set("bookworm", "arm64").Add(f.deb(t, "alpha", "2.0-1", "all"))
	// drop arm64's alpha 1.0-1, keeping 2.0-1
	set := f.lock.Find("bookworm", "arm64")
	var kept []store.LockedPackage
	for _, p := range set.Packages {
		if p.Name != "alpha" || p.Version != "1.0-1" {
			kept = append(kept, p)
		}
	}
	set.Packages = kept
	err := f.open(t, t.TempDir()).UseLock(context.Background(), f.lock, false)
	if err == nil || !strings.Contains(err.Error(), "alpha (all) is 1.0-1 in [bookworm amd64] and 2.0-1 in [bookworm arm64]") || !strings.Contains(err.Error(), "stx-build lock --update") {
		t.Errorf("conflicting versions: %v", err)
	}
}
