// Package distbuild builds a project's packages: for each architecture it
// compiles the graph, makes (or reuses) the base root, and runs the deb
// builds in dependency order, publishing each result into the
// architecture's local apt repository so later builds resolve their
// build-deps from it. Ordering lives here; parallel scheduling plugs in at
// Run's loop.
package distbuild

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/stx-build/stx-build/builders/deb"
	"github.com/stx-build/stx-build/graph"
	"github.com/stx-build/stx-build/manifests"
	"github.com/stx-build/stx-build/ramdisk"
	"github.com/stx-build/stx-build/repo"
	"github.com/stx-build/stx-build/rootfs"
	"github.com/stx-build/stx-build/runner"
	"github.com/stx-build/stx-build/workspace"
)

// Options configure Run.
type Options struct {
	// Archs to build, in order; empty: the project's. The project's first
	// architecture (which builds Architecture: all packages) always goes first.
	Archs []string
	// Packages selects what to build: these and everything they need.
	// Empty: everything.
	Packages []string
	// OutDir receives repositories, debs and logs. Default "out" in the project.
	OutDir string
	// Jobs is the make parallelism inside one build (default: CPUs).
	Jobs int
	// TmpfsBudget is the RAM for tmpfs build trees; 0: ramdisk.DefaultBudget.
	TmpfsBudget int64
	// NoTmpfs builds on disk only.
	NoTmpfs bool
	// RefreshBase remakes the base root even when cached.
	RefreshBase bool
	// Runner runs sandboxed steps; default runner.NewLocal().
	Runner runner.Runner
	// Status receives one line per event (start, done, failed); Log gets
	// tool output (mmdebstrap). Both default to discard.
	Status, Log io.Writer
}

// Result lists the builds that ran.
type Result struct {
	Builds []*deb.Result
}

// Run builds the selected packages for the selected architectures.
func Run(ctx context.Context, ws *workspace.Workspace, opts Options) (*Result, error) {
	p := ws.Project
	if opts.OutDir == "" {
		opts.OutDir = filepath.Join(p.Dir, "out")
	}
	if opts.Status == nil {
		opts.Status = io.Discard
	}
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	if opts.Runner == nil {
		opts.Runner = runner.NewLocal()
	}
	if opts.Jobs <= 0 {
		opts.Jobs = runtime.NumCPU()
	}
	archs, err := orderArchs(p, opts.Archs)
	if err != nil {
		return nil, err
	}
	if err := opts.Runner.Usable(ctx); err != nil {
		return nil, fmt.Errorf("build sandbox: %w", err)
	}
	prepared, err := ws.Prepare(ctx)
	if err != nil {
		return nil, err
	}
	byName := map[string]*workspace.Prepared{}
	for _, pr := range prepared {
		byName[pr.Package.Name] = pr
	}

	hostArch := workspace.HostArch()
	base, err := ensureBase(ctx, ws, hostArch, opts)
	if err != nil {
		return nil, err
	}
	slots, err := newSlots(ws, opts)
	if err != nil {
		return nil, err
	}
	defer slots.Close()

	repos := map[string]*repo.Repo{}
	for _, a := range archs {
		r, err := repo.Open(filepath.Join(opts.OutDir, a, "repo"), a)
		if err != nil {
			return nil, err
		}
		repos[a] = r
	}
	releaseDate := newestChangelog(prepared)
	builder := &deb.Builder{
		Runner: opts.Runner, Slots: slots, Base: base, HostArch: hostArch,
		LayerDir: filepath.Join(ws.CacheDir(), "layers"),
		OutDir:   opts.OutDir, Jobs: opts.Jobs,
	}

	res := &Result{}
	indepResults := map[string][]string{} // package -> arch:all debs built on the first arch
	for _, arch := range archs {
		g, err := ws.Graph(ctx, arch)
		if err != nil {
			return res, err
		}
		if len(opts.Packages) > 0 {
			if g, err = g.Select(opts.Packages, graph.Needs); err != nil {
				return res, err
			}
		}
		for i, name := range g.Order {
			n := g.Node(name)
			pr := byName[name]
			parts := parts(n)
			if parts == "" {
				// Architecture: all only, built on the first architecture.
				debs := indepResults[name]
				if len(debs) == 0 { // from an earlier run
					debs, _ = filepath.Glob(filepath.Join(opts.OutDir, p.Architectures[0], "debs", name+"_"+noEpoch(n.Version), "*_all.*deb"))
				}
				if len(debs) == 0 {
					return res, fmt.Errorf("%s %s is Architecture: all only and has not been built on %s yet: build %s first", name, n.Version, p.Architectures[0], p.Architectures[0])
				}
				fmt.Fprintf(opts.Status, "[%d/%d] %s %s %s: Architecture: all, taken from %s\n", i+1, len(g.Order), arch, name, n.Version, archs[0])
				if err := repos[arch].Publish(ctx, debs, repo.Options{Date: releaseDate}); err != nil {
					return res, err
				}
				continue
			}
			if arch != hostArch && !pr.Package.CrossBuildable() {
				return res, fmt.Errorf("%s: build.cross is false, so %s needs an emulated (qemu-user) %s build, which stx-build cannot do yet", pr.Package.File, name, arch)
			}
			fmt.Fprintf(opts.Status, "[%d/%d] %s %s %s: building (%s)\n", i+1, len(g.Order), arch, name, n.Version, partsWord(parts))
			r, err := builder.Build(ctx, deb.Request{
				Package: debPackage(pr), Arch: arch, Parts: parts, Repos: repos, ReleaseDate: releaseDate,
			})
			if err != nil {
				fmt.Fprintf(opts.Status, "[%d/%d] %s %s %s: FAILED: %v\n%s", i+1, len(g.Order), arch, name, n.Version, err, logTail(r, 25))
				return res, err
			}
			res.Builds = append(res.Builds, r)
			debs := debFiles(r.Files)
			if err := repos[arch].Publish(ctx, debs, repo.Options{Date: releaseDate}); err != nil {
				return res, err
			}
			if arch == archs[0] {
				indepResults[name] = allDebs(debs)
				// arch:all packages exist on every architecture.
				for _, other := range archs[1:] {
					if len(indepResults[name]) == 0 {
						break
					}
					if err := repos[other].Publish(ctx, indepResults[name], repo.Options{Date: releaseDate}); err != nil {
						return res, err
					}
				}
			}
			where := "disk"
			if r.OnTmpfs {
				where = "tmpfs"
			}
			if r.Retried {
				where = "disk (tmpfs ran out of space)"
			}
			layer := "new deps layer"
			if r.LayerCached {
				layer = "cached deps layer"
			}
			fmt.Fprintf(opts.Status, "[%d/%d] %s %s %s: ok in %s (setup %s, build %s; %s, %s) log: %s\n",
				i+1, len(g.Order), arch, name, n.Version, r.Total.Round(100*time.Millisecond),
				r.Setup.Round(100*time.Millisecond), r.Build.Round(100*time.Millisecond), where, layer, r.Log)
		}
	}
	return res, nil
}

// orderArchs validates the requested architectures and puts the project's
// first architecture first when it is built, since it builds the
// Architecture: all packages the others reuse.
func orderArchs(p *manifests.Project, want []string) ([]string, error) {
	if len(want) == 0 {
		return slices.Clone(p.Architectures), nil
	}
	for _, a := range want {
		if !slices.Contains(p.Architectures, a) {
			return nil, fmt.Errorf("architecture %s: the project builds %v", a, p.Architectures)
		}
	}
	var out []string
	for _, a := range p.Architectures {
		if slices.Contains(want, a) {
			out = append(out, a)
		}
	}
	return out, nil
}

func parts(n *graph.Node) string {
	switch {
	case n.BuildsArch && n.BuildsIndep:
		return "both"
	case n.BuildsArch:
		return "any"
	case n.BuildsIndep:
		return "all"
	}
	return ""
}

func partsWord(p string) string {
	switch p {
	case "any":
		return "architecture-specific"
	case "all":
		return "Architecture: all"
	}
	return "all binaries"
}

func debPackage(pr *workspace.Prepared) deb.Package {
	pkg := pr.Package
	d := deb.Package{
		Name: pkg.Name, Version: pr.Source.Version,
		Profiles: slices.Clone(pr.Source.Profiles),
		Jobs:     pkg.Build.Jobs,
	}
	if pkg.Build.Serial {
		d.Jobs = 1
	}
	d.TmpfsHint, d.Disk = pkg.Build.TmpfsSize()
	if pr.Fetched.DSC != "" {
		d.DSC = pr.Fetched.DSC
	} else {
		d.Local = pr.Fetched.Dir
	}
	for _, patch := range pkg.Patches {
		d.Patches = append(d.Patches, filepath.Join(pkg.Dir, patch))
	}
	return d
}

func ensureBase(ctx context.Context, ws *workspace.Workspace, hostArch string, opts Options) (*rootfs.Base, error) {
	p := ws.Project
	spec := rootfs.Spec{
		Suite: p.Suite, Arch: hostArch, Mirror: p.Mirror, Include: []string{"fakeroot"},
	}
	if p.Mirror != "" {
		spec.Components = p.Components
	} else {
		hs, err := rootfs.HostSources("/")
		if err != nil {
			return nil, err
		}
		spec.HostSources = hs
	}
	for _, a := range p.Architectures {
		if a != hostArch {
			spec.ForeignArchs = append(spec.ForeignArchs, a)
			// dpkg-shlibdeps needs the host architecture's libc, as sbuild
			// installs it for cross builds.
			spec.Include = append(spec.Include, "crossbuild-essential-"+a, "libc6-dev:"+a)
		}
	}
	st := &rootfs.Store{Dir: filepath.Join(ws.CacheDir(), "rootfs"), Log: opts.Log}
	fmt.Fprintf(opts.Status, "base root: %s %s (+%s)\n", spec.Suite, spec.Arch, strings.Join(spec.ForeignArchs, ","))
	t := time.Now()
	b, err := st.Ensure(ctx, spec, opts.RefreshBase)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(opts.Status, "base root: %s ready in %s\n", b.Key[:12], time.Since(t).Round(100*time.Millisecond))
	return b, nil
}

func newSlots(ws *workspace.Workspace, opts Options) (*ramdisk.Manager, error) {
	var budget *ramdisk.Budget
	if opts.TmpfsBudget > 0 {
		budget = ramdisk.NewBudget(opts.TmpfsBudget)
	}
	return ramdisk.NewManager(ramdisk.Options{
		Root:    filepath.Join(ws.CacheDir(), "work"),
		Budget:  budget,
		Disable: opts.NoTmpfs,
	})
}

// newestChangelog is the newest changelog date among the local sources:
// the repositories' Release date, so it never depends on the wall clock.
func newestChangelog(prs []*workspace.Prepared) time.Time {
	var t time.Time
	for _, pr := range prs {
		if pr.Changelog.Date.After(t) {
			t = pr.Changelog.Date
		}
	}
	if t.IsZero() {
		t = time.Unix(0, 0).UTC()
	}
	return t
}

func debFiles(files []string) []string {
	var out []string
	for _, f := range files {
		if strings.HasSuffix(f, ".deb") || strings.HasSuffix(f, ".udeb") {
			out = append(out, f)
		}
	}
	return out
}

func allDebs(files []string) []string {
	var out []string
	for _, f := range files {
		if strings.HasSuffix(f, "_all.deb") || strings.HasSuffix(f, "_all.udeb") {
			out = append(out, f)
		}
	}
	return out
}

// logTail returns the last n lines of a failed build's log, indented.
func logTail(r *deb.Result, n int) string {
	if r == nil || r.Log == "" {
		return ""
	}
	data, err := os.ReadFile(r.Log)
	if err != nil {
		return ""
	}
	lines := bytes.Split(bytes.TrimRight(data, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	var b strings.Builder
	for _, l := range lines {
		b.WriteString("    | ")
		b.Write(l)
		b.WriteByte('\n')
	}
	fmt.Fprintf(&b, "    full log: %s\n", r.Log)
	return b.String()
}

func noEpoch(v string) string {
	if _, rest, ok := strings.Cut(v, ":"); ok {
		return rest
	}
	return v
}
