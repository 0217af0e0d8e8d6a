package deb

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/stx-build/stx-build/internal/regularfile"
)

// artifactExt are the name suffixes of a build's results.
var artifactExt = []string{".deb", ".udeb", ".ddeb", ".buildinfo", ".changes"}

// DefaultMaxArtifact is the largest single artifact collect takes when
// Builder.MaxArtifact is 0: far above any real .deb (a kernel's debug
// package is about 1 GiB), far below what fills a disk.
const DefaultMaxArtifact int64 = 8 << 30

// collect moves the build's artifacts into OutDir/<arch>/debs/<name>_<ver>/,
// replacing an earlier result only once the new one is complete.
//
// Only regular files leave a build: every top-level entry of buildDir whose
// name ends in an artifact suffix must be a regular file of at most
// MaxArtifact bytes. It is opened relative to buildDir without following
// symlinks or opening anything else (regularfile.OpenIn), so a result that
// is a symlink (to a host file, or /dev/zero), a FIFO, a device node or too
// large fails the build with its name, and nothing of the host is read.
func (b *Builder) collect(buildDir string, req Request) ([]string, error) {
	dir, err := os.OpenFile(buildDir, os.O_RDONLY|syscall.O_DIRECTORY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return nil, err
	}
	defer dir.Close()
	names, err := dir.Readdirnames(-1)
	if err != nil {
		return nil, err
	}
	slices.Sort(names)
	name := req.Package.Name + "_" + noEpoch(req.Package.Version)
	dest := filepath.Join(b.OutDir, req.Arch, "debs", name)
	if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dest), ".tmp-"+name+"-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	if err := os.Chmod(tmp, 0o755); err != nil {
		return nil, err
	}
	limit := b.MaxArtifact
	if limit <= 0 {
		limit = DefaultMaxArtifact
	}
	var files []string
	for _, n := range names {
		if !slices.Contains(artifactExt, filepath.Ext(n)) {
			continue
		}
		if err := copyArtifact(dir, n, filepath.Join(tmp, n), limit); err != nil {
			return nil, err
		}
		files = append(files, n)
	}
	if !slices.ContainsFunc(files, func(f string) bool { return strings.HasSuffix(f, ".deb") || strings.HasSuffix(f, ".udeb") }) {
		return nil, fmt.Errorf("dpkg-buildpackage produced no .deb in %s", buildDir)
	}
	if err := replaceDir(tmp, dest); err != nil {
		return nil, err
	}
	for i, f := range files {
		files[i] = filepath.Join(dest, f)
	}
	return files, nil
}

// copyArtifact copies the regular file name in dir to dst (mode 0644),
// reading at most limit bytes.
func copyArtifact(dir *os.File, name, dst string, limit int64) error {
	in, _, err := regularfile.OpenIn(dir, name, limit)
	var r *regularfile.Refusal
	if errors.As(err, &r) {
		return fmt.Errorf("build result %s %s: only regular files of at most %d bytes leave a build", name, r.Msg, limit)
	}
	if err != nil {
		return fmt.Errorf("build result %s: %w", name, err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	n, err := io.Copy(out, io.LimitReader(in, limit+1))
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil && n > limit {
		err = fmt.Errorf("build result %s grew beyond %d bytes while it was copied", name, limit)
	}
	return err
}

// replaceDir renames tmp to dest, replacing an earlier dest only once tmp
// is complete.
func replaceDir(tmp, dest string) error {
	old := dest + ".old"
	_ = os.RemoveAll(old)
	if err := os.Rename(dest, old); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if err := os.Rename(tmp, dest); err != nil {
		_ = os.Rename(old, dest)
		return err
	}
	_ = os.RemoveAll(old)
	return nil
}
