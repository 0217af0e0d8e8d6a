package buildrun

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stx-build/stx-build/repo"
)

// makeDeb builds a minimal .deb with dpkg-deb.
func makeDeb(t *testing.T, name, version string) string {
	t.Helper()
	if _, err := exec.LookPath("dpkg-deb"); err != nil {
		t.Skip("dpkg-deb not installed")
	}
	root := filepath.Join(t.TempDir(), "pkg")
	if err := os.MkdirAll(filepath.Join(root, "DEBIAN"), 0o755); err != nil {
		t.Fatal(err)
	}
	ctl := fmt.Sprintf("Package: %s\nVersion: %s\nArchitecture: amd64\nMaintainer: t <t@t.invalid>\nDescription: test\n", name, version)
	if err := os.WriteFile(filepath.Join(root, "DEBIAN", "control"), []byte(ctl), 0o644); err != nil {
		t.Fatal(err)
	}
	deb := filepath.Join(t.TempDir(), name+"_"+version+"_amd64.deb")
	if out, err := exec.Command("dpkg-deb", "--root-owner-group", "-b", root, deb).CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb: %v\n%s", err, out)
	}
	return deb
}

func versions(t *testing.T, r *repo.Repo) []string {
	t.Helper()
	entries, err := r.Packages()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Package+"="+e.Version)
		if _, err := os.Stat(filepath.Join(r.Dir(), e.Filename)); err != nil {
			t.Errorf("%s: indexed file missing: %v", r.Dir(), err)
		}
	}
	return out
}

// A snapshot keeps what was published when it was taken, while the live
// repository moves on; builds between two publishes share one; the last
// release of an old one removes it.
func TestSnapshots(t *testing.T) {
	out := t.TempDir()
	set, err := openRepos(out, []string{"amd64"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	opts := repo.Options{Date: time.Unix(1700000000, 0)}
	if err := set.publish(ctx, "amd64", []string{makeDeb(t, "libfoo1", "1.0")}, opts); err != nil {
		t.Fatal(err)
	}
	s1, err := set.acquire()
	if err != nil {
		t.Fatal(err)
	}
	s1b, err := set.acquire()
	if err != nil {
		t.Fatal(err)
	}
	if s1 != s1b {
		t.Error("two builds between publishes got different snapshots")
	}
	// A newer build replaces libfoo1 1.0 (and deletes its pool file).
	if err := set.publish(ctx, "amd64", []string{makeDeb(t, "libfoo1", "2.0")}, opts); err != nil {
		t.Fatal(err)
	}
	if got := versions(t, s1.repos["amd64"]); len(got) != 1 || got[0] != "libfoo1=1.0" {
		t.Errorf("old snapshot lists %v, want libfoo1=1.0", got)
	}
	if got := versions(t, set.live["amd64"]); len(got) != 1 || got[0] != "libfoo1=2.0" {
		t.Errorf("live repository lists %v", got)
	}
	s2, err := set.acquire()
	if err != nil {
		t.Fatal(err)
	}
	if got := versions(t, s2.repos["amd64"]); len(got) != 1 || got[0] != "libfoo1=2.0" {
		t.Errorf("new snapshot lists %v", got)
	}
	set.release(s1)
	if _, err := os.Stat(s1.dir); err != nil {
		t.Errorf("snapshot removed while a build uses it: %v", err)
	}
	set.release(s1b)
	if _, err := os.Stat(s1.dir); !os.IsNotExist(err) {
		t.Errorf("old snapshot not removed after its last build: %v", err)
	}
	set.release(s2)
	if err := set.close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(out, snapshotsDir)); !os.IsNotExist(err) {
		t.Errorf("snapshots left after close: %v", err)
	}
}

// Snapshots of a run that died are removed by the next one.
func TestStaleSnapshotsRemoved(t *testing.T) {
	out := t.TempDir()
	// A PID that cannot be alive: above the kernel's pid_max limit.
	stale := filepath.Join(out, snapshotsDir, "99999999", "1", "amd64")
	if err := os.MkdirAll(stale, 0o755); err != nil {
		t.Fatal(err)
	}
	set, err := openRepos(out, []string{"amd64"})
	if err != nil {
		t.Fatal(err)
	}
	defer set.close()
	if _, err := os.Stat(filepath.Dir(filepath.Dir(stale))); !os.IsNotExist(err) {
		t.Errorf("stale snapshot kept: %v", err)
	}
}
