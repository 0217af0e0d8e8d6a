package deb

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/stx-build/stx-build/internal/regularfile"
)

// copyTree copies a local source tree to dst with normalized metadata:
// directories 0755, files 0644 or 0755 (any exec bit), symlinks as they
// are, every mtime set to mtime, and VCS directories left out. What the
// checkout's umask, clone time or path were then cannot reach the build.
func copyTree(src, dst string, mtime time.Time) error {
	var dirs []string
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == ".svn") && rel != "." {
			return filepath.SkipDir
		}
		target := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
			if err := os.Chmod(target, 0o755); err != nil {
				return err
			}
			dirs = append(dirs, target)
		case d.Type()&fs.ModeSymlink != 0:
			link, err := os.Readlink(p)
			if err != nil {
				return err
			}
			if err := os.Symlink(link, target); err != nil {
				return err
			}
			return os.Lchown(target, 0, 0)
		case d.Type().IsRegular():
			info, err := d.Info()
			if err != nil {
				return err
			}
			mode := os.FileMode(0o644)
			if info.Mode()&0o111 != 0 {
				mode = 0o755
			}
			if err := copyFile(p, target, mode); err != nil {
				return err
			}
			return os.Chtimes(target, mtime, mtime)
		default:
			return fmt.Errorf("%s: unsupported file type %s in a source tree", p, d.Type())
		}
		return nil
	})
	if err != nil {
		return err
	}
	// Directory mtimes last: creating entries changed them.
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := os.Chtimes(dirs[i], mtime, mtime); err != nil {
			return err
		}
	}
	return nil
}

// chownTree gives every entry under dir to uid:gid (symlinks themselves).
func chownTree(dir string, uid, gid int) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, gid)
	})
}

// copyFile copies a regular file (a FIFO or a device is refused, never
// read) into a build's slot with mode whatever the umask.
var copyFile = regularfile.Copy
