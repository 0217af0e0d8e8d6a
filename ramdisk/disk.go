package ramdisk

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// DefaultDiskCap is the size of a disk slot when Options.DiskCap is 0:
// room for the largest package builds (a kernel with debug symbols),
// while a build that writes without end stops there instead of filling
// the disk.
const DefaultDiskCap int64 = 64 << 30

// A disk slot is a file system of its own: an ext4 image of DiskCap bytes,
// sparse (it takes on disk only what the build writes), loop-mounted
// nosuid,nodev at Root/runs/run-<id>/disk/<name>, the image beside it as
// <name>.img. A build that fills it fails with ENOSPC like one that fills
// its tmpfs, and is not retried. Where loop devices or mkfs.ext4 are
// missing (an unprivileged container), the slot is a plain directory and
// Slot.Cap is 0: doctor reports it.

// setUpDisk makes the slot's disk directory, capped when it can be.
func (m *Manager) setUpDisk(s *Slot, r Request, predicted int64) error {
	dir := filepath.Join(m.diskDir, r.Name)
	if err := os.Mkdir(dir, 0o755); err != nil {
		return fmt.Errorf("ramdisk: slot %s: %w", r.Name, err)
	}
	s.Dir, s.Size = dir, predicted
	if m.diskCap <= 0 {
		return nil
	}
	if err := mountImage(dir+".img", dir, m.diskCap); err != nil {
		os.Remove(dir + ".img")
		if m.diskCapRequired {
			os.Remove(dir)
			return fmt.Errorf("ramdisk: slot %s: capped disk slot: %w", r.Name, err)
		}
		m.logf("ramdisk: slot %s: disk slot not capped: %v", r.Name, err)
		return nil
	}
	s.Cap, s.onImage = m.diskCap, true
	return nil
}

// mountImage creates a sparse ext4 image of size bytes and loop-mounts it
// on dir. No journal (a crashed build's tree is thrown away), inode tables
// left uninitialized (noinit_itable: nothing zeroes them in the
// background), so an image costs a few MiB until the build writes.
func mountImage(img, dir string, size int64) error {
	f, err := os.OpenFile(img, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	err = f.Truncate(size)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if out, err := exec.Command("mkfs.ext4", "-q", "-F", "-m", "0", "-O", "^has_journal",
		"-E", "lazy_itable_init=1,nodiscard", "-L", "stx-build", img).CombinedOutput(); err != nil {
		return fmt.Errorf("mkfs.ext4: %v: %s", err, strings.TrimSpace(string(out)))
	}
	if out, err := exec.Command("mount", "-t", "ext4", "-o", "loop,nosuid,nodev,noatime,noinit_itable", img, dir).CombinedOutput(); err != nil {
		return fmt.Errorf("mount -o loop: %v: %s", err, strings.TrimSpace(string(out)))
	}
	// The slot looks like a fresh directory: no lost+found, mode 0755.
	_ = os.Remove(filepath.Join(dir, "lost+found"))
	return os.Chmod(dir, 0o755)
}

// releaseImage unmounts a capped disk slot's file system (its loop device
// goes with it: mount sets autoclear) and deletes the image.
func (s *Slot) releaseImage() error {
	if !s.onImage {
		return nil
	}
	if err := unmountUnder(s.Dir, false, nil); err != nil {
		return err
	}
	if err := unmount(s.Dir); err != nil {
		if mp, merr := isMountPoint(s.Dir); merr != nil || mp {
			return fmt.Errorf("unmount %s: %w", s.Dir, err)
		}
	}
	s.onImage = false
	if err := os.Remove(s.Dir + ".img"); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

func (m *Manager) logf(format string, args ...any) {
	if m.log != nil {
		fmt.Fprintf(m.log, format+"\n", args...)
	}
}
