package workspace

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/stx-build/stx-build/debsrc"
	"github.com/stx-build/stx-build/manifests/starlingx"
)

// maxCopyDepth bounds directory nesting (and symlink loops) when a tree
// package's source is assembled.
const maxCopyDepth = 64

// assembleSrcPath makes the source tree of a src_path package in the
// cache the way debrepack.py does: the src_path directory (empty for
// null), the src_files and files/ copied into its root, deb_folder as
// debian/, @KERNEL_TYPE@ replaced in every debian file, patches/ appended
// to debian/patches/series, and a changelog entry for
// <version><dist>.<N>. It returns the tree's directory.
func (w *Workspace) assembleSrcPath(ctx context.Context, sp *starlingx.Package, cl debsrc.Changelog) (string, error) {
	tr := w.stx.tree
	base := filepath.Join(w.opts.CacheDir, "starlingx")
	if err := os.MkdirAll(base, 0o755); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(base, sp.Name+".tmp-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	src := filepath.Join(tmp, "src")
	if d := tr.SrcPath(sp); d != "" {
		if err := copyIn(tr.Root, d, src, 0); err != nil {
			return "", fmt.Errorf("src_path: %w", err)
		}
	} else if err := os.MkdirAll(src, 0o755); err != nil {
		return "", err
	}
	for _, f := range tr.SrcFiles(sp) {
		if err := copyIn(tr.Root, f, filepath.Join(src, filepath.Base(f)), 0); err != nil {
			return "", fmt.Errorf("src_files: %w", err)
		}
	}
	if sp.Files != "" {
		if err := copyIn(tr.Root, sp.Files, src, 0); err != nil {
			return "", fmt.Errorf("files: %w", err)
		}
	}
	debian := filepath.Join(src, "debian")
	if err := copyIn(tr.Root, sp.DebFolder, debian, 0); err != nil {
		return "", fmt.Errorf("deb_folder: %w", err)
	}
	if err := substituteKernelType(debian, kernelType(w.Project.StarlingX.BuildType)); err != nil {
		return "", err
	}
	if err := appendPatches(tr.Root, debian, sp.Patches); err != nil {
		return "", err
	}
	rev := tr.Revision(ctx, sp)
	if rev.Note != "" {
		fmt.Fprintf(w.opts.Log, "starlingx: %s: version %s%s: %s\n", sp.Name, cl.Version, rev.Suffix, rev.Note)
	}
	if err := addChangelogEntry(filepath.Join(debian, "changelog"), cl.Source, cl.Version+rev.Suffix); err != nil {
		return "", err
	}
	final := filepath.Join(base, sp.Name+"_"+strings.ReplaceAll(cl.Version+rev.Suffix, ":", "%"))
	if err := os.RemoveAll(final); err != nil {
		return "", err
	}
	if err := os.Rename(src, final); err != nil {
		return "", err
	}
	return final, nil
}

// copyIn copies the file or directory from into to, following symlinks
// that stay inside root (cp -rL, as StarlingX copies) and refusing those
// that leave it and anything that is neither file nor directory.
func copyIn(root, from, to string, depth int) error {
	if depth > maxCopyDepth {
		return fmt.Errorf("%s: nested too deeply (a symlink loop?)", from)
	}
	real, err := filepath.EvalSymlinks(from)
	if err != nil {
		return err
	}
	if real != root && !strings.HasPrefix(real, root+string(filepath.Separator)) {
		return fmt.Errorf("%s leads outside the tree (to %s)", from, real)
	}
	fi, err := os.Stat(real)
	if err != nil {
		return err
	}
	switch {
	case fi.IsDir():
		if err := os.MkdirAll(to, 0o755); err != nil {
			return err
		}
		entries, err := os.ReadDir(real)
		if err != nil {
			return err
		}
		for _, e := range entries {
			if e.Name() == ".git" {
				continue
			}
			if err := copyIn(root, filepath.Join(real, e.Name()), filepath.Join(to, e.Name()), depth+1); err != nil {
				return err
			}
		}
		return nil
	case fi.Mode().IsRegular():
		return copyFile(real, to, fi.Mode().Perm()&0o755|0o644)
	}
	return fmt.Errorf("%s is a %s, not a file or directory", from, fi.Mode().Type())
}

func copyFile(from, to string, perm fs.FileMode) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		return err
	}
	out, err := os.OpenFile(to, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// substituteKernelType replaces @KERNEL_TYPE@ in every file under debian.
func substituteKernelType(debian, ktype string) error {
	return filepath.WalkDir(debian, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil || !bytes.Contains(data, []byte("@KERNEL_TYPE@")) {
			return err
		}
		return os.WriteFile(p, bytes.ReplaceAll(data, []byte("@KERNEL_TYPE@"), []byte(ktype)), 0o644)
	})
}

// appendPatches copies the patches of patches/series into debian/patches
// and appends them to its series, as StarlingX does for 3.0 (quilt)
// sources; a source of another format has no series to append to, which
// is refused rather than patched differently.
func appendPatches(root, debian string, patches []string) error {
	if len(patches) == 0 {
		return nil
	}
	format, _ := os.ReadFile(filepath.Join(debian, "source", "format"))
	if strings.TrimSpace(string(format)) != "3.0 (quilt)" {
		return fmt.Errorf("patches/: applying patches to a %q source is not supported yet (only 3.0 (quilt))", strings.TrimSpace(string(format)))
	}
	dir := filepath.Join(debian, "patches")
	var series bytes.Buffer
	if old, err := os.ReadFile(filepath.Join(dir, "series")); err == nil {
		series.Write(old)
		if len(old) > 0 && old[len(old)-1] != '\n' {
			series.WriteByte('\n')
		}
	}
	for _, p := range patches {
		// Keep the subdirectory under patches/ (StarlingX allows them).
		rel := filepath.Base(p)
		if i := strings.LastIndex(p, string(filepath.Separator)+"patches"+string(filepath.Separator)); i >= 0 {
			rel = p[i+len("/patches/"):]
		}
		if err := copyIn(root, p, filepath.Join(dir, rel), 0); err != nil {
			return fmt.Errorf("patches: %w", err)
		}
		series.WriteString(rel + "\n")
	}
	return os.WriteFile(filepath.Join(dir, "series"), series.Bytes(), 0o644)
}

// addChangelogEntry puts an entry for version on top of a changelog, by
// the top entry's maintainer and date, so the tree stays reproducible
// (StarlingX's dch -v writes the build's time instead).
func addChangelogEntry(file, source, version string) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	trailer := ""
	for _, l := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(l, " -- ") {
			trailer = l
			break
		}
	}
	if trailer == "" {
		return fmt.Errorf("%s: no trailer line in the top entry", file)
	}
	entry := fmt.Sprintf("%s (%s) stable; urgency=medium\n\n  * Built from the StarlingX tree by stx-build.\n\n%s\n\n", source, version, trailer)
	return os.WriteFile(file, append([]byte(entry), data...), 0o644)
}
