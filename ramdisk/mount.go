package ramdisk

import (
	"errors"
	"fmt"
	"github.com/stx-build/stx-build/internal/mountinfo"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
)

const (
	// umountNoFollow is UMOUNT_NOFOLLOW, which package syscall lacks: a
	// symlink planted at a mount point's path is not followed.
	umountNoFollow = 0x8

	tmpfsMagic = 0x01021994
	ramfsMagic = 0x858458f6
)

// mountInfo is one line of /proc/self/mountinfo.
type mountInfo = mountinfo.Mount

var readMountInfo = mountinfo.Read

// under reports whether path is dir or inside it (both clean and absolute).
func under(path, dir string) bool {
	return path == dir || strings.HasPrefix(path, dir+"/")
}

// mountsUnder lists the mount points strictly inside dir (and dir itself if
// self is set), deepest first, so they can be unmounted in that order.
func mountsUnder(dir string, self bool) ([]mountInfo, error) {
	all, err := readMountInfo()
	if err != nil {
		return nil, err
	}
	var out []mountInfo
	for _, m := range all {
		if under(m.Point, dir) && (self || m.Point != dir) {
			out = append(out, m)
		}
	}
	slices.SortStableFunc(out, func(a, b mountInfo) int {
		if d := strings.Count(b.Point, "/") - strings.Count(a.Point, "/"); d != 0 {
			return d
		}
		return strings.Compare(b.Point, a.Point)
	})
	return out, nil
}

// unmountUnder unmounts everything mounted strictly inside dir (and dir
// itself if self is set), deepest first, and calls report for each mount
// undone. Stacked mounts and mounts that a lazy unmount took along are
// handled by looking again until nothing is left.
func unmountUnder(dir string, self bool, report func(mountInfo)) error {
	const rounds = 16
	for range rounds {
		ms, err := mountsUnder(dir, self)
		if err != nil {
			return err
		}
		if len(ms) == 0 {
			return nil
		}
		progress := false
		var errs []error
		for _, m := range ms {
			err := unmount(m.Point)
			if err == nil {
				progress = true
				if report != nil {
					report(m)
				}
				continue
			}
			if errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOENT) {
				// Gone already: a lazy unmount of a parent took it along.
				progress = true
				continue
			}
			errs = append(errs, fmt.Errorf("unmount %s (%s): %w", m.Point, m.FSType, err))
		}
		if !progress {
			return errors.Join(errs...)
		}
	}
	return fmt.Errorf("unmount under %s: mounts keep reappearing", dir)
}

// unmount unmounts the file system at path, lazily (MNT_DETACH) when it is
// busy: open files or a build process's working directory keep a detached
// tmpfs alive, but out of the tree, until they let go.
func unmount(path string) error {
	err := syscall.Unmount(path, umountNoFollow)
	if errors.Is(err, syscall.EBUSY) {
		err = syscall.Unmount(path, syscall.MNT_DETACH|umountNoFollow)
	}
	return err
}

// isMountPoint reports whether dir is on a different file system than its
// parent, which is how a mount point looks (bind mounts within one file
// system are not seen, which is enough for tmpfs).
func isMountPoint(dir string) (bool, error) {
	var st, pst syscall.Stat_t
	if err := syscall.Lstat(dir, &st); err != nil {
		return false, err
	}
	if err := syscall.Lstat(filepath.Dir(dir), &pst); err != nil {
		return false, err
	}
	return st.Dev != pst.Dev, nil
}

// fsType returns the file system magic number of the file system holding
// path.
func fsType(path string) (int64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return 0, err
	}
	return int64(st.Type), nil
}

// statfsUsage returns the bytes in use on the file system at dir.
func statfsUsage(dir string) (int64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, err
	}
	return int64(st.Blocks-st.Bfree) * st.Bsize, nil
}

// diskUsage adds up the space allocated to the files under dir, as du does:
// allocated blocks rather than lengths, each hard-linked file once, without
// crossing into other file systems. Files that vanish during the walk (a
// running build deletes them) are skipped.
func diskUsage(dir string) (int64, error) {
	var root syscall.Stat_t
	if err := syscall.Lstat(dir, &root); err != nil {
		return 0, err
	}
	type inode struct{ dev, ino uint64 }
	seen := map[inode]bool{}
	var total int64
	var walk func(path string, st *syscall.Stat_t) error
	walk = func(path string, st *syscall.Stat_t) error {
		if st.Nlink > 1 && st.Mode&syscall.S_IFMT != syscall.S_IFDIR {
			k := inode{uint64(st.Dev), st.Ino}
			if seen[k] {
				return nil
			}
			seen[k] = true
		}
		total += st.Blocks * 512
		if st.Mode&syscall.S_IFMT != syscall.S_IFDIR {
			return nil
		}
		names, err := readDirNames(path)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil
			}
			return err
		}
		for _, name := range names {
			p := filepath.Join(path, name)
			var cst syscall.Stat_t
			if err := syscall.Lstat(p, &cst); err != nil {
				if errors.Is(err, syscall.ENOENT) {
					continue
				}
				return &os.PathError{Op: "lstat", Path: p, Err: err}
			}
			if cst.Dev != root.Dev {
				continue // another file system mounted inside
			}
			if err := walk(p, &cst); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(dir, &root); err != nil {
		return 0, err
	}
	return total, nil
}

func readDirNames(dir string) ([]string, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	slices.Sort(names)
	return names, err
}

// removeTree deletes dir and everything in it, like os.RemoveAll, but
// refuses to descend into another file system: a bind mount of a host
// directory left inside a slot must never have its contents deleted.
// Directories without owner write/search permission (Go's module cache
// makes those) are made writable first. A missing dir is not an error.
func removeTree(dir string) error {
	var root syscall.Stat_t
	if err := syscall.Lstat(dir, &root); err != nil {
		if errors.Is(err, syscall.ENOENT) {
			return nil
		}
		return &os.PathError{Op: "lstat", Path: dir, Err: err}
	}
	var rm func(path string, st *syscall.Stat_t) error
	rm = func(path string, st *syscall.Stat_t) error {
		if st.Dev != root.Dev {
			return fmt.Errorf("refusing to remove %s: another file system is mounted there", path)
		}
		if st.Mode&syscall.S_IFMT == syscall.S_IFDIR {
			if st.Mode&0o700 != 0o700 {
				if err := os.Chmod(path, os.FileMode(st.Mode&0o777|0o700)); err != nil && !errors.Is(err, os.ErrNotExist) {
					return err
				}
			}
			names, err := readDirNames(path)
			if err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
			for _, name := range names {
				p := filepath.Join(path, name)
				var cst syscall.Stat_t
				if err := syscall.Lstat(p, &cst); err != nil {
					if errors.Is(err, syscall.ENOENT) {
						continue
					}
					return &os.PathError{Op: "lstat", Path: p, Err: err}
				}
				if err := rm(p, &cst); err != nil {
					return err
				}
			}
		}
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		return nil
	}
	return rm(dir, &root)
}
