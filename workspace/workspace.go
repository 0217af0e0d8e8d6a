// Package workspace opens a stx-build project: it loads the manifests,
// prepares each package's source (fetching upstream sources into the cache)
// and turns what the sources declare into graph input. It is the one place
// where the manifest, source and graph layers meet; commands and builders
// start here.
package workspace

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/stx-build/stx-build/aptenv"
	"github.com/stx-build/stx-build/debsrc"
	"github.com/stx-build/stx-build/graph"
	"github.com/stx-build/stx-build/manifests"
	"github.com/stx-build/stx-build/repo"
	"github.com/stx-build/stx-build/sources"
)

// Options configure Open.
type Options struct {
	// Dir is the project directory (holding stx.yaml).
	Dir string
	// CacheDir holds fetched sources, the private apt state and build
	// artifacts. Default: DefaultCacheDir().
	CacheDir string
	// Profiles are extra build profiles active for every package.
	Profiles []string
	// HostArch is the Debian architecture of this machine. Default: from
	// the Go runtime.
	HostArch string
	// Log receives progress lines (fetching, apt updates). Default: discard.
	Log io.Writer
	// SourceDateEpoch fixes the epoch of the images and ISOs built.
	// Default: $SOURCE_DATE_EPOCH, read once by Open (see
	// Workspace.SourceDateEpoch).
	SourceDateEpoch *time.Time
}

// Workspace is an opened project.
type Workspace struct {
	Project *manifests.Project
	opts    Options
	epoch   sourceDateEpoch
	// repoSigner is RepoSigner's, once made.
	repoSignerMu sync.Mutex
	repoSigner   *repo.Signer
	// locked is the lock in use (UseLock), if any.
	locked *LockedArchive

	prepared []*Prepared
	// graphInput is what Graph compiles when Prepare has not run: the
	// same, except that kernel tarballs are neither fetched nor verified
	// (the graph needs only their manifests).
	graphInput []*Prepared

	// stx is the StarlingX tree the project reads, if any; unresolved
	// lists its packages the last preparation could not read.
	stx        *stxTree
	unresolved []graph.Unresolved

	// emulated are the packages switched to emulated builds (emulate.go),
	// by "name:arch", as far as they were asked about.
	emulatedMu sync.Mutex
	emulated   map[string]emulatedEntry
}

// Prepared is one package with its source located and its declarations read.
type Prepared struct {
	Package *manifests.Package
	Fetched *sources.Fetched
	// Source is the graph input, with the manifest's architectures,
	// profiles and estimate applied (per-architecture profiles are added by
	// SourcesFor).
	Source graph.Source
	// Changelog is the top changelog entry of a local source (zero for
	// sources fetched as a .dsc: it is read when they are unpacked).
	Changelog debsrc.Changelog
	// KernelTarball is the verified tarball of a kernel package (kernel.go);
	// empty in the graph input Graph prepares on its own.
	KernelTarball string
}

// DefaultCacheDir is $XDG_CACHE_HOME/stx-build, or ~/.cache/stx-build.
func DefaultCacheDir() string {
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "stx-build")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".cache", "stx-build")
	}
	return filepath.Join(os.TempDir(), "stx-build-cache")
}

// HostArch maps the Go architecture to the Debian one.
func HostArch() string {
	switch runtime.GOARCH {
	case "amd64":
		return "amd64"
	case "arm64":
		return "arm64"
	}
	return runtime.GOARCH
}

// Open loads the project's manifests. It does not fetch anything.
func Open(opts Options) (*Workspace, error) {
	if opts.Dir == "" {
		opts.Dir = "."
	}
	if opts.CacheDir == "" {
		opts.CacheDir = DefaultCacheDir()
	}
	// Layers, roots and stores under it are mounted into sandboxes and
	// named in apt's configuration: they must not depend on the working
	// directory.
	abs, err := filepath.Abs(opts.CacheDir)
	if err != nil {
		return nil, fmt.Errorf("cache directory %s: %w", opts.CacheDir, err)
	}
	opts.CacheDir = abs
	if opts.HostArch == "" {
		opts.HostArch = HostArch()
	}
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	p, err := manifests.Load(opts.Dir)
	if err != nil {
		return nil, err
	}
	epoch := readEpoch()
	if opts.SourceDateEpoch != nil {
		epoch = sourceDateEpoch{set: true, t: opts.SourceDateEpoch.UTC()}
	}
	w := &Workspace{Project: p, opts: opts, epoch: epoch}
	if err := w.openStarlingX(); err != nil {
		return nil, err
	}
	return w, nil
}

// CacheDir returns the cache directory in use.
func (w *Workspace) CacheDir() string { return w.opts.CacheDir }

// needsApt reports whether any package comes from the archive by name;
// a StarlingX tree's packages count only when they are fetched (stx).
func (w *Workspace) needsApt(stx bool) bool {
	for _, p := range w.Project.PackageList {
		if _, err := w.stxPackage(p); err == nil && !stx {
			continue
		}
		if p.Source.Debian != "" {
			return true
		}
	}
	return false
}

// AptEnv creates (or reuses) the private apt environment for the project's
// suite and architectures, with source indexes, and updates it when stale.
func (w *Workspace) AptEnv(ctx context.Context) (*aptenv.Env, error) {
	p := w.Project
	env, err := aptenv.New(ctx, aptenv.Config{
		Dir:           filepath.Join(w.opts.CacheDir, "apt", p.Suite),
		Suite:         p.Suite,
		Mirror:        p.Mirror,
		Components:    p.Components,
		Architectures: p.Architectures,
		HostRoot:      "/",
	})
	if err != nil {
		return nil, fmt.Errorf("apt environment: %w", err)
	}
	if w.locked != nil && w.locked.Offline {
		// Sources are pinned by their .dsc digests and fetched into the
		// cache once: the indexes as they are still find them.
		fmt.Fprintf(w.opts.Log, "apt: offline: the indexes for %s as they are (%s)\n", p.Suite, env.Dir())
		return env, nil
	}
	fmt.Fprintf(w.opts.Log, "apt: updating indexes for %s (%s)\n", p.Suite, env.Dir())
	if err := env.Update(ctx); err != nil {
		return nil, fmt.Errorf("apt environment: %w", err)
	}
	return env, nil
}

// Prepare locates every package's source (fetching upstream ones into the
// cache, in parallel) and reads what it declares. The result is cached on
// the Workspace and sorted by package name.
func (w *Workspace) Prepare(ctx context.Context) ([]*Prepared, error) {
	if w.prepared != nil {
		return w.prepared, nil
	}
	if w.stx != nil {
		if un := w.stxPrecheck(); len(un) > 0 {
			return nil, &UnresolvedError{Packages: un}
		}
	}
	out, err := w.prepareAll(ctx, true)
	if err != nil {
		return nil, err
	}
	if len(w.unresolved) > 0 {
		return nil, &UnresolvedError{Packages: w.unresolved}
	}
	w.prepared = out
	return out, nil
}

// prepareAll prepares every package; without tarballs, kernel packages
// are declared from their manifests alone and a StarlingX tree's packages
// from what the tree holds (nothing is fetched for them). Tree packages
// that cannot be prepared are left out and listed in w.unresolved.
func (w *Workspace) prepareAll(ctx context.Context, tarballs bool) ([]*Prepared, error) {
	var env *aptenv.Env
	if w.needsApt(tarballs) {
		var err error
		if env, err = w.AptEnv(ctx); err != nil {
			return nil, err
		}
	}
	f := w.fetcherFor(env)
	out := make([]*Prepared, len(w.Project.PackageList))
	reasons := make([]string, len(w.Project.PackageList))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(4)
	for i, pkg := range w.Project.PackageList {
		g.Go(func() error {
			var pr *Prepared
			var err error
			if sp, serr := w.stxPackage(pkg); serr == nil {
				pr, reasons[i], err = w.prepareStarlingX(gctx, f, pkg, sp, tarballs)
			} else if pkg.IsKernel() {
				pr, err = w.prepareKernel(gctx, pkg, tarballs)
			} else {
				pr, err = w.prepareOne(gctx, f, pkg)
			}
			if err != nil {
				return err
			}
			out[i] = pr
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	w.unresolved = nil
	kept := out[:0]
	for i, pr := range out {
		if reasons[i] != "" {
			w.unresolved = append(w.unresolved, graph.Unresolved{Package: w.Project.PackageList[i].Name, Reason: reasons[i]})
			continue
		}
		kept = append(kept, pr)
	}
	return kept, nil
}

// fetcherFor returns a source fetcher into the cache, using env (may be
// nil when no package comes from the archive by name).
func (w *Workspace) fetcherFor(env *aptenv.Env) *sources.Fetcher {
	return &sources.Fetcher{CacheDir: w.opts.CacheDir, Apt: env}
}

func (w *Workspace) prepareOne(ctx context.Context, f *sources.Fetcher, pkg *manifests.Package) (*Prepared, error) {
	if pkg.Source.Local == "" {
		fmt.Fprintf(w.opts.Log, "fetch: %s\n", pkg.Name)
	}
	fetched, err := f.Fetch(ctx, pkg)
	if err != nil {
		return nil, err
	}
	var src graph.Source
	var cl debsrc.Changelog
	switch {
	case fetched.DSC != "":
		data, err := os.ReadFile(fetched.DSC)
		if err != nil {
			return nil, fmt.Errorf("package %s: %w", pkg.Name, err)
		}
		src, err = debsrc.ParseDSC(fetched.DSC, data)
		if err != nil {
			return nil, fmt.Errorf("package %s: %w", pkg.Name, err)
		}
	default:
		src, cl, err = debsrc.ReadDir(fetched.Dir)
		if err != nil {
			return nil, fmt.Errorf("package %s: %w", pkg.Name, err)
		}
	}
	if src.Name != pkg.Name {
		return nil, fmt.Errorf("%s: name: %q, but the source package is named %q", pkg.File, pkg.Name, src.Name)
	}
	src.Architectures = pkg.Architectures
	src.Profiles = slices.Clone(pkg.Build.Profiles)
	if pkg.Build.Nocheck {
		src.Profiles = append(src.Profiles, "nocheck")
	}
	if d := pkg.Build.EstimateDuration(); d > 0 {
		src.Cost = d.Seconds()
	}
	return &Prepared{Package: pkg, Fetched: fetched, Source: src, Changelog: cl}, nil
}

// GraphOptions returns the compile options for arch: the project's profiles,
// cycle breaks and cycle policy, the host as build architecture, and arch-independent
// packages built on the project's first architecture.
func (w *Workspace) GraphOptions(arch string) graph.Options {
	p := w.Project
	opts := graph.Options{
		Arch:      arch,
		BuildArch: w.opts.HostArch,
		Indep:     w.IndepArch() == arch,
		Profiles:  append(slices.Clone(p.Profiles), w.opts.Profiles...),
	}
	for _, cb := range p.CycleBreaks {
		opts.CycleBreaks = append(opts.CycleBreaks, graph.CycleBreak{Package: cb.Package, Binary: cb.Binary, Source: cb.Source})
	}
	if p.Cycles == manifests.CyclesArchive {
		opts.Cycles = graph.CyclesArchive
	}
	if w.stx != nil {
		// StarlingX builds layer after layer: order the tree's packages
		// so where no build-dependency does.
		opts.LayerOrder = w.stx.tree.LayerOrder()
		opts.Layers = map[string]string{}
		for name, sp := range w.stx.byName {
			opts.Layers[name] = sp.Layer
		}
	}
	return opts
}

// SourcesFor returns the graph input for arch: on a foreign architecture a
// cross-built package is built with the cross and nocheck profiles, as
// Debian's cross builds are (an emulated one is a native build: neither).
func (w *Workspace) SourcesFor(prepared []*Prepared, arch string) []graph.Source {
	srcs := make([]graph.Source, 0, len(prepared))
	for _, pr := range prepared {
		s := pr.Source
		s.Profiles = slices.Clone(s.Profiles)
		if emu, _ := w.Emulated(pr, arch); arch != w.opts.HostArch && !emu {
			s.Profiles = append(s.Profiles, "cross", "nocheck")
		}
		srcs = append(srcs, s)
	}
	return srcs
}

// Graph prepares the sources and compiles the graph for arch (an
// *ArchError when the project does not build it). It uses what
// Prepare found when Prepare has run; otherwise it does not fetch or hash
// kernel tarballs, which the graph does not need (so a release project
// whose tarball is a URL shows its graph offline).
func (w *Workspace) Graph(ctx context.Context, arch string) (*graph.Graph, error) {
	if _, err := w.Archs([]string{arch}); err != nil {
		return nil, err
	}
	prepared := w.prepared
	if prepared == nil {
		if w.graphInput == nil {
			in, err := w.prepareAll(ctx, false)
			if err != nil {
				return nil, err
			}
			w.graphInput = in
		}
		prepared = w.graphInput
	}
	srcs, opts := w.SourcesFor(prepared, arch), w.GraphOptions(arch)
	g, err := graph.Compile(srcs, opts)
	var ce *graph.CycleError
	if errors.As(err, &ce) && w.stx != nil {
		// StarlingX's circular_dep.conf orders the cycle: compile again
		// with the edges it breaks.
		if breaks := w.stxCycleBreaks(g); len(breaks) > 0 {
			opts.CycleBreaks = append(opts.CycleBreaks, breaks...)
			g, err = graph.Compile(srcs, opts)
		}
	}
	if g != nil {
		g.Unresolved = w.unresolved
	}
	return g, err
}
