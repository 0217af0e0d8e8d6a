package buildrun

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/stx-build/stx-build/graph"
	"github.com/stx-build/stx-build/ramdisk"
	"github.com/stx-build/stx-build/repo"
	"github.com/stx-build/stx-build/scheduler"
	"github.com/stx-build/stx-build/scheduler/history"
	"github.com/stx-build/stx-build/workspace"
)

// job is one task of a run: a package built (or, when it is Architecture:
// all only on a later architecture, just published) for one architecture.
type job struct {
	id    string
	arch  string
	node  *graph.Node
	pr    *workspace.Prepared
	parts string // "any", "all", "both"; "" publishes the first architecture's arch:all debs
	task  scheduler.Task
	// restored is set when the build was restored before the scheduler
	// started (restoreCached).
	restored *restored
	// emulated says why j builds emulated under qemu-user ("": natively
	// or cross); a cross build that falls back sets it (run.fallBack,
	// under run.mu).
	emulated string
	// est made j.task; newLayer says a build-dependency of j is built
	// anew in this run (not restored), so j's build-dependency layer will
	// be made, not taken from the cache (relayer).
	est      *estimator
	newLayer bool
}

// Size-based estimates, when neither history nor the manifest says: a
// fixed setup time plus time proportional to the source's size
// (compressed for archive sources, unpacked for local trees).
const (
	setupSeconds        = 30
	dscBytesPerSecond   = 40e3
	localBytesPerSecond = 160e3
	// peakPerSourceByte scales a source's size to its build tree's peak,
	// used only when that exceeds ramdisk.DefaultSize.
	peakPerSourceByte = 20
)

// jobs compiles the graph of every architecture (with the selection) and
// turns it into scheduler tasks with estimates: costs, else history, else
// the manifest (build.estimate, build.tmpfs), else the source's size.
func jobs(ctx context.Context, ws *workspace.Workspace, archs []string, opts Options) ([]*job, *scheduler.DAG, error) {
	prepared, err := ws.Prepare(ctx)
	if err != nil {
		return nil, nil, err
	}
	byName := map[string]*workspace.Prepared{}
	for _, pr := range prepared {
		byName[pr.Package.Name] = pr
	}
	est := &estimator{hist: &history.Store{Dir: historyDir(ws)}, costs: opts.Costs, sizes: map[string]int64{},
		view: outReposView(opts.OutDir, archs)}
	first := ws.IndepArch()
	var out []*job
	firstIDs := map[string]bool{}
	for _, arch := range archs {
		g, err := ws.Graph(ctx, arch)
		if err != nil {
			return nil, nil, err
		}
		if len(opts.Packages) > 0 {
			if g, err = g.Select(opts.Packages, graph.Needs); err != nil {
				return nil, nil, err
			}
		}
		for _, name := range g.Order {
			n := g.Node(name)
			j := &job{id: name + ":" + arch, arch: arch, node: n, pr: byName[name], parts: n.Parts()}
			if emu, why := ws.Emulated(j.pr, arch); emu {
				j.emulated = why
			}
			j.est = est
			j.task = est.task(j)
			j.task.ID = j.id
			for _, d := range n.Deps {
				j.task.Deps = append(j.task.Deps, d+":"+arch)
			}
			if arch != first && archs[0] == first {
				// A later architecture's build waits for the first one's
				// build of the same source: that publishes the arch:all
				// packages every architecture uses, and the build machine's
				// binaries that :native build-deps of cross builds install.
				// A source the first architecture does not build waits for
				// all of it, as the architectures' order did before.
				if firstIDs[name+":"+first] {
					j.task.Deps = append(j.task.Deps, name+":"+first)
				} else {
					for id := range firstIDs {
						j.task.Deps = append(j.task.Deps, id)
					}
					slices.Sort(j.task.Deps)
				}
			}
			if arch == first {
				firstIDs[j.id] = true
			}
			out = append(out, j)
		}
	}
	tasks := make([]scheduler.Task, len(out))
	for i, j := range out {
		tasks[i] = j.task
	}
	dag, err := scheduler.NewDAG(tasks)
	if err != nil {
		return nil, nil, err
	}
	return out, dag, nil
}

func historyDir(ws *workspace.Workspace) string {
	return filepath.Join(ws.CacheDir(), "history")
}

type estimator struct {
	hist  *history.Store
	costs scheduler.Costs
	sizes map[string]int64 // source bytes by package
	// view is the output tree's repositories' reposView ("": none yet).
	view string
}

// reposView is a digest of what resolving against repos reads from them
// (repo.ResolverDigest of each, by architecture): the part of a
// resolution's key that the project's builds change. "" when one cannot
// be read.
func reposView(repos map[string]*repo.Repo) string {
	h := sha256.New()
	for _, arch := range slices.Sorted(maps.Keys(repos)) {
		d, err := repos[arch].ResolverDigest()
		if err != nil {
			return ""
		}
		fmt.Fprintf(h, "%s %s\n", arch, d)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// outReposView is the reposView of the repositories in out for archs,
// "" when any of them does not exist (nothing is created: a plan writes
// nothing).
func outReposView(out string, archs []string) string {
	repos := map[string]*repo.Repo{}
	for _, arch := range archs {
		dir := filepath.Join(out, arch, "repo")
		if _, err := os.Stat(dir); err != nil {
			return ""
		}
		r, err := repo.Open(dir, arch)
		if err != nil {
			return ""
		}
		repos[arch] = r
	}
	return reposView(repos)
}

// task is the scheduler's view of j, without ID and Deps.
func (e *estimator) task(j *job) scheduler.Task {
	if j.parts == "" {
		// Publishing debs built before: no tree, no make.
		return scheduler.Task{Seconds: 1, Disk: true, Jobs: 1, Source: "publish"}
	}
	pkg := j.pr.Package
	// An emulated build runs on this machine, which has its base root.
	t := scheduler.Task{Arch: j.arch, LocalOnly: j.emulated != ""}
	hint, disk := pkg.Build.TmpfsSize()
	t.Disk = disk
	switch {
	case pkg.Build.Serial:
		t.Jobs = 1
	case pkg.Build.Jobs > 0:
		t.Jobs = pkg.Build.Jobs
	}
	if c, ok := e.costs.For(pkg.Name, j.arch); ok {
		t.Seconds, t.PeakBytes, t.Source = c.Seconds, c.PeakBytes, "costs"
	}
	if t.Source == "" {
		if r, exact, ok := e.hist.Lookup(pkg.Name, j.node.Version, j.arch); ok {
			// A build recorded at this version and architecture made its
			// layer: this one takes it from the cache, unless a
			// build-dependency is new. It resolved against the
			// repositories it saw: the resolution is cached if they are
			// as they are now.
			expect := history.Expect{
				Resolve:     exact && r.ReposView != "" && r.ReposView == e.view,
				Environment: exact && !j.newLayer,
			}
			t.Seconds, t.PeakBytes, t.Source = r.Estimate(expect), r.PeakBytes, "history"
			if !r.OnTmpfs {
				// The estimate is for tmpfs; the scheduler adds disk's cost.
				t.Seconds /= scheduler.DefaultDiskFactor
			}
			if !exact {
				t.Source = fmt.Sprintf("history of %s %s", r.Version, r.Arch)
			}
		}
	}
	if t.Source == "" {
		if d := pkg.Build.EstimateDuration(); d > 0 {
			t.Seconds, t.Source = d.Seconds(), "manifest"
		}
	}
	if t.Source == "" {
		rate := localBytesPerSecond
		if j.pr.Fetched.DSC != "" {
			rate = dscBytesPerSecond
		}
		t.Seconds, t.Source = setupSeconds+float64(e.sourceBytes(j))/rate, "size"
	}
	// An emulated build takes about EmulationFactor times a cross build's
	// time: an estimate from the other kind of build is scaled.
	switch fromEmulated := e.emulatedEstimate(j, t.Source); {
	case j.emulated != "" && !fromEmulated:
		t.Seconds *= scheduler.EmulationFactor
	case j.emulated == "" && fromEmulated:
		t.Seconds /= scheduler.EmulationFactor
	}
	if t.PeakBytes == 0 {
		t.PeakBytes = hint
	}
	// The source is walked only when nothing else gives the peak.
	if t.PeakBytes == 0 && e.sourceBytes(j)*peakPerSourceByte > ramdisk.DefaultSize {
		t.PeakBytes = e.sourceBytes(j) * peakPerSourceByte
	}
	return t
}

// relayer estimates again the builds of js that need a build (not a
// restore) of another task of js: their build-dependency layer will hold
// its new packages, so it is made, not taken from the cache. It runs
// once the tasks restored from the cache are known (planCached,
// restoreCached); without the artifact cache every task counts as
// rebuilt from the same inputs, whose packages are the same bit for bit,
// so layers are expected cached.
func relayer(js []*job, dag *scheduler.DAG) {
	byID := map[string]*job{}
	for _, j := range js {
		byID[j.id] = j
	}
	for i, j := range js {
		// The same source's build on the first architecture is a
		// dependency for its Architecture: all packages, not a
		// build-dependency.
		built := func(id string) bool {
			d := byID[id]
			return d != nil && d.node.Name != j.node.Name && !isPublishOnly(d) && d.task.Source != "cached"
		}
		if isPublishOnly(j) || j.task.Source == "cached" || j.newLayer || !slices.ContainsFunc(j.task.Deps, built) {
			continue
		}
		j.newLayer = true
		estimateAgain(js, dag, i)
	}
}

// estimateAgain replaces the task of js[i] in dag by a new estimate.
func estimateAgain(js []*job, dag *scheduler.DAG, i int) {
	j := js[i]
	t := j.est.task(j)
	t.ID, t.Deps = j.task.ID, j.task.Deps
	j.task, dag.Tasks[i] = t, t
}

// emulatedEstimate says whether j's estimate (from source) is for an
// emulated build: history of one, or costs given for j as it builds.
func (e *estimator) emulatedEstimate(j *job, source string) bool {
	switch {
	case source == "costs":
		return j.emulated != ""
	case strings.HasPrefix(source, "history"):
		r, _, ok := e.hist.Lookup(j.pr.Package.Name, j.node.Version, j.arch)
		return ok && r.Emulated
	}
	return false
}

// sourceBytes is the size of a package's source: the local tree (without
// VCS directories), or the .dsc and the files beside it.
func (e *estimator) sourceBytes(j *job) int64 {
	name := j.pr.Package.Name
	if n, ok := e.sizes[name]; ok {
		return n
	}
	var n int64
	filepath.WalkDir(j.pr.Fetched.Dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == ".svn") {
			return filepath.SkipDir
		}
		if d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	e.sizes[name] = n
	return n
}

// Plan predicts the run Run would make with opts, without building: the
// schedule, the makespan and its lower bound. The tmpfs budget is
// opts.TmpfsBudget, else the default (half of MemAvailable); none with
// NoTmpfs. With opts.Cache, a task whose build the cache holds costs its
// restore, as in Run (keys need the base root made; without it every
// package is predicted to build, which a note says).
func Plan(ctx context.Context, ws *workspace.Workspace, opts Options) (*scheduler.Plan, error) {
	opts = opts.withDefaults(ws)
	archs, err := orderArchs(ws.Project, opts.Archs)
	if err != nil {
		return nil, err
	}
	js, dag, err := jobs(ctx, ws, archs, opts)
	if err != nil {
		return nil, err
	}
	var notes []string
	if opts.Cache != nil {
		if notes, err = planCached(ctx, ws, opts.Cache, js, dag); err != nil {
			return nil, err
		}
	}
	budget := opts.TmpfsBudget
	if budget <= 0 && !opts.NoTmpfs {
		if budget, err = ramdisk.DefaultBudget(); err != nil {
			return nil, err
		}
	}
	if opts.NoTmpfs {
		budget = 0
	}
	so := scheduler.Options{Slots: opts.Jobs, Cores: opts.Cores, Budget: budget}
	// Workers as given, without asking them (a plan touches nothing).
	for _, w := range opts.Workers {
		wb := w.TmpfsBudget
		if wb <= 0 {
			wb = budget
		}
		if opts.NoTmpfs {
			wb = 0
		}
		so.Workers = append(so.Workers, scheduler.Pool{Name: w.Addr, Slots: max(w.Slots, 1), Cores: w.Cores, Budget: wb})
	}
	if opts.NoLocal && len(so.Workers) > 0 {
		so.Slots = 0
	}
	if err := so.Check(dag); err != nil {
		return nil, err // the run would stop there too
	}
	p := scheduler.Simulate(dag, so)
	if p.Notes, err = cutNotes(ctx, ws, archs); err != nil {
		return nil, err
	}
	p.Notes = append(p.Notes, emulatedNotes(js)...)
	p.Notes = append(p.Notes, notes...)
	return p, nil
}

// cutNotes says which build-dependency edges of each architecture's graph
// are taken from the archive instead of the project's build, and why.
func cutNotes(ctx context.Context, ws *workspace.Workspace, archs []string) ([]string, error) {
	var notes []string
	for _, arch := range archs {
		g, err := ws.Graph(ctx, arch)
		if err != nil {
			return nil, err
		}
		for _, c := range g.Cut {
			notes = append(notes, fmt.Sprintf("%s: %s -> %s (via %s) taken from the archive: %s", arch, c.From, c.To, c.Via, c.Reason))
		}
	}
	return notes, nil
}

// what says in words what a job builds.
func what(j *job, first string) string {
	switch j.parts {
	case "any":
		return "architecture-specific"
	case "all":
		return "Architecture: all"
	case "":
		return "Architecture: all, taken from " + first
	}
	return "all binaries"
}

// logPath is where the deb builder writes j's log.
func logPath(out string, j *job) string {
	return filepath.Join(out, j.arch, "logs", j.node.Name+"_"+noEpoch(j.node.Version)+".log")
}

func isPublishOnly(j *job) bool { return j.parts == "" }

// indepDebs are the Architecture: all debs of name built on arch in an
// earlier run.
func indepDebs(out, arch string, n *graph.Node) []string {
	debs, _ := filepath.Glob(filepath.Join(out, arch, "debs", n.Name+"_"+noEpoch(n.Version), "*_all.*deb"))
	return debs
}
