// Package image builds reproducible multi-architecture OCI images from
// Debian packages: for each architecture the root filesystem is assembled
// by mmdebstrap (rootfs.Assemble: the project's local repository plus the
// archive, maintainer scripts run, qemu-user for a foreign architecture),
// normalized, and written as layers by this package's own tar writer
// (sorted entries, clamped mtimes, numeric owners, hard links, kept
// xattrs, fixed gzip). The per-architecture images and their SPDX SBOMs go
// into one OCI image index, written as an OCI layout.
//
// The same inputs (manifests, local packages, archive state,
// SOURCE_DATE_EPOCH) give the same index digest.
package image

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sync/errgroup"

	"github.com/stx-build/stx-build/layer"
	"github.com/stx-build/stx-build/manifests"
	"github.com/stx-build/stx-build/rootfs"
)

// AssembleFunc makes a root filesystem (rootfs.Assemble; tests swap in a
// fake).
type AssembleFunc func(ctx context.Context, spec rootfs.AssembleSpec, target string, log io.Writer) error

// Builder builds the images of one project.
type Builder struct {
	project    *manifests.Project
	images     []*manifests.Image
	repos      map[string]string
	keyring    string
	outDir     string
	workDir    string
	rootCache  string
	layerCache string
	epoch      *time.Time
	changelogs map[string]time.Time
	assemble   AssembleFunc
	status     io.Writer
	log        io.Writer
	parallel   int
	record     func(arch, root string) error
}

// Option configures a Builder.
type Option func(*Builder)

// WithProject sets the project and all of its images (LoadImages), so
// base images can be found.
func WithProject(p *manifests.Project, images []*manifests.Image) Option {
	return func(b *Builder) { b.project, b.images = p, images }
}

// WithLocalRepos sets the project's apt repository directory per
// architecture (buildrun's OUT/<arch>/repo).
func WithLocalRepos(byArch map[string]string) Option {
	return func(b *Builder) { b.repos = byArch }
}

// WithRepoKeyring sets the public keyring that verifies the local
// repositories (signed-by=; see repo.Signer); without it they are
// trusted unchecked.
func WithRepoKeyring(path string) Option { return func(b *Builder) { b.keyring = path } }

// WithOutDir sets where images are written: OUT/images/<name>/ (an OCI
// layout) and OUT/images/<name>-<arch>.spdx.json.
func WithOutDir(dir string) Option { return func(b *Builder) { b.outDir = dir } }

// WithWorkDir sets the scratch directory for roots and layers (default:
// the system temporary directory). It needs room for two roots per
// architecture being built.
func WithWorkDir(dir string) Option { return func(b *Builder) { b.workDir = dir } }

// WithRootCache sets the directory of cached archive roots
// (rootfs.AssembleSpec.Cache): the archive part of each root is made once
// and the project's packages are installed on top of a copy, with the
// same result as a root made from nothing. Default: none, every root is
// made from nothing (its archive part in the work directory, removed
// after); BuildProject uses archive-roots in the cache directory.
func WithRootCache(dir string) Option { return func(b *Builder) { b.rootCache = dir } }

// WithLayerCache sets the directory of cached archive layers (see
// archivelayer.go). Default: none, made for each build in the work
// directory; BuildProject uses LayersDir in the cache directory.
func WithLayerCache(dir string) Option { return func(b *Builder) { b.layerCache = dir } }

// WithSourceDateEpoch fixes SOURCE_DATE_EPOCH instead of deriving it from
// the changelogs.
func WithSourceDateEpoch(t time.Time) Option {
	return func(b *Builder) { t := t.UTC(); b.epoch = &t }
}

// WithChangelogs gives the date of the newest changelog entry of each
// local source package (workspace.Prepared.Changelog): an image's
// SOURCE_DATE_EPOCH is the newest among the local packages it installs.
func WithChangelogs(dates map[string]time.Time) Option {
	return func(b *Builder) { b.changelogs = dates }
}

// WithAssembler replaces rootfs.Assemble.
func WithAssembler(f AssembleFunc) Option { return func(b *Builder) { b.assemble = f } }

// WithStatus sets where progress lines go; WithLog where mmdebstrap's
// output goes. Both default to discard.
func WithStatus(w io.Writer) Option { return func(b *Builder) { b.status = w } }

// WithLog: see WithStatus.
func WithLog(w io.Writer) Option { return func(b *Builder) { b.log = w } }

// WithParallel sets how many architectures are built at once (default 2).
func WithParallel(n int) Option { return func(b *Builder) { b.parallel = n } }

// WithRootRecorder calls record with every root assembled, before it is
// normalized (rootfs.AssembleSpec.Record): how stx-build lock learns an
// image's archive packages.
func WithRootRecorder(record func(arch, root string) error) Option {
	return func(b *Builder) { b.record = record }
}

// New returns a Builder. WithProject and WithOutDir are required.
func New(opts ...Option) (*Builder, error) {
	b := &Builder{assemble: rootfs.Assemble, status: io.Discard, log: io.Discard, parallel: 2}
	for _, o := range opts {
		o(b)
	}
	if b.project == nil {
		return nil, errors.New("image: no project (WithProject)")
	}
	if b.outDir == "" {
		return nil, errors.New("image: no output directory (WithOutDir)")
	}
	if b.parallel < 1 {
		b.parallel = 1
	}
	return b, nil
}

// Result describes a built image.
type Result struct {
	Name string
	// Layout is the OCI layout directory; its index.json has one entry,
	// the image index, tagged "latest".
	Layout string
	// Digest is the image index's digest.
	Digest v1.Hash
	// Platforms are the per-architecture images, sorted by platform.
	Platforms []PlatformResult
	Duration  time.Duration
}

// PlatformResult is one architecture's image.
type PlatformResult struct {
	Arch     string
	Platform v1.Platform
	// Manifest is the image manifest's digest.
	Manifest v1.Hash
	// Size is the compressed size (manifest, config and layers);
	// Uncompressed the sum of the layers' tar sizes.
	Size, Uncompressed int64
	Layers             []LayerInfo
	Epoch              time.Time
	// Packages is what dpkg lists as installed.
	Packages []Package
	// SBOM is the SPDX JSON file written beside the layout, SBOMDigest
	// the artifact manifest's digest in the index.
	SBOM       string
	SBOMDigest v1.Hash
	Duration   time.Duration
}

// LayerInfo describes one layer.
type LayerInfo struct {
	Digest, DiffID v1.Hash
	Size, TarSize  int64
	Entries        int
	CreatedBy      string
}

// Build builds the image name for archs (default: the image's
// architectures) and writes it to OUT/images/<name>/.
func (b *Builder) Build(ctx context.Context, name string, archs []string) (*Result, error) {
	start := time.Now()
	img := manifests.ImageByName(b.images, name)
	if img == nil {
		var names []string
		for _, i := range b.images {
			names = append(names, i.Name)
		}
		return nil, fmt.Errorf("image %q: no images/%s.yaml in the project (images: %s)", name, name, strings.Join(names, ", "))
	}
	own := img.ImageArchitectures(b.project)
	if len(archs) == 0 {
		archs = own
	}
	for _, a := range archs {
		if !slices.Contains(own, a) {
			return nil, fmt.Errorf("image %s: architecture %s is not built (%s: architectures %v)", name, a, img.Display, own)
		}
	}
	archs = slices.Clone(archs)
	slices.Sort(archs)
	if err := os.MkdirAll(filepath.Join(b.outDir, "images"), 0o755); err != nil {
		return nil, err
	}
	workParent := b.workDir
	if workParent != "" {
		if err := os.MkdirAll(workParent, 0o755); err != nil {
			return nil, err
		}
	}
	work, err := os.MkdirTemp(workParent, "stx-image-"+name+"-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(work)

	chain := manifests.BaseChain(b.images, img)
	built := make([]*archImage, len(archs))
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(b.parallel)
	for i, arch := range archs {
		g.Go(func() error {
			ai, err := b.buildArch(gctx, chain, arch, filepath.Join(work, arch), &mu)
			if err != nil {
				return fmt.Errorf("image %s (%s): %w", name, arch, err)
			}
			built[i] = ai
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	res, err := b.write(name, built)
	if err != nil {
		return nil, err
	}
	res.Duration = time.Since(start)
	return res, nil
}

// archImage is one architecture's built image, before it is written.
type archImage struct {
	arch     string
	platform v1.Platform
	image    v1.Image
	layers   []*layer.File
	history  []string
	epoch    time.Time
	packages []Package
	sbom     []byte
	artifact v1.Image
	duration time.Duration
}

// buildArch builds the image for one architecture: each image of the
// chain (bases first) adds one layer, the difference between its root and
// the one below.
func (b *Builder) buildArch(ctx context.Context, chain []*manifests.Image, arch, work string, mu *sync.Mutex) (*archImage, error) {
	start := time.Now()
	if err := os.MkdirAll(work, 0o755); err != nil {
		return nil, err
	}
	platform, err := Platform(arch)
	if err != nil {
		return nil, err
	}
	local, err := readLocalRepo(b.repos[arch], arch)
	if err != nil {
		return nil, err
	}
	var localRepos []string
	if d := b.repos[arch]; d != "" {
		if _, err := os.Stat(d); err == nil {
			localRepos = []string{d}
		}
	}
	top := chain[len(chain)-1]
	ai := &archImage{arch: arch, platform: platform}
	var (
		below   v1.Image
		prevDir string
		cfg     v1.Config
		pkgs    []string
		cleanup []string
	)
	rootCache, layerCache := b.rootCache, b.layerCache
	if rootCache == "" {
		rootCache = filepath.Join(work, rootfs.ArchiveRootsDir)
	}
	if layerCache == "" {
		layerCache = filepath.Join(work, LayersDir)
	}
	for level, img := range chain {
		pkgs = append(pkgs, img.Packages...)
		cleanup = append(cleanup, img.Cleanup...)
		epoch := b.epochFor(local, pkgs)
		root := filepath.Join(work, fmt.Sprintf("root%d", level))
		spec := rootfs.AssembleSpec{
			Suite: b.project.Suite, Arch: arch, Variant: chain[0].EffectiveVariant(),
			Packages: pkgs, ProjectRepos: localRepos, Mirror: b.project.Mirror, Epoch: epoch.Unix(),
			Cache: rootCache, RepoKeyring: b.keyring,
		}
		if b.project.Mirror != "" {
			spec.Components = b.project.Components
		}
		if b.record != nil {
			spec.Record = func(root string) error { return b.record(arch, root) }
		}
		// The bottom image's root, made on an archive root, becomes two
		// layers: the archive's packages and the project's (see
		// archivelayer.go).
		var archiveKey, archiveRoot string
		if level == 0 {
			spec.ArchiveRoot = func(key, root string) error { archiveKey, archiveRoot = key, root; return nil }
		}
		b.statusf(mu, "image %s %s: assembling %s (%s, %s)\n", top.Name, arch, img.Name, spec.Variant, strings.Join(pkgs, " "))
		t := time.Now()
		if err := b.assemble(ctx, spec, root, b.log); err != nil {
			return nil, err
		}
		b.statusf(mu, "image %s %s: %s assembled in %s\n", top.Name, arch, img.Name, time.Since(t).Round(100*time.Millisecond))
		if level == len(chain)-1 {
			if ai.packages, err = readInstalled(root); err != nil {
				return nil, err
			}
			if err := addLicenses(root, ai.packages); err != nil {
				return nil, err
			}
			for i, p := range ai.packages {
				if lb, ok := local[p.Name]; ok && lb.version == p.Version && (lb.arch == p.Architecture || lb.arch == "all") {
					ai.packages[i].Local, ai.packages[i].SHA256 = true, lb.sha256
				}
			}
		}
		if _, err := removePaths(root, cleanup); err != nil {
			return nil, err
		}
		// Cleanup changed directory mtimes; clamp them again.
		if err := rootfs.ClampTimes(root, epoch); err != nil {
			return nil, err
		}
		type made struct {
			file      *layer.File
			createdBy string
		}
		var layers []made
		file := filepath.Join(work, fmt.Sprintf("layer%d.tar.gz", level))
		var lf *layer.File
		switch {
		case archiveKey != "":
			t := time.Now()
			al, err := b.archiveLayer(ctx, spec, archiveKey, archiveRoot, cleanup, epoch, layerCache, mu)
			if err != nil {
				return nil, fmt.Errorf("archive layer: %w", err)
			}
			b.statusf(mu, "image %s %s: archive layer %s in %s\n", top.Name, arch, al.file.Digest.Hex[:12], time.Since(t).Round(100*time.Millisecond))
			layers = append(layers, made{al.file, historyLine(img, spec, "the archive's packages for ")})
			lf, err = layer.WriteDiff(al.tree, root, file, epoch)
		case prevDir == "":
			lf, err = layer.WriteTree(root, file, epoch)
		default:
			lf, err = layer.WriteDiff(prevDir, root, file, epoch)
			if err == nil {
				err = os.RemoveAll(prevDir)
			}
		}
		if err != nil {
			return nil, err
		}
		createdBy := historyLine(img, spec, "")
		if archiveKey != "" {
			createdBy += " (the project's packages, above the archive's)"
		}
		layers = append(layers, made{lf, createdBy})
		cfg = applyManifest(cfg, img)
		for _, m := range layers {
			l, err := m.file.Layer()
			if err != nil {
				return nil, err
			}
			if below, err = appendLayer(below, l, platform, cfg, v1.History{CreatedBy: m.createdBy, Comment: "stx-build image " + img.Name}, epoch); err != nil {
				return nil, err
			}
			ai.layers = append(ai.layers, m.file)
			ai.history = append(ai.history, m.createdBy)
			b.statusf(mu, "image %s %s: layer %d (%s): %d entries, %s, %s compressed\n", top.Name, arch, len(ai.layers), img.Name, m.file.Entries, humanSize(m.file.TarSize), humanSize(m.file.Size))
		}
		ai.epoch = epoch
		prevDir = root
	}
	if err := os.RemoveAll(prevDir); err != nil {
		return nil, err
	}
	ai.image = below
	ai.duration = time.Since(start)
	return ai, nil
}

// historyLine says how a layer was made, without anything of the build
// machine (paths, versions of stx-build); what, when set, says which part
// of the root the layer holds ("the archive's packages for ").
func historyLine(img *manifests.Image, spec rootfs.AssembleSpec, what string) string {
	s := fmt.Sprintf("mmdebstrap --variant=%s %s %s: %s%s", spec.Variant, spec.Suite, spec.Arch, what, strings.Join(img.Packages, " "))
	if img.Base != "" {
		s += " (on top of " + img.Base + ")"
	}
	if len(img.Cleanup) > 0 {
		s += "; removed " + strings.Join(img.Cleanup, " ")
	}
	return s
}

// epochFor is SOURCE_DATE_EPOCH for a root holding pkgs: the fixed one,
// or the newest changelog of the local packages it installs, or the
// newest changelog of the project's local sources.
func (b *Builder) epochFor(local map[string]localBinary, pkgs []string) time.Time {
	if b.epoch != nil {
		return *b.epoch
	}
	var fallback time.Time
	for _, t := range b.changelogs {
		if t.After(fallback) {
			fallback = t
		}
	}
	if fallback.IsZero() {
		fallback = time.Unix(0, 0)
	}
	return imageEpoch(localClosure(local, pkgs), b.changelogs, fallback.UTC())
}

func (b *Builder) statusf(mu *sync.Mutex, format string, args ...any) {
	mu.Lock()
	defer mu.Unlock()
	fmt.Fprintf(b.status, format, args...)
}

func humanSize(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
