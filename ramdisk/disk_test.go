package ramdisk

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestDiskFallbackCapped reproduces issue 20's unbounded disk fallback: a
// build that fills its tmpfs is retried on disk, and writes on there; the
// disk slot is a file system of DiskCap bytes, so the build fails with
// ENOSPC and an error that names the cap, and the host disk took at most
// that much.
func TestDiskFallbackCapped(t *testing.T) {
	needMount(t)
	for _, p := range []string{"mkfs.ext4", "mount"} {
		if _, err := exec.LookPath(p); err != nil {
			t.Skipf("no %s", p)
		}
	}
	const cap = 32 * MiB
	m := newManager(t, Options{Budget: NewBudget(GiB), DiskCap: cap, DiskCapRequired: true})
	var imgSize int64
	res, err := RetryOnDisk(context.Background(), m, Request{Name: "pkg_1.0_amd64", Size: MiB}, func(s *Slot) error {
		werr := writeFile(filepath.Join(s.Dir, "big"), 100*MiB)
		if !s.OnTmpfs {
			if s.Cap != cap {
				t.Errorf("disk slot cap %d, want %d", s.Cap, cap)
			}
			var st syscall.Stat_t
			if err := syscall.Stat(s.Dir+".img", &st); err == nil {
				imgSize = st.Blocks * 512
			}
		}
		return werr
	})
	if len(res.Attempts) != 2 || res.Attempts[0].OnTmpfs != true || res.Attempts[1].OnTmpfs {
		t.Fatalf("attempts %+v, want tmpfs then disk", res.Attempts)
	}
	if !errors.Is(err, syscall.ENOSPC) || !strings.Contains(err.Error(), "capped at 32.0 MiB") {
		t.Errorf("err = %v, want ENOSPC naming the cap of 32.0 MiB", err)
	}
	if imgSize == 0 || imgSize > cap {
		t.Errorf("the image took %d bytes on disk, want at most the cap %d", imgSize, cap)
	}
	a := res.Attempts[1]
	if exists(a.Dir) || exists(a.Dir+".img") {
		t.Errorf("%s or its image still exists", a.Dir)
	}
	if ms := mountPoints(t, m.Root()); len(ms) > 0 {
		t.Errorf("mounts left: %q", ms)
	}
}

// TestDiskUncapped: a negative DiskCap gives plain directories.
func TestDiskUncapped(t *testing.T) {
	m := newManager(t, Options{Budget: NewBudget(GiB), Disable: true, DiskCap: -1})
	s, err := m.Acquire(context.Background(), Request{Name: "a"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Release()
	if s.Cap != 0 || exists(s.Dir+".img") {
		t.Errorf("cap %d, want an uncapped directory", s.Cap)
	}
	if _, err := os.Stat(s.Dir); err != nil {
		t.Error(err)
	}
}
