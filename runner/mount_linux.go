package runner

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// mount is mount(2) with an error that names what failed.
func mount(source, target, fstype string, flags uintptr, data string) error {
	if err := syscall.Mount(source, target, fstype, flags, data); err != nil {
		what := fstype
		if what == "" {
			what = source
		}
		if data != "" {
			return fmt.Errorf("mount %s on %s: %w (%s)", what, target, err, data)
		}
		return fmt.Errorf("mount %s on %s: %w", what, target, err)
	}
	return nil
}

// overlayOptions are fixed so that an upper directory is a self-contained
// layer that can be stacked on the same lowers later, or shipped: no
// inodes index (reusing an upper with other lowers fails with it), no
// metadata-only copy-ups and no directory redirects (both would leave
// references into the lower layers in the upper).
const overlayOptions = ",index=off,metacopy=off,redirect_dir=off"

func overlayData(layers []string, upper, work string) string {
	return "lowerdir=" + strings.Join(layers, ":") + ",upperdir=" + upper + ",workdir=" + work + overlayOptions
}

// mountOverlay mounts the overlay root on target. mount(2) takes at most
// a page of options; when absolute paths do not fit, they are given
// relative to their common parent directory, which becomes the working
// directory for the call.
func mountOverlay(layers []string, upper, work, target string) error {
	data := overlayData(layers, upper, work)
	if max := os.Getpagesize() - 1; len(data) > max {
		all := append(append([]string{}, layers...), upper, work)
		base := commonDir(all)
		rel := make([]string, len(all))
		for i, p := range all {
			r, err := filepath.Rel(base, p)
			if err != nil {
				return fmt.Errorf("mount overlay: %w", err)
			}
			rel[i] = r
		}
		short := overlayData(rel[:len(layers)], rel[len(layers)], rel[len(layers)+1])
		if len(short) > max {
			return fmt.Errorf("mount overlay: %d layers make %d bytes of options, more than the kernel's %d even relative to %s: use fewer layers or shorter paths", len(layers), len(data), max, base)
		}
		if err := syscall.Chdir(base); err != nil {
			return fmt.Errorf("mount overlay: %w", err)
		}
		defer syscall.Chdir("/")
		data = short
	}
	// nosuid: a setuid binary in a layer (one a package's maintainer
	// script left there, say) must not make a later step root; nodev: the
	// sandbox's devices are its /dev's.
	if err := syscall.Mount("overlay", target, "overlay", syscall.MS_NOSUID|syscall.MS_NODEV, data); err != nil {
		return fmt.Errorf("mount overlay on %s: %w (%s; the kernel log has overlayfs's reason)", target, err, data)
	}
	return nil
}

// commonDir is the deepest directory that holds every one of paths
// (absolute, cleaned) and equals none of them, so each has a name relative
// to it.
func commonDir(paths []string) string {
	if len(paths) == 0 {
		return "/"
	}
	dir := filepath.Dir(paths[0])
	for _, p := range paths[1:] {
		for dir != "/" && !strings.HasPrefix(p, dir+"/") {
			dir = filepath.Dir(dir)
		}
	}
	return dir
}

// bindMount bind-mounts source (recursively) on target; readOnly makes
// target and every mount below it read-only.
func bindMount(source, target string, readOnly bool) error {
	if err := mount(source, target, "", syscall.MS_BIND|syscall.MS_REC, ""); err != nil {
		return err
	}
	if readOnly {
		return remount(target, syscall.MS_RDONLY)
	}
	return nil
}

// remount adds flags (MS_RDONLY, MS_NOSUID, MS_NODEV) to the mount at
// target and to those below it: a bind remount only changes one mount,
// and submounts of a recursive bind keep their flags otherwise.
func remount(target string, add uintptr) error {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return fmt.Errorf("remount %s: %w", target, err)
	}
	entries, err := parseMountInfo(f)
	f.Close()
	if err != nil {
		return fmt.Errorf("remount %s: %w", target, err)
	}
	found := false
	for _, e := range entries {
		if e.Point != target && !strings.HasPrefix(e.Point, target+"/") {
			continue
		}
		found = true
		// A bind remount replaces the per-mount flags: keep the ones
		// that restrict.
		flags := syscall.MS_BIND | syscall.MS_REMOUNT | add
		for _, o := range strings.Split(e.Options, ",") {
			switch o {
			case "ro":
				flags |= syscall.MS_RDONLY
			case "nosuid":
				flags |= syscall.MS_NOSUID
			case "nodev":
				flags |= syscall.MS_NODEV
			case "noexec":
				flags |= syscall.MS_NOEXEC
			case "noatime":
				flags |= syscall.MS_NOATIME
			case "nodiratime":
				flags |= syscall.MS_NODIRATIME
			case "relatime":
				flags |= syscall.MS_RELATIME
			}
		}
		if err := syscall.Mount("", e.Point, "", flags, ""); err != nil {
			return fmt.Errorf("remount %s: %w", e.Point, err)
		}
	}
	if !found {
		return fmt.Errorf("remount %s: not in /proc/self/mountinfo", target)
	}
	return nil
}

// mkdirIn creates directory p inside root (symlinks resolved inside root)
// and returns its host path.
func mkdirIn(root, p string) (string, error) {
	hp, err := resolveIn(root, p)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(hp, 0o755); err != nil {
		return "", err
	}
	return hp, nil
}

// mkfileIn makes sure file p exists inside root (symlinks resolved inside
// root), creating an empty one if needed, and returns its host path.
func mkfileIn(root, p string) (string, error) {
	hp, err := resolveIn(root, p)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(hp), 0o755); err != nil {
		return "", err
	}
	f, err := os.OpenFile(hp, os.O_RDONLY|os.O_CREATE, 0o644)
	if errors.Is(err, syscall.EISDIR) {
		return "", fmt.Errorf("%s is a directory, the source a file", p)
	}
	if err != nil {
		return "", err
	}
	return hp, f.Close()
}
