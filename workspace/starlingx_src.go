package workspace

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/stx-build/stx-build/graph"
	"github.com/stx-build/stx-build/internal/regularfile"
	"github.com/stx-build/stx-build/manifests/starlingx"
)

// maxCopyDepth bounds directory nesting (and symlink loops) when a tree
// package's source is assembled.
const maxCopyDepth = 64

// assembleSrcPath makes the source tree of a src_path package in the
// cache the way debrepack.py does: the src_path directory (empty for
// null) with deb_folder as debian/, then what every tree package gets
// (finishTree: src_files, files/ flattened, @KERNEL_TYPE@, patches/, the
// version).
// It returns the tree's directory.
func (w *Workspace) assembleSrcPath(ctx context.Context, sp *starlingx.Package) (string, error) {
	tr := w.stx.tree
	base, tmp, err := w.stxWorkDir(sp)
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
	if err := copyIn(tr.Root, sp.DebFolder, filepath.Join(src, "debian"), 0); err != nil {
		return "", fmt.Errorf("deb_folder: %w", err)
	}
	return w.finishTree(ctx, sp, base, src)
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

// copyFile copies the regular file from to to, making to's directory.
func copyFile(from, to string, perm fs.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		return err
	}
	return regularfile.Copy(from, to, perm)
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

// applySrcPatches applies the patches of patches/series as debrepack.py
// apply_src_patches does: for a 3.0 (quilt) source they are copied into
// debian/patches and appended to its series (dpkg-source applies them);
// for 1.0 and 3.0 (native) they are applied now with patch -p1.
func applySrcPatches(ctx context.Context, root, src string, patches []string) error {
	if len(patches) == 0 {
		return nil
	}
	debian := filepath.Join(src, "debian")
	format, _ := os.ReadFile(filepath.Join(debian, "source", "format"))
	if strings.TrimSpace(string(format)) != "3.0 (quilt)" {
		for _, p := range patches {
			if err := applyPatch(ctx, src, p); err != nil {
				return fmt.Errorf("patches: %w", err)
			}
		}
		return nil
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

// StarlingX builds with sbuild, which installs Build-Depends-Indep for
// every package; some of its packages rely on that (fm-mgr takes fmAPI.h
// from fm-common-dev, named in Build-Depends-Indep, though it builds no
// Architecture: all binary, so dpkg-buildpackage -B would not install it).
// A tree package without Architecture: all binaries therefore gets its
// Build-Depends-Indep merged into Build-Depends: in the graph
// (mergeIndepDeps) and in the assembled debian/control (mergeIndepControl).

// mergeIndepDeps moves Build-Depends-Indep into Build-Depends of a source
// that builds no Architecture: all binary.
func mergeIndepDeps(src *graph.Source) {
	for i := range src.Binaries {
		if src.Binaries[i].IsIndep() {
			return
		}
	}
	src.BuildDepends.Relations = append(src.BuildDepends.Relations[:len(src.BuildDepends.Relations):len(src.BuildDepends.Relations)], src.BuildDependsIndep.Relations...)
	src.BuildDependsIndep.Relations = nil
}

var archAll = regexp.MustCompile(`(?mi)^Architecture:\s*all\s*$`)

// mergeIndepControl rewrites debian/control of an assembled tree the same
// way: the source stanza's Build-Depends-Indep joins its Build-Depends,
// when no binary stanza is Architecture: all.
func mergeIndepControl(file string) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	text := string(data)
	if archAll.MatchString(text) {
		return nil
	}
	lines := strings.Split(text, "\n")
	// The source stanza ends at the first blank line.
	end := len(lines)
	for i, l := range lines {
		if strings.TrimSpace(l) == "" {
			end = i
			break
		}
	}
	field := func(name string) (int, int) { // first line, one past the last
		for i := 0; i < end; i++ {
			if k, _, ok := strings.Cut(lines[i], ":"); ok && strings.EqualFold(strings.TrimSpace(k), name) && lines[i][0] != ' ' && lines[i][0] != '\t' {
				j := i + 1
				for j < end && (strings.HasPrefix(lines[j], " ") || strings.HasPrefix(lines[j], "\t")) {
					j++
				}
				return i, j
			}
		}
		return -1, -1
	}
	is, ie := field("Build-Depends-Indep")
	if is < 0 {
		return nil
	}
	_, v, _ := strings.Cut(strings.Join(lines[is:ie], "\n"), ":")
	indep := strings.TrimSpace(v)
	lines = append(lines[:is], lines[ie:]...)
	end -= ie - is
	if bs, be := field("Build-Depends"); bs >= 0 && indep != "" {
		lines[be-1] = strings.TrimRight(lines[be-1], " ,") + ",\n " + indep
	} else if indep != "" {
		lines = append(lines[:end], append([]string{"Build-Depends: " + indep}, lines[end:]...)...)
	}
	return os.WriteFile(file, []byte(strings.Join(lines, "\n")), 0o644)
}
