package manifests

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/stx-build/stx-build/internal/regularfile"
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
	return asRefusal(regularfile.Read(path, limit))
}

// readRegular reads the file real, whose Lstat is fi, if it is a regular
// file of at most limit bytes (regularfile.ReadFile).
func readRegular(real string, fi fs.FileInfo, limit int64) ([]byte, error) {
	return asRefusal(regularfile.ReadFile(real, fi, limit))
}

// asRefusal turns a regularfile.Refusal into a refusal.
func asRefusal(data []byte, err error) ([]byte, error) {
	var r *regularfile.Refusal
	if errors.As(err, &r) {
		return nil, &refusal{msg: r.Msg}
	}
	return data, err
}

// describeMode names the kind of a file that is not a regular one.
func describeMode(m fs.FileMode) string { return regularfile.Kind(m) }

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
