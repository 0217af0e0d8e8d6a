package runner

import (
	"errors"
	"fmt"
	"github.com/stx-build/stx-build/internal/mountinfo"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// maxSymlinks bounds symlink resolution, like the kernel's ELOOP limit.
const maxSymlinks = 40

// resolveIn resolves p inside the directory tree root as if root were "/":
// symlinks are followed, absolute ones from root, and ".." stops at root,
// so the result never leaves root even when the tree holds links like
// "x -> /etc" or "y -> ../../..". Components that do not exist are kept
// as they are (for the caller to create). The result is a host path.
func resolveIn(root, p string) (string, error) {
	cur := "/" // resolved so far, relative to root, free of symlinks
	rest := p
	links := 0
	for rest != "" {
		var c string
		c, rest, _ = strings.Cut(rest, "/")
		switch c {
		case "", ".":
			continue
		case "..":
			cur = path.Dir(cur)
			continue
		}
		next := path.Join(cur, c)
		fi, err := os.Lstat(filepath.Join(root, next))
		if errors.Is(err, fs.ErrNotExist) {
			cur = next
			continue
		}
		if err != nil {
			return "", fmt.Errorf("resolve %s: %w", p, err)
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			cur = next
			continue
		}
		if links++; links > maxSymlinks {
			return "", fmt.Errorf("resolve %s: too many levels of symbolic links", p)
		}
		target, err := os.Readlink(filepath.Join(root, next))
		if err != nil {
			return "", fmt.Errorf("resolve %s: %w", p, err)
		}
		if path.IsAbs(target) {
			cur = "/"
		}
		rest = target + "/" + rest
	}
	return filepath.Join(root, cur), nil
}

// mountInfo is one line of /proc/PID/mountinfo.
type mountInfo = mountinfo.Mount

var (
	parseMountInfo = mountinfo.Parse
	unescapeOctal  = mountinfo.Unescape
)
