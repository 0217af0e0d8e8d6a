package workspace

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/stx-build/stx-build/debsrc"
	"github.com/stx-build/stx-build/manifests/starlingx"
	"github.com/stx-build/stx-build/sources"
)

// assembleDLPath makes the source tree of a dl_path package the way
// debrepack.py does: the tarball fetched and verified, its single top
// directory stripped; the dl_files beside it (topdir: null copies the
// file in, topdir: X unpacks it into X/); deb_folder copied over debian/;
// deb_patches applied with patch -p1; then what every tree package gets
// (finishTree). It returns the tree's directory, or the reason it could
// not be made.
func (w *Workspace) assembleDLPath(ctx context.Context, f *sources.Fetcher, sp *starlingx.Package) (string, error) {
	base, tmp, err := w.stxWorkDir(sp)
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	src := filepath.Join(tmp, "src")
	dl := sp.Meta.DLPath
	tarball, err := w.fetchDownload(ctx, f, *dl)
	if err != nil {
		return "", fmt.Errorf("dl_path: %w", err)
	}
	if err := unpackStripped(ctx, tarball, src, filepath.Join(tmp, "unpack")); err != nil {
		return "", fmt.Errorf("dl_path %s: %w", dl.Name, err)
	}
	for _, d := range sp.Meta.DLFiles {
		file, err := w.fetchDownload(ctx, f, d)
		if err != nil {
			return "", fmt.Errorf("dl_files %s: %w", d.Name, err)
		}
		if d.Topdir == "" {
			err = copyFile(file, filepath.Join(src, d.Name), 0o644)
		} else {
			err = unpackStripped(ctx, file, filepath.Join(src, d.Topdir), filepath.Join(tmp, "unpack-"+d.Name))
		}
		if err != nil {
			return "", fmt.Errorf("dl_files %s: %w", d.Name, err)
		}
	}
	if err := w.overlayDebian(ctx, sp, src); err != nil {
		return "", err
	}
	return w.finishTree(ctx, sp, base, src)
}

// assembleDebian makes the source tree of an archive or apt package from
// its fetched .dsc the way debrepack.py does: dpkg-source -x (the
// package's own patches applied; apt verified the files against the
// signed index), deb_folder copied over debian/, deb_patches applied with
// patch -p1, then what every tree package gets (finishTree).
func (w *Workspace) assembleDebian(ctx context.Context, sp *starlingx.Package, dsc string) (string, error) {
	base, tmp, err := w.stxWorkDir(sp)
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	src := filepath.Join(tmp, "src")
	cmd := exec.CommandContext(ctx, "dpkg-source", "--no-check", "-x", dsc, src)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("dpkg-source -x %s: %v: %s", filepath.Base(dsc), err, strings.TrimSpace(out.String()))
	}
	if err := w.overlayDebian(ctx, sp, src); err != nil {
		return "", err
	}
	return w.finishTree(ctx, sp, base, src)
}

// stxWorkDir returns the cache directory of assembled trees and a fresh
// temporary directory in it.
func (w *Workspace) stxWorkDir(sp *starlingx.Package) (string, string, error) {
	base := filepath.Join(w.opts.CacheDir, "starlingx")
	if err := os.MkdirAll(base, 0o755); err != nil {
		return "", "", err
	}
	tmp, err := os.MkdirTemp(base, sp.Name+".tmp-")
	return base, tmp, err
}

// finishTree does what every assembled tree gets: src_files and files/
// copied in, @KERNEL_TYPE@ replaced, patches/ appended to the series, a
// changelog entry for <version><dist>.<N>; then it moves the tree to
// base/<name>_<version> and returns that.
func (w *Workspace) finishTree(ctx context.Context, sp *starlingx.Package, base, src string) (string, error) {
	tr := w.stx.tree
	for _, f := range tr.SrcFiles(sp) {
		if err := copyIn(tr.Root, f, filepath.Join(src, filepath.Base(f)), 0); err != nil {
			return "", fmt.Errorf("src_files: %w", err)
		}
	}
	if sp.Files != "" {
		// Every file under files/ lands in the source root, flattened, as
		// debrepack.py copy_custom_files copies them.
		err := filepath.WalkDir(sp.Files, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			return copyIn(tr.Root, p, filepath.Join(src, d.Name()), 0)
		})
		if err != nil {
			return "", fmt.Errorf("files: %w", err)
		}
	}
	debian := filepath.Join(src, "debian")
	if err := substituteKernelType(debian, kernelType(w.Project.StarlingX.BuildType)); err != nil {
		return "", err
	}
	if err := applySrcPatches(ctx, tr.Root, src, sp.Patches); err != nil {
		return "", err
	}
	if err := mergeIndepControl(filepath.Join(debian, "control")); err != nil {
		return "", err
	}
	clFile := filepath.Join(debian, "changelog")
	data, err := os.ReadFile(clFile)
	if err != nil {
		return "", fmt.Errorf("the assembled source has no debian/changelog: %w", err)
	}
	cl, err := debsrc.ParseChangelog(clFile, data)
	if err != nil {
		return "", err
	}
	rev := tr.Revision(ctx, sp)
	if rev.Note != "" {
		fmt.Fprintf(w.opts.Log, "starlingx: %s: version %s%s: %s\n", sp.Name, cl.Version, rev.Suffix, rev.Note)
	}
	if rev.Suffix != "" {
		if err := addChangelogEntry(clFile, cl.Source, cl.Version+rev.Suffix); err != nil {
			return "", err
		}
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

// fetchDownload fetches a dl_path or dl_files entry through the one
// fetcher. A URL into a Debian pool ("/pool/") is tried at the project's
// mirror too when its own host does not answer: the checksum decides.
func (w *Workspace) fetchDownload(ctx context.Context, f *sources.Fetcher, d starlingx.Download) (string, error) {
	urls := []string{d.URL}
	if i := strings.Index(d.URL, "/pool/"); i >= 0 && w.Project.Mirror != "" {
		urls = append(urls, strings.TrimSuffix(w.Project.Mirror, "/")+d.URL[i:])
	}
	var errs []string
	for _, u := range urls {
		p, err := f.FetchURL(ctx, sources.Download{URL: u, SHA256: d.SHA256, MD5: d.MD5})
		if err == nil {
			return p, nil
		}
		errs = append(errs, err.Error())
	}
	return "", fmt.Errorf("%s", strings.Join(errs, "; "))
}

// unpackStripped unpacks the archive file into dir, without its single
// top directory when it has one (StarlingX's tarballs do). tar runs
// without owners or permissions from the archive; an entry that is a
// link out of the tree, or neither file, directory nor link, is refused.
func unpackStripped(ctx context.Context, file, dir, work string) error {
	if err := os.MkdirAll(work, 0o755); err != nil {
		return err
	}
	defer os.RemoveAll(work)
	cmd := exec.CommandContext(ctx, "tar", "-x", "--no-same-owner", "--no-same-permissions", "-f", file, "-C", work)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("unpack %s: %v: %s", filepath.Base(file), err, strings.TrimSpace(stderr.String()))
	}
	if err := checkUnpacked(work); err != nil {
		return fmt.Errorf("unpack %s: %w", filepath.Base(file), err)
	}
	top := work
	if entries, err := os.ReadDir(work); err == nil && len(entries) == 1 && entries[0].IsDir() {
		top = filepath.Join(work, entries[0].Name())
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return err
	}
	if _, err := os.Stat(dir); err == nil {
		// Unpacking into an existing directory (a topdir inside the
		// source): move the entries over.
		entries, err := os.ReadDir(top)
		if err != nil {
			return err
		}
		for _, e := range entries {
			if err := os.Rename(filepath.Join(top, e.Name()), filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
		return nil
	}
	return os.Rename(top, dir)
}

// checkUnpacked refuses symlinks that lead out of root and special files.
func checkUnpacked(root string) error {
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch t := d.Type(); {
		case t.IsDir(), t.IsRegular():
			return nil
		case t&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			if !filepath.IsAbs(target) {
				target = filepath.Join(filepath.Dir(p), target)
			}
			if target = filepath.Clean(target); target != root && !strings.HasPrefix(target, root+string(filepath.Separator)) {
				return fmt.Errorf("%s is a link out of the archive", strings.TrimPrefix(p, root+"/"))
			}
			return nil
		}
		return fmt.Errorf("%s is a %s", strings.TrimPrefix(p, root+"/"), d.Type())
	})
}

// applyPatch applies a patch with patch -p1 in dir, as StarlingX applies
// deb_patches.
func applyPatch(ctx context.Context, dir, patch string) error {
	cmd := exec.CommandContext(ctx, "patch", "-p1", "--batch", "--no-backup-if-mismatch", "-d", dir, "-i", patch)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %v: %s", filepath.Base(patch), err, strings.TrimSpace(out.String()))
	}
	return nil
}
