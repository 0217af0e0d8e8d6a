package image

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"time"

	"github.com/stx-build/stx-build/manifests"
	"github.com/stx-build/stx-build/rootfs"
	"github.com/stx-build/stx-build/workspace"
)

// ErrNoImages is the error (wrapped) of a project without image
// manifests.
var ErrNoImages = errors.New("no images")

// Selection is what a project's image build makes: which images, for
// which architectures.
type Selection struct {
	// All are the project's images (manifests.LoadImages), among them the
	// bases of the selected ones.
	All []*manifests.Image
	// Images are the images to build, in the order named.
	Images []*manifests.Image
	// Archs are the architectures to build (packages first, then the
	// images built for them), in order.
	Archs   []string
	project *manifests.Project
}

// Select loads the project's images and chooses names (default: every
// image) and archs: each must be one the project builds (else a
// *workspace.ArchError); default: every project architecture some
// selected image is built for, in the project's order. Without image
// manifests the error wraps ErrNoImages. A malformed SOURCE_DATE_EPOCH is
// refused here, before anything is built.
func Select(ws *workspace.Workspace, names, archs []string) (*Selection, error) {
	if _, _, err := ws.SourceDateEpoch(); err != nil {
		return nil, err
	}
	p := ws.Project
	all, err := manifests.LoadImages(p)
	if err != nil {
		return nil, err
	}
	if len(all) == 0 {
		return nil, fmt.Errorf("%s: %w (add %s/<name>.yaml)", p.Dir, ErrNoImages, manifests.ImagesDir)
	}
	sel := &Selection{All: all, project: p}
	if len(names) == 0 {
		sel.Images = slices.Clone(all)
	}
	for _, n := range names {
		img := manifests.ImageByName(all, n)
		if img == nil {
			return nil, fmt.Errorf("no image %q in %s/", n, filepath.Join(p.Dir, manifests.ImagesDir))
		}
		sel.Images = append(sel.Images, img)
	}
	if len(archs) > 0 {
		sel.Archs, err = ws.Archs(archs)
		return sel, err
	}
	for _, a := range p.Architectures {
		for _, img := range sel.Images {
			if slices.Contains(img.ImageArchitectures(p), a) && !slices.Contains(sel.Archs, a) {
				sel.Archs = append(sel.Archs, a)
			}
		}
	}
	return sel, nil
}

// ArchsOf returns the selected architectures img is built for (none: img
// is skipped).
func (s *Selection) ArchsOf(img *manifests.Image) []string {
	var archs []string
	for _, a := range s.Archs {
		if slices.Contains(img.ImageArchitectures(s.project), a) {
			archs = append(archs, a)
		}
	}
	return archs
}

// BuildProject builds the selected images, each for the selected
// architectures it is built for, from the project's packages in
// OUT/<arch>/repo (built before, as stx-build build leaves them). opts
// come after the workspace's defaults, so they override them:
// WithProject (the project and all its images), WithOutDir
// (Workspace.OutDir), WithWorkDir (image-work in the cache directory),
// WithRootCache (rootfs.ArchiveRootsDir in the cache directory),
// WithLayerCache (LayersDir in the cache directory),
// WithLocalRepos (OUT/<arch>/repo of the output directory in use),
// WithChangelogs (of the local packages) and WithSourceDateEpoch (the
// workspace's, when set). Status gets a line for each image skipped (built
// for none of the architectures) and each image's summary
// (Result.WriteText). It returns the images built, also those built before
// an error.
func BuildProject(ctx context.Context, ws *workspace.Workspace, sel *Selection, opts ...Option) ([]*Result, error) {
	b, err := newProjectBuilder(ctx, ws, sel, opts)
	if err != nil {
		return nil, err
	}
	var results []*Result
	for _, img := range sel.Images {
		archs := sel.ArchsOf(img)
		if len(archs) == 0 {
			fmt.Fprintf(b.status, "image %s: not built for %v, skipped\n", img.Name, sel.Archs)
			continue
		}
		res, err := b.Build(ctx, img.Name, archs)
		if err != nil {
			return results, err
		}
		res.WriteText(b.status)
		results = append(results, res)
	}
	return results, nil
}

// newProjectBuilder is a Builder with the workspace's defaults and opts.
func newProjectBuilder(ctx context.Context, ws *workspace.Workspace, sel *Selection, opts []Option) (*Builder, error) {
	if sel == nil {
		return nil, errors.New("image: no selection (Select)")
	}
	out, err := ws.OutDir("")
	if err != nil {
		return nil, err
	}
	base := []Option{
		WithProject(ws.RootsProject(), sel.All),
		WithOutDir(out),
		WithWorkDir(filepath.Join(ws.CacheDir(), "image-work")),
		WithRootCache(filepath.Join(ws.CacheDir(), rootfs.ArchiveRootsDir)),
		WithLayerCache(filepath.Join(ws.CacheDir(), LayersDir)),
	}
	epoch, ok, err := ws.SourceDateEpoch()
	if err != nil {
		return nil, err
	}
	if ok {
		base = append(base, WithSourceDateEpoch(epoch))
	}
	changelogs, err := localChangelogs(ctx, ws)
	if err != nil {
		return nil, err
	}
	base = append(base, WithChangelogs(changelogs))
	b, err := New(append(base, opts...)...)
	if err != nil {
		return nil, err
	}
	if b.repos == nil {
		b.repos = map[string]string{}
		for _, a := range sel.Archs {
			b.repos[a] = workspace.RepoDir(b.outDir, a)
		}
	}
	if b.keyring == "" {
		if b.keyring, err = ws.SignRepos(ctx, b.repos); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// localChangelogs are the dates of the newest changelog entries of the
// project's local packages, by package name.
func localChangelogs(ctx context.Context, ws *workspace.Workspace) (map[string]time.Time, error) {
	prepared, err := ws.Prepare(ctx)
	if err != nil {
		return nil, err
	}
	dates := map[string]time.Time{}
	for _, pr := range prepared {
		if !pr.Changelog.Date.IsZero() {
			dates[pr.Package.Name] = pr.Changelog.Date
		}
	}
	return dates, nil
}

// WriteText writes a summary of r: the index digest, the layout, and one
// line per platform with its SBOM.
func (r *Result) WriteText(w io.Writer) {
	fmt.Fprintf(w, "image %s: %s in %s\n", r.Name, r.Digest, r.Duration.Round(100*time.Millisecond))
	fmt.Fprintf(w, "  layout: %s (oci:%s:%s)\n", r.Layout, r.Layout, LayoutTag)
	for _, pr := range r.Platforms {
		fmt.Fprintf(w, "  %-16s %s  %d packages, %d layer(s), %.1f MiB compressed, %.1f MiB uncompressed, epoch %s\n",
			pr.Platform.String(), pr.Manifest, len(pr.Packages), len(pr.Layers),
			float64(pr.Size)/(1<<20), float64(pr.Uncompressed)/(1<<20), pr.Epoch.Format(time.RFC3339))
		fmt.Fprintf(w, "  %-16s %s  sbom: %s\n", "", pr.SBOMDigest, pr.SBOM)
	}
}

// SaveDockerArchive writes r's image for one architecture, this machine's
// when it was built, else the first, to file as a docker-archive tarball
// tagged localhost/<name>:latest (docker load takes one platform). It
// returns the architecture and the tag.
func SaveDockerArchive(r *Result, file string) (arch, tag string, err error) {
	if len(r.Platforms) == 0 {
		return "", "", fmt.Errorf("image %s: no platform to save", r.Name)
	}
	arch = r.Platforms[0].Arch
	for _, pr := range r.Platforms {
		if pr.Arch == workspace.HostArch() {
			arch = pr.Arch
		}
	}
	tag = "localhost/" + r.Name + ":" + LayoutTag
	return arch, tag, WriteDockerArchive(r.Layout, arch, file, tag)
}
