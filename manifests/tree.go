package manifests

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// Limits on what the loader reads. A manifest is a few kilobytes; the
// limits only stop hostile or mistaken files (a symlink to /dev/zero, a log
// named package.yaml) from being read into memory or echoed in reports.
const (
	// MaxManifestSize is the largest manifest file (stx.yaml, package.yaml,
	// images/*.yaml, iso.yaml) and module signing key the loader reads.
	MaxManifestSize = 1 << 20
	// MaxPatchSize is the largest patch or kernel configuration file a
	// package may name.
	MaxPatchSize = 64 << 20
	// MaxFieldLength is the longest string value or field name, in bytes.
	MaxFieldLength = 4096
)

// tree is the part of the file system a project's manifests may name: the
// project directory and the directories its allow-outside field lists,
// each with symlinks resolved. Every path a manifest names is resolved
// (symlinks included) and must end inside one of them.
type tree struct {
	roots []string
	// outside says whether roots holds more than the project directory,
	// for the hint in messages.
	outside bool
}

// newTree returns the tree of the directory dir alone.
func newTree(dir string) (*tree, error) {
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return nil, err
	}
	return &tree{roots: []string{real}}, nil
}

// projectTree returns the tree of a loaded project: its directory and the
// directories of its allow-outside field.
func projectTree(p *Project) (*tree, error) {
	t, err := newTree(p.Dir)
	if err != nil {
		return nil, err
	}
	for _, rel := range p.AllowOutside {
		if filepath.IsAbs(rel) {
			continue // refused by checkAllowOutside
		}
		real, err := filepath.EvalSymlinks(filepath.Join(p.Dir, rel))
		if err != nil || real == string(filepath.Separator) {
			continue
		}
		if fi, err := os.Stat(real); err == nil && fi.IsDir() {
			t.roots = append(t.roots, real)
			t.outside = true
		}
	}
	return t, nil
}

// refusal is a file the loader will not use: outside the tree, not of the
// kind expected, or too large. Its message names no content of the file.
type refusal struct {
	msg string
	// outside says the path leads out of the tree, which allow-outside in
	// stx.yaml can permit.
	outside bool
}

func (r *refusal) Error() string { return r.msg }

// contains reports whether the resolved path real is inside the tree.
func (t *tree) contains(real string) bool {
	for _, root := range t.roots {
		if real == root || strings.HasPrefix(real, strings.TrimSuffix(root, string(filepath.Separator))+string(filepath.Separator)) {
			return true
		}
	}
	return false
}

// stat resolves path (symlinks included) and returns the resolved path and
// what it is, without following anything further. A path that leads out of
// the tree is a *refusal; a missing one is an error satisfying
// os.IsNotExist.
func (t *tree) stat(path string) (string, fs.FileInfo, error) {
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return "", nil, err
	}
	if !t.contains(real) {
		where := "the project directory"
		if t.outside {
			where += " and allow-outside"
		}
		return "", nil, &refusal{msg: fmt.Sprintf("leads outside %s (to %s)", where, real), outside: true}
	}
	fi, err := os.Lstat(real)
	if err != nil {
		return "", nil, err
	}
	return real, fi, nil
}

// readFile reads path, which must resolve inside the tree to a regular file
// of at most limit bytes. Problems with the file itself are *refusal errors.
func (t *tree) readFile(path string, limit int64) ([]byte, error) {
	real, fi, err := t.stat(path)
	if err != nil {
		return nil, err
	}
	return readRegular(real, fi, limit)
}

// readFileAnywhere is readFile for a file that may be anywhere, such as a
// signing key kept out of the project on purpose: it must still be a
// regular file of at most limit bytes.
func readFileAnywhere(path string, limit int64) ([]byte, error) {
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return nil, err
	}
	fi, err := os.Lstat(real)
	if err != nil {
		return nil, err
	}
	return readRegular(real, fi, limit)
}

// readRegular reads the file real, whose Lstat is fi. It refuses what is not
// a regular file before opening it (opening a device or a FIFO can block or
// have effects), opens without following a symlink and without blocking,
// checks that what it opened is still that regular file, and reads at most
// limit bytes.
func readRegular(real string, fi fs.FileInfo, limit int64) ([]byte, error) {
	if err := checkRegular(fi, limit); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(real, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	opened, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !os.SameFile(fi, opened) {
		return nil, &refusal{msg: "changed while it was being read"}
	}
	if err := checkRegular(opened, limit); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, tooLarge(limit)
	}
	return data, nil
}

// checkRegular refuses what is not a regular file of at most limit bytes.
func checkRegular(fi fs.FileInfo, limit int64) error {
	if !fi.Mode().IsRegular() {
		return &refusal{msg: "is " + describeMode(fi.Mode()) + ", not a regular file"}
	}
	if fi.Size() > limit {
		return tooLarge(limit)
	}
	return nil
}

func tooLarge(limit int64) error {
	return &refusal{msg: fmt.Sprintf("is too large (the limit is %d bytes)", limit)}
}

// describeMode names the kind of a file that is not a regular one.
func describeMode(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	case m&fs.ModeSymlink != 0:
		return "a symbolic link"
	}
	return "a special file"
}

// isRefusal reports whether err is a *refusal, returning its message with,
// for a path out of the tree, how to allow it.
func isRefusal(err error) (string, bool) {
	var r *refusal
	if !errors.As(err, &r) {
		return "", false
	}
	if r.outside {
		return r.msg + "; to use it, list its directory in allow-outside in " + ProjectFile, true
	}
	return r.msg, true
}

// fileProblem turns a failure to read a manifest into the message reported
// for it: the refusal itself, or the I/O error.
func fileProblem(err error) string {
	if msg, ok := isRefusal(err); ok {
		return msg
	}
	return fmt.Sprintf("cannot read: %v", err)
}
