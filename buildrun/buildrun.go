// Package buildrun builds a project's packages: for each architecture it
// compiles the graph, makes (or reuses) the base root, and runs the deb
// builds in parallel under the scheduler (critical path first, up to
// Options.Jobs at once, within the tmpfs budget), publishing each result
// into the architecture's local apt repository so later builds resolve
// their build-deps from it. Every run ends with an HTML report under
// OUT/report/ and records what each build took in the cache's history.
package buildrun

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/stx-build/stx-build/builders/deb"
	"github.com/stx-build/stx-build/cache"
	"github.com/stx-build/stx-build/cache/buildkey"
	"github.com/stx-build/stx-build/manifests"
	"github.com/stx-build/stx-build/ramdisk"
	"github.com/stx-build/stx-build/registry"
	"github.com/stx-build/stx-build/repo"
	"github.com/stx-build/stx-build/report"
	"github.com/stx-build/stx-build/rootfs"
	"github.com/stx-build/stx-build/runner"
	"github.com/stx-build/stx-build/runner/buildkit"
	"github.com/stx-build/stx-build/scheduler"
	"github.com/stx-build/stx-build/scheduler/history"
	"github.com/stx-build/stx-build/store"
	"github.com/stx-build/stx-build/workspace"
)

// Options configure Run and Plan.
type Options struct {
	// Archs to build, in order; empty: the project's. The project's first
	// architecture (which builds Architecture: all packages) always goes first.
	Archs []string
	// Packages selects what to build: these and everything they need.
	// Empty: everything.
	Packages []string
	// OutDir receives repositories, debs, logs and the report. Default
	// "out" in the project.
	OutDir string
	// Jobs is how many builds run at once (-j); default: the number of CPUs.
	Jobs int
	// Cores are shared by the builds' make parallelism (parallel=N): when
	// few builds can run, each gets more. Default: the number of CPUs.
	Cores int
	// TmpfsBudget is the RAM for tmpfs build trees; 0: ramdisk.DefaultBudget.
	TmpfsBudget int64
	// NoTmpfs builds on disk only.
	NoTmpfs bool
	// RefreshBase remakes the base root even when cached.
	RefreshBase bool
	// KeepGoing builds everything that does not need a failed package;
	// otherwise nothing new starts after a failure.
	KeepGoing bool
	// Costs override the estimates (history, manifest) of the packages
	// they name.
	Costs scheduler.Costs
	// Cache, when set, restores builds whose key it holds instead of
	// building them, and stores every new build (see docs/cache.md).
	Cache *cache.Cache
	// Explain names packages whose (re)build reason is printed on Status.
	Explain []string
	// Lock, when set, pins every archive package the build environments
	// install (stx.lock; docs/lock.md); OnResolved receives every
	// resolved set's archive packages (stx-build lock). See deb.Builder.
	Lock       *store.Lock
	OnResolved func(*store.LockSet)
	// Runner runs sandboxed steps; default runner.NewLocal().
	Runner runner.Runner
	// Workers are BuildKit daemons that take package builds besides this
	// machine (docs/workers.md), kernels included; NoLocal leaves every
	// package build to them (restores and publishing stay local).
	Workers []Worker
	NoLocal bool
	// BuildKitCache, when set, is a registry repository the workers
	// export their cache of build environments to and import it from;
	// InsecureRegistry allows plain HTTP to it (always allowed for a
	// loopback registry: localhost, 127.0.0.1).
	BuildKitCache    string
	InsecureRegistry bool
	// Events receives the run's progress; default: plain lines on Status.
	Events report.Sink
	// Status receives plain progress lines when Events is nil; Log gets
	// tool output (mmdebstrap). Both default to discard.
	Status, Log io.Writer
}

func (o Options) withDefaults(ws *workspace.Workspace) Options {
	if out, err := ws.OutDir(o.OutDir); err == nil {
		o.OutDir = out
	}
	if o.BuildKitCache != "" && registry.Loopback(o.BuildKitCache) {
		o.InsecureRegistry = true
	}
	if o.Status == nil {
		o.Status = io.Discard
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	if o.Events == nil {
		o.Events = report.Text(o.Status)
	}
	if o.Runner == nil {
		o.Runner = runner.NewLocal()
	}
	if o.Jobs <= 0 {
		o.Jobs = runtime.NumCPU()
	}
	if o.Cores <= 0 {
		o.Cores = runtime.NumCPU()
	}
	return o
}

// Worker is a BuildKit daemon and how many builds it runs at once.
type Worker struct {
	// Addr is buildkitd's address (unix://..., tcp://host:port).
	Addr string
	// Slots is how many builds it runs at once (default 1); Cores are
	// shared by their make parallelism (default Slots).
	Slots, Cores int
	// TmpfsBudget is its RAM for tmpfs build trees (default: this
	// machine's budget).
	TmpfsBudget int64
	// TLSDir, when set, holds ca.pem, cert.pem and key.pem for mutual TLS
	// with the daemon (buildctl's --tlsdir layout).
	TLSDir string
}

// Result describes a run.
type Result struct {
	// Builds are the successful builds, in the order they finished.
	Builds []*deb.Result
	// Outcome says how every task ended.
	Outcome *scheduler.Outcome
	// Report is the HTML report's path.
	Report string
}

// BuildError reports the packages that failed. Unwrap gives their errors
// (mostly *deb.Error, which names the log).
type BuildError struct {
	// Failed are "<package>:<arch>" of the failed builds; Skipped and
	// NotStarted count what was not built because of them.
	Failed              []string
	Errs                []error
	Skipped, NotStarted int
}

func (e *BuildError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d build(s) failed: %s", len(e.Failed), strings.Join(e.Failed, ", "))
	if e.Skipped > 0 {
		fmt.Fprintf(&b, "; %d skipped", e.Skipped)
	}
	if e.NotStarted > 0 {
		fmt.Fprintf(&b, "; %d not started (use --keep-going to build what does not need them)", e.NotStarted)
	}
	return b.String()
}

func (e *BuildError) Unwrap() []error { return e.Errs }

// run is the state of one Run shared by its builds.
type run struct {
	ws       *workspace.Workspace
	opts     Options
	archs    []string
	hostArch string
	jobs     []*job
	builder  *deb.Builder
	// builders are by scheduler pool: builder, then one per worker.
	builders []*deb.Builder
	repos    *repoSet
	signer   *repo.Signer // signs the repositories (workspace.RepoSigner)
	hist     *history.Store
	keysMu   sync.Mutex     // a switch to emulation computes them again
	keys     *buildkey.Plan // nil without a cache
	// emu are the emulated build environments by architecture (emulate.go).
	emuMu   sync.Mutex
	emu     map[string]*emulation
	sandbox sandboxProbe
	cpu     *cpuMeter
	date    time.Time
	begin   time.Time
	sink    report.Sink

	mu      sync.Mutex
	results map[int]*deb.Result
	cached  map[int]string // task -> where it was restored from
	builds  []*deb.Result
}

// Run builds the selected packages for the selected architectures. A
// failed build makes the error a *BuildError (after everything that could
// run has run); an interrupt (ctx) stops running builds and returns ctx's
// error. Either way the report is written.
func Run(ctx context.Context, ws *workspace.Workspace, opts Options) (*Result, error) {
	opts = opts.withDefaults(ws)
	p := ws.Project
	archs, err := orderArchs(p, opts.Archs)
	if err != nil {
		return nil, err
	}
	collector := report.NewCollector(p.Name)
	r := &run{
		ws: ws, opts: opts, archs: archs, hostArch: workspace.HostArch(),
		hist: &history.Store{Dir: historyDir(ws)}, cpu: newCPUMeter(),
		begin: time.Now(), sink: report.Multi(opts.Events, collector),
		results: map[int]*deb.Result{}, cached: map[int]string{},
	}
	defer r.waitProbe()
	jobs, dag, err := jobs(ctx, ws, archs, opts)
	if err != nil {
		return nil, err
	}
	r.jobs = jobs
	prepared, err := ws.Prepare(ctx)
	if err != nil {
		return nil, err
	}
	r.date = newestChangelog(prepared)

	base, err := r.ensureBase(ctx)
	if err != nil {
		return nil, err
	}
	// Emulated builds need their base roots for their keys.
	for _, arch := range r.emulatedArchs() {
		if _, err := r.emulatedBase(ctx, arch); err != nil {
			return nil, err
		}
	}
	if opts.Cache != nil {
		if r.keys, err = r.buildKeys(ctx, base); err != nil {
			return nil, err
		}
	}
	slots, err := newSlots(ws, opts)
	if err != nil {
		return nil, err
	}
	defer slots.Close()
	if r.signer, err = ws.RepoSigner(ctx); err != nil {
		return nil, err
	}
	if r.repos, err = openRepos(opts.OutDir, archs); err != nil {
		return nil, err
	}
	defer r.repos.close()
	if err := r.repos.sign(ctx, r.signer); err != nil {
		return nil, err
	}
	if r.keys != nil {
		if err := r.restoreCached(ctx, dag); err != nil {
			return nil, err
		}
	}
	r.builder = &deb.Builder{
		Runner: opts.Runner, Slots: slots, Base: base, HostArch: r.hostArch,
		LayerDir: filepath.Join(ws.CacheDir(), "layers"),
		Store:    store.New(filepath.Join(ws.CacheDir(), "store")),
		Lock:     opts.Lock, OnResolved: opts.OnResolved,
		OutDir: opts.OutDir, Jobs: opts.Cores,
	}

	sopts := scheduler.Options{
		Slots: opts.Jobs, Cores: opts.Cores, Pad: slots.PaddedSize,
		KeepGoing: opts.KeepGoing,
	}
	if !opts.NoTmpfs {
		sopts.Budget = slots.Budget().Total()
	}
	r.builders = []*deb.Builder{r.builder}
	if len(opts.Workers) > 0 {
		if err := r.connectWorkers(ctx, base, &sopts, dag); err != nil {
			return nil, err
		}
	}
	if r.mustBuild() {
		if err := r.checkConflicts(ctx, base); err != nil {
			return nil, err
		}
		if err := r.checkSandbox(ctx); err != nil {
			return nil, err
		}
	}
	// The run's clock (report, events) starts here, with the builds.
	r.begin = time.Now()
	plan := scheduler.Simulate(dag, sopts)
	if plan.Notes, err = cutNotes(ctx, ws, archs); err != nil {
		return nil, err
	}
	plan.Notes = append(plan.Notes, emulatedNotes(jobs)...)
	r.emitPlan(dag, plan)
	out, err := scheduler.Execute(ctx, dag, sopts, r.build, r.observe)
	r.dropUnpublished()
	res := &Result{Builds: r.builds, Outcome: out}
	res.Report = r.finish(out, collector, ctx.Err() != nil)
	if err != nil {
		return res, fmt.Errorf("interrupted: %w", err)
	}
	if be := buildError(out); be != nil {
		return res, be
	}
	return res, nil
}

func buildError(out *scheduler.Outcome) *BuildError {
	be := &BuildError{}
	for _, r := range out.Results {
		switch r.Status {
		case scheduler.Failed:
			be.Failed = append(be.Failed, r.ID)
			be.Errs = append(be.Errs, r.Err)
		case scheduler.Skipped:
			be.Skipped++
		case scheduler.NotStarted:
			be.NotStarted++
		}
	}
	if len(be.Failed) == 0 {
		return nil
	}
	return be
}

func (r *run) emit(e report.Event) {
	if e.Time.IsZero() {
		e.Time = time.Now()
		e.Elapsed = time.Since(r.begin).Seconds()
	}
	r.sink.Event(e)
}

func (r *run) emitPlan(dag *scheduler.DAG, p *scheduler.Plan) {
	rp := &report.Plan{
		Slots: p.Slots, Cores: p.Cores, Budget: p.Budget,
		Makespan: p.Makespan, LowerBound: p.LowerBound, CriticalPath: p.CriticalPath,
		Notes: p.Notes,
	}
	items := map[string]scheduler.Item{}
	for _, it := range p.Items {
		items[it.ID] = it
	}
	for i, t := range dag.Tasks {
		it := items[t.ID]
		rp.Tasks = append(rp.Tasks, report.PlanTask{
			ID: t.ID, Deps: t.Deps, Seconds: t.Seconds, PeakBytes: t.PeakBytes, Source: t.Source,
			Start: it.Start, End: it.End, Slot: it.Slot, Where: it.Where, Mode: r.mode(r.jobs[i]),
		})
	}
	r.emit(report.Event{Kind: report.KindPlan, Plan: rp})
}

// event is the report event for a task, with what is known of it.
func (r *run) event(kind string, j *job, e scheduler.Event) report.Event {
	ev := report.Event{
		Kind: kind, ID: j.id, Package: j.node.Name, Version: j.node.Version, Arch: j.arch,
		What: what(j, r.ws.IndepArch()), Done: e.Done, Total: e.Total, ETA: e.ETA,
		Estimate: j.task.Seconds, Mode: r.mode(j),
	}
	if e.Assignment.Slot > 0 && !isPublishOnly(j) {
		ev.Slot, ev.Jobs, ev.Where = e.Assignment.Slot, e.Assignment.Jobs, "tmpfs"
		ev.Worker = e.Assignment.Worker
		if e.Assignment.Disk {
			ev.Where = "disk"
		}
		ev.Restore = j.task.Source == "cached"
		if !ev.Restore { // a restore writes no log
			ev.Log = logPath(r.opts.OutDir, j)
		}
	}
	return ev
}

// observe turns the scheduler's events into report events.
func (r *run) observe(e scheduler.Event) {
	j := r.jobs[e.Task]
	switch e.Status {
	case scheduler.Running:
		r.emit(r.event(report.KindStart, j, e))
	case scheduler.Built, scheduler.Failed:
		kind := report.KindBuilt
		if e.Status == scheduler.Failed {
			kind = report.KindFailed
		}
		ev := r.event(kind, j, e)
		r.mu.Lock()
		res := r.results[e.Task]
		ev.Cached = r.cached[e.Task]
		r.mu.Unlock()
		if j.restored != nil {
			ev.Seconds = j.restored.seconds
		}
		if res != nil {
			ev.Seconds, ev.Setup, ev.Build = res.Total.Seconds(), res.Setup.Seconds(), res.Build.Seconds()
			ev.PeakBytes, ev.Retried, ev.LayerCached = res.PeakBytes, res.Retried, res.LayerCached
			for _, p := range res.Phases {
				ev.Phases = append(ev.Phases, report.Phase{Name: p.Name, Seconds: p.Duration.Seconds(), Cached: p.Cached})
			}
			ev.Where = "disk"
			if res.OnTmpfs {
				ev.Where = "tmpfs"
			}
			ev.Log = res.Log
		}
		if e.Err != nil {
			ev.Error = e.Err.Error()
			var be *deb.Error
			if errors.As(e.Err, &be) && be.Log != "" {
				ev.Log = be.Log
			}
			if errors.Is(e.Err, context.Canceled) {
				ev.Error = report.Interrupted
			}
		}
		r.emit(ev)
	case scheduler.Skipped:
		ev := r.event(report.KindSkipped, j, e)
		ev.Cause = e.Cause
		r.emit(ev)
	case scheduler.NotStarted:
		r.emit(r.event(report.KindNotStarted, j, e))
	case scheduler.Requeued:
		r.emit(report.Event{Kind: report.KindInfo, Message: fmt.Sprintf("%s: worker %s went away (%v); building it elsewhere, starting nothing more there", j.id, e.Assignment.Worker, e.Err)})
	}
}

// build runs one task: a deb build, or publishing debs built before.
func (r *run) build(ctx context.Context, a scheduler.Assignment) error {
	j := r.jobs[a.Task]
	first := r.ws.IndepArch()
	if isPublishOnly(j) {
		// Architecture: all only: built on the first architecture (in this
		// run, which published them already, or in an earlier one).
		debs := indepDebs(r.opts.OutDir, first, j.node)
		if r.indepPublished(j) {
			return nil
		}
		if len(debs) == 0 {
			return fmt.Errorf("%s %s is Architecture: all only and has not been built on %s yet: build %s first", j.node.Name, j.node.Version, first, first)
		}
		return r.repos.publish(ctx, j.arch, debs, r.repoOptions())
	}
	if j.restored != nil {
		return r.finishRestored(ctx, a.Task, j)
	}
	err := r.buildJob(ctx, a, j)
	if r.fallBack(ctx, j, err) {
		// The keys take the emulated base root: made first.
		if _, err := r.emulatedBase(ctx, j.arch); err != nil {
			return err
		}
		if err := r.rekey(ctx); err != nil {
			return err
		}
		err = r.buildJob(ctx, a, j)
	}
	return err
}

// buildJob builds j (or restores it from the cache), publishes and
// stores the result: cross, natively, or emulated, as j says now.
func (r *run) buildJob(ctx context.Context, a scheduler.Assignment, j *job) error {
	builder, emulated := r.builders[a.Pool], r.isEmulated(j)
	if emulated {
		var err error
		if builder, err = r.emulatedBuilder(ctx, j.arch); err != nil {
			return err
		}
	}
	release, err := r.claim(ctx, j)
	if err != nil {
		return err
	}
	defer release()
	if from, err := r.restore(ctx, j); err != nil || from != "" {
		r.mu.Lock()
		r.cached[a.Task] = from
		r.mu.Unlock()
		return err
	}
	snap, err := r.repos.acquire()
	if err != nil {
		return err
	}
	defer r.repos.release(snap)
	view := reposView(snap.repos)
	pkg := jobPackage(r.ws, j)
	pkg.Jobs = a.Jobs
	pkg.Disk = a.Disk
	// The slot reserves exactly what the scheduler counted.
	pkg.TmpfsHint = j.task.PeakBytes
	r.cpu.begin(a.Task)
	res, err := builder.Build(ctx, deb.Request{
		Package: pkg, Arch: j.arch, Parts: j.parts, Repos: snap.repos, ReleaseDate: r.date,
		RepoKeyring: r.ws.RepoKeyring(),
	})
	cpu := r.cpu.end(a.Task)
	if a.Pool > 0 && !emulated {
		cpu = 0 // spent on the worker
	}
	if err != nil && errors.Is(err, buildkit.ErrUnavailable) && ctx.Err() == nil {
		// Not the package's failure: the scheduler runs it elsewhere.
		return fmt.Errorf("%w: %w", scheduler.ErrWorkerLost, err)
	}
	r.mu.Lock()
	r.results[a.Task] = res
	r.mu.Unlock()
	if err != nil {
		return err
	}
	r.cpu.begin(a.Task) // a publish overlapping another build spoils its CPU time
	defer r.cpu.end(a.Task)
	if err := r.publishBuilt(ctx, j, res.Files); err != nil {
		return r.unpublished(j, err)
	}
	r.store(ctx, j, res.Files)
	r.mu.Lock()
	r.builds = append(r.builds, res)
	r.mu.Unlock()
	rec := history.Record{
		Package: j.node.Name, Version: j.node.Version, Arch: j.arch,
		Seconds: res.Total.Seconds(), SetupSeconds: res.Setup.Seconds(), CPUSeconds: cpu,
		PeakBytes: res.PeakBytes, OnTmpfs: res.OnTmpfs, Retried: res.Retried, Jobs: a.Jobs,
		Emulated: emulated, Finished: time.Now().UTC(),
	}
	for _, p := range res.Phases {
		rec.Phases = append(rec.Phases, history.Phase{Name: p.Name, Seconds: p.Duration.Seconds(), Cached: p.Cached})
	}
	rec.ReposView = view
	// What making its layer took stays known through builds that reuse it.
	prev, exact, _ := r.hist.Lookup(rec.Package, rec.Version, rec.Arch)
	if !exact || prev.Emulated != emulated {
		prev = history.Record{}
	}
	rec = history.Carry(prev, rec)
	if err := r.hist.Add(rec); err != nil {
		r.emit(report.Event{Kind: report.KindInfo, Message: "warning: " + err.Error()})
	}
	return nil
}

// finish emits the summary and writes the report; it returns the report's
// path ("" if it could not be written, which is said in an info event).
func (r *run) finish(out *scheduler.Outcome, c *report.Collector, interrupted bool) string {
	// Empty lists, not null, for JSON consumers.
	s := &report.Summary{Interrupted: interrupted, Built: []string{}, Failed: []string{}, Skipped: []string{}, NotStarted: []string{}}
	for i, res := range out.Results { // in task order, as r.jobs
		switch res.Status {
		case scheduler.Built:
			s.Built = append(s.Built, res.ID)
			r.mu.Lock()
			if r.cached[i] != "" {
				s.Restored = append(s.Restored, res.ID)
			}
			if r.jobs[i].emulated != "" {
				s.Emulated = append(s.Emulated, res.ID)
			}
			r.mu.Unlock()
		case scheduler.Failed:
			s.Failed = append(s.Failed, res.ID)
		case scheduler.Skipped:
			s.Skipped = append(s.Skipped, res.ID)
		default:
			s.NotStarted = append(s.NotStarted, res.ID)
		}
	}
	for _, l := range [][]string{s.Built, s.Restored, s.Emulated, s.Failed, s.Skipped, s.NotStarted} {
		slices.Sort(l)
	}
	// The report is written before the summary so that the summary can name
	// it; the collector already has every task.
	index, err := report.WriteHTML(filepath.Join(r.opts.OutDir, "report"), c.Run())
	if err != nil {
		r.emit(report.Event{Kind: report.KindInfo, Message: "warning: " + err.Error()})
	}
	s.Report = index
	r.emit(report.Event{Kind: report.KindSummary, Summary: s, Estimate: out.Predicted})
	return index
}

// orderArchs validates the requested architectures and puts the project's
// first architecture first when it is built, since it builds the
// Architecture: all packages the others reuse.
func orderArchs(p *manifests.Project, want []string) ([]string, error) {
	want, err := workspace.CheckArchs(want, p.Architectures, "the project")
	if err != nil {
		return nil, err
	}
	var out []string
	for _, a := range p.Architectures {
		if slices.Contains(want, a) {
			out = append(out, a)
		}
	}
	return out, nil
}

func debPackage(pr *workspace.Prepared, arch string) deb.Package {
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
	d.Limits = runner.Limits{Pids: int64(pkg.Build.Pids), Memory: pkg.Build.MemoryLimit()}
	if k := pkg.Source.Kernel; k != nil {
		d.Kernel = kernelBuild(pr, k, arch)
	} else if pr.Fetched.DSC != "" {
		d.DSC = pr.Fetched.DSC
	} else {
		d.Local = pr.Fetched.Dir
	}
	for _, patch := range pkg.Patches {
		d.Patches = append(d.Patches, filepath.Join(pkg.Dir, patch))
	}
	return d
}

// jobPackage is j's package as its build gets it: the manifest's, with the
// project's and the command line's profiles, which apply to every package
// as they did when the graph was compiled.
func jobPackage(ws *workspace.Workspace, j *job) deb.Package {
	pkg := debPackage(j.pr, j.arch)
	pkg.Profiles = append(pkg.Profiles, ws.GraphOptions(j.arch).Profiles...)
	return pkg
}

// kernelBuild is the bindeb-pkg recipe of a kernel package for arch.
func kernelBuild(pr *workspace.Prepared, k *manifests.KernelSource, arch string) *deb.Kernel {
	c := k.Config[arch]
	kb := &deb.Kernel{
		Tarball:      pr.KernelTarball,
		Release:      k.KernelRelease(),
		LocalVersion: k.LocalVersion,
		Base:         c.Base,
		BuildDepends: manifests.KernelBuildDepends,
	}
	if k.Signing != nil {
		kb.SigningKey = k.Signing.File
	}
	if !slices.Contains(manifests.KernelBaseTargets, c.Base) {
		kb.Base, kb.BaseFile = "", filepath.Join(pr.Package.Dir, c.Base)
	}
	for _, f := range c.Fragments {
		kb.Fragments = append(kb.Fragments, filepath.Join(pr.Package.Dir, f))
	}
	return kb
}

func (r *run) ensureBase(ctx context.Context) (*rootfs.Base, error) {
	spec, err := r.ws.BaseSpec()
	if err != nil {
		return nil, err
	}
	st := r.ws.BaseStore()
	st.Log = r.opts.Log
	st.Waiting = func(key string) {
		r.emit(report.Event{Kind: report.KindInfo, Message: fmt.Sprintf("base root: waiting for another stx-build run that is making %s", key[:12])})
	}

	r.emit(report.Event{Kind: report.KindInfo, Message: fmt.Sprintf("base root: %s %s (+%s)", spec.Suite, spec.Arch, strings.Join(spec.ForeignArchs, ","))})
	if _, err := st.Find(ctx, spec); err != nil || r.opts.RefreshBase {
		// Making it takes minutes: not for a sandbox that does not work.
		if err := r.checkSandbox(ctx); err != nil {
			return nil, err
		}
	}
	t := time.Now()
	b, err := st.Ensure(ctx, spec, r.opts.RefreshBase)
	if err != nil {
		return nil, err
	}
	r.emit(report.Event{Kind: report.KindInfo, Message: fmt.Sprintf("base root: %s ready in %s", b.Key[:12], time.Since(t).Round(100*time.Millisecond))})
	return b, nil
}

// mustBuild tells whether a task is left that builds (neither restored
// before the scheduler started nor only publishing).
func (r *run) mustBuild() bool {
	for _, j := range r.jobs {
		if j.restored == nil && !isPublishOnly(j) {
			return true
		}
	}
	return false
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

func noEpoch(v string) string {
	if _, rest, ok := strings.Cut(v, ":"); ok {
		return rest
	}
	return v
}

// repoOptions are the options of every publish: Release dated
// SOURCE_DATE_EPOCH and signed with the project's repository key.
func (r *run) repoOptions() repo.Options {
	return repo.Options{Date: r.date, Signer: r.signer}
}

// publishBuilt publishes a build's debs into its architecture's repository,
// and on the first architecture its Architecture: all debs into the others.
func (r *run) publishBuilt(ctx context.Context, j *job, files []string) error {
	debs := debFiles(files)
	if err := r.repos.publish(ctx, j.arch, debs, r.repoOptions()); err != nil {
		return err
	}
	if j.arch == r.ws.IndepArch() {
		for _, other := range r.archs[1:] {
			if err := r.repos.publish(ctx, other, allDebs(debs), r.repoOptions()); err != nil {
				return err
			}
		}
	}
	return nil
}

// buildKeys computes every build key of the project (all architectures, so
// keys do not depend on the selection) and prints the explanations asked
// for, before anything is restored or stored.
func (r *run) buildKeys(ctx context.Context, base *rootfs.Base) (*buildkey.Plan, error) {
	bi, err := buildkey.ReadBase(base)
	if err != nil {
		return nil, err
	}
	emu, err := r.emulatedBases()
	if err != nil {
		return nil, err
	}
	plan, err := buildKeyPlan(ctx, r.ws, bi, emu, r.opts.Cache)
	if err != nil {
		return nil, err
	}
	for _, name := range r.opts.Explain {
		found := false
		for _, b := range plan.Builds() {
			if b.Package != name {
				continue
			}
			found = true
			x, err := r.opts.Cache.Explain(ctx, b, plan.Current)
			if err != nil {
				return nil, err
			}
			x.Write(r.opts.Status)
		}
		if !found {
			return nil, fmt.Errorf("--explain %s: no such package in the project", name)
		}
	}
	return plan, nil
}

// restore takes j's build from the cache when it holds j's key, publishing
// it like a fresh build; it returns where it came from and the key ("" if
// it was not cached).
func (r *run) restore(ctx context.Context, j *job) (string, error) {
	keys := r.keyPlan()
	if keys == nil {
		return "", nil
	}
	b, ok := keys.Build(j.node.Name, j.arch)
	if !ok {
		return "", nil
	}
	got, hit, err := r.opts.Cache.Restore(ctx, b.Key, debsDir(r.opts.OutDir, j))
	if err != nil || !hit {
		return "", err
	}
	if err := r.publishBuilt(ctx, j, got.Files); err != nil {
		return "", r.unpublished(j, err)
	}
	return got.From + ", key " + b.Key.Short(), nil
}

// claim takes the cache's claim on j's build key, so that another run on
// the same cache that needs the same build waits for this one and restores
// it (and this one waits for it, saying so). Without a cache there is
// nothing to share.
func (r *run) claim(ctx context.Context, j *job) (release func(), err error) {
	keys := r.keyPlan()
	if keys == nil {
		return func() {}, nil
	}
	b, ok := keys.Build(j.node.Name, j.arch)
	if !ok {
		return func() {}, nil
	}
	return r.opts.Cache.Claim(ctx, b.Key, func() {
		r.emit(report.Event{Kind: report.KindInfo, Message: fmt.Sprintf("%s %s: waiting for another stx-build run that is building it (key %s)", j.arch, j.node.Name, b.Key.Short())})
	})
}

// store puts a successful build into the cache; a failure only warns.
func (r *run) store(ctx context.Context, j *job, files []string) {
	keys := r.keyPlan()
	if keys == nil {
		return
	}
	b, ok := keys.Build(j.node.Name, j.arch)
	if !ok {
		return
	}
	if _, err := r.opts.Cache.Store(ctx, b, files); err != nil {
		r.emit(report.Event{Kind: report.KindInfo, Message: fmt.Sprintf("warning: cache: %s %s: %v", j.arch, j.node.Name, err)})
	}
}
