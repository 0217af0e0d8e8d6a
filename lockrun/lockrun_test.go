package lockrun_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stx-build/stx-build/lockrun"
	"github.com/stx-build/stx-build/workspace"
)

// An architecture the project does not build is refused before anything
// is built or written. (Recording a lock for real builds the example:
// buildrun.TestLockedOffline records one the same way.)
func TestRunRefusesArch(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "packages"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "stx.yaml"), []byte("name: lock-test\nsuite: bookworm\narchitectures: [amd64]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cache := t.TempDir()
	ws, err := workspace.Open(workspace.Options{Dir: dir, CacheDir: cache})
	if err != nil {
		t.Fatal(err)
	}
	_, err = lockrun.Run(context.Background(), ws, lockrun.Options{Archs: []string{"riscv64"}})
	var ae *workspace.ArchError
	if !errors.As(err, &ae) || ae.Arch != "riscv64" {
		t.Fatalf("riscv64: %v, want an ArchError", err)
	}
	if des, _ := os.ReadDir(cache); len(des) != 0 {
		t.Errorf("the cache has %d entries after a refused run", len(des))
	}
}

// --no-build cannot lock image and ISO roots (they install the built
// packages): the example, which has both, is refused naming the flag that
// leaves each out, before anything is made.
func TestNoBuildRefusesRoots(t *testing.T) {
	cache := t.TempDir()
	ws, err := workspace.Open(workspace.Options{Dir: "../examples", CacheDir: cache})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		opts lockrun.Options
		want string
	}{
		{lockrun.Options{NoBuild: true}, "add --no-images"},
		{lockrun.Options{NoBuild: true, NoImages: true}, "add --no-iso"},
	} {
		_, err := lockrun.Run(context.Background(), ws, tc.opts)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.opts, err, tc.want)
		}
	}
	if des, _ := os.ReadDir(cache); len(des) != 0 {
		t.Errorf("the cache has %d entries after a refused run", len(des))
	}
}
