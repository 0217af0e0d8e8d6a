package ramdisk

import (
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

// testRoot returns a fresh directory on disk for a Manager root.
func testRoot(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if typ, err := fsType(dir); err == nil && (typ == tmpfsMagic || typ == ramfsMagic) {
		// TMPDIR is in RAM here; /var/tmp is on disk on Debian.
		d, err := os.MkdirTemp("/var/tmp", "ramdisk-test-")
		if err != nil {
			t.Skipf("no directory on disk for a test root: %v", err)
		}
		t.Cleanup(func() { os.RemoveAll(d) })
		dir = d
	}
	return filepath.Join(dir, "root")
}

var (
	mountOnce sync.Once
	mountErr  error
)

// needMount skips the test unless this process may mount a tmpfs.
func needMount(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting tmpfs needs root")
	}
	mountOnce.Do(func() {
		dir, err := os.MkdirTemp("", "ramdisk-probe-")
		if err != nil {
			mountErr = err
			return
		}
		defer os.Remove(dir)
		if mountErr = syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=1m"); mountErr == nil {
			syscall.Unmount(dir, syscall.MNT_DETACH)
		}
	})
	if mountErr != nil {
		t.Skipf("cannot mount tmpfs here: %v", mountErr)
	}
}

// newManager opens a manager on a fresh root, closed when the test ends
// (before the temporary directory is removed).
func newManager(t *testing.T, opts Options) *Manager {
	t.Helper()
	if opts.Root == "" {
		opts.Root = testRoot(t)
	}
	if opts.SampleInterval == 0 {
		opts.SampleInterval = 20 * time.Millisecond
	}
	if opts.MinTmpfsSize == 0 {
		opts.MinTmpfsSize = MiB
	}
	m, err := NewManager(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if ms := mountPoints(t, m.Root()); len(ms) > 0 {
			t.Errorf("mounts left under %s: %q", m.Root(), ms)
		}
	})
	return m
}

// mountPoints lists the mount points under dir (dir included).
func mountPoints(t *testing.T, dir string) []string {
	t.Helper()
	ms, err := mountsUnder(dir, true)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range ms {
		out = append(out, m.Point)
	}
	return out
}

// writeFile writes n bytes of real data (not a sparse file) to path.
func writeFile(path string, n int64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	buf := make([]byte, 256<<10)
	for i := range buf {
		buf[i] = byte(i)
	}
	for n > 0 {
		k := min(n, int64(len(buf)))
		if _, err := f.Write(buf[:k]); err != nil {
			f.Close()
			return err
		}
		n -= k
	}
	return f.Close()
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}
