package ramdisk

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestDiskUsage(t *testing.T) {
	dir := t.TempDir()
	if err := writeFile(filepath.Join(dir, "a"), 3*MiB); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "sub/deeper"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := writeFile(filepath.Join(dir, "sub/deeper/b"), MiB); err != nil {
		t.Fatal(err)
	}
	// A hard link is counted once, a sparse file by its blocks.
	if err := os.Link(filepath.Join(dir, "a"), filepath.Join(dir, "sub/a-link")); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(filepath.Join(dir, "sparse"))
	if err != nil {
		t.Fatal(err)
	}
	f.Truncate(100 * MiB)
	f.Close()
	got, err := diskUsage(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got < 4*MiB || got > 5*MiB {
		t.Errorf("diskUsage = %s, want about 4 MiB", FormatSize(got))
	}
}

func TestRemoveTreeReadOnlyDirs(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tree")
	ro := filepath.Join(dir, "mod/cache@v1")
	if err := os.MkdirAll(ro, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ro, "f"), []byte("x"), 0o444); err != nil {
		t.Fatal(err)
	}
	os.Chmod(ro, 0o555)
	os.Chmod(filepath.Dir(ro), 0o555)
	if err := removeTree(dir); err != nil {
		t.Fatal(err)
	}
	if exists(dir) {
		t.Errorf("%s still exists", dir)
	}
	if err := removeTree(dir); err != nil {
		t.Errorf("removing a missing tree: %v", err)
	}
}

// removeTree must not delete what is inside a mount (a bind mount of a host
// directory left in a slot).
func TestRemoveTreeStopsAtMounts(t *testing.T) {
	needMount(t)
	base := t.TempDir()
	dir := filepath.Join(base, "tree")
	mnt := filepath.Join(dir, "mnt")
	if err := os.MkdirAll(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", mnt, "tmpfs", 0, "size=1m"); err != nil {
		t.Fatal(err)
	}
	defer syscall.Unmount(mnt, syscall.MNT_DETACH)
	precious := filepath.Join(mnt, "precious")
	if err := os.WriteFile(precious, []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := removeTree(dir)
	if err == nil || !strings.Contains(err.Error(), "another file system") {
		t.Errorf("removeTree = %v, want a refusal", err)
	}
	if !exists(precious) {
		t.Error("removeTree deleted a file inside a mount")
	}
}
