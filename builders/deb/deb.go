// Package deb builds one Debian source package for one architecture in a
// hermetic sandbox: the base root, a cached layer holding exactly the
// package's build-dependencies, and a writable layer on tmpfs (or disk),
// with no network during the build.
package deb

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"pault.ag/go/debian/version"

	"github.com/stx-build/stx-build/debsrc"
	"github.com/stx-build/stx-build/ramdisk"
	"github.com/stx-build/stx-build/repo"
	"github.com/stx-build/stx-build/rootfs"
	"github.com/stx-build/stx-build/runner"
	"github.com/stx-build/stx-build/store"
)

// Version is the builder recipe version; part of layer keys.
const Version = "1"

// Package is one source package to build.
type Package struct {
	Name    string
	Version string
	// Local is an unpacked source tree (with debian/); DSC a .dsc whose
	// files sit beside it. Exactly one is set.
	Local string
	DSC   string
	// Patches are applied in order with patch -p1 after unpacking.
	Patches []string
	// Profiles are the package's build profiles (nocheck included when the
	// manifest says so).
	Profiles []string
	// Jobs is the make parallelism (parallel=N); 0 means Builder.Jobs.
	Jobs int
	// TmpfsHint is the predicted peak size of the build (0: unknown);
	// Disk forces a build on disk.
	TmpfsHint int64
	Disk      bool
	// Kernel, when set, builds a Linux kernel from a tarball with make
	// bindeb-pkg (kbuild.go); Local and DSC are then empty.
	Kernel *Kernel
	// Limits are the build step's sandbox limits (zero fields: the
	// runner's defaults; package.yaml build.pids and build.memory).
	Limits runner.Limits
}

// Request asks for one build.
type Request struct {
	Package Package
	// Arch is the host architecture to build for.
	Arch string
	// Parts says which binaries to build: "any" (-B), "all" (-A) or
	// "both" (-b).
	Parts string
	// Repos are the local repositories build-deps may come from, by
	// architecture; results are published into Repos[Arch] (and arch:all
	// ones also into the others, by the caller).
	Repos map[string]*repo.Repo
	// ReleaseDate is the Date of the repositories' Release files.
	ReleaseDate time.Time
	// RepoKeyring is the public keyring (a file alone in its directory)
	// that verifies Repos: apt in the sandbox checks their signed
	// InRelease with it. Empty: the repositories are trusted unchecked.
	RepoKeyring string
}

// Result describes a finished build.
type Result struct {
	Package, Version, Arch string
	// Files are the produced .deb/.udeb/.buildinfo/.changes, in OutDir.
	Files []string
	// Log is the full build log.
	Log string
	// OnTmpfs says where the build tree was; Retried says a tmpfs build ran
	// out of space and was run again on disk.
	OnTmpfs, Retried bool
	// PeakBytes is the peak size of the build tree.
	PeakBytes int64
	// LayerKey names the build-dependency layer; LayerCached says it was reused.
	LayerKey    string
	LayerCached bool
	// Setup is the time to the start of dpkg-buildpackage (unpack, build-dep
	// layer); Build the dpkg-buildpackage run; Total all of it.
	Setup, Build, Total time.Duration
	// Phases are the times of the phases the build went through, in
	// order (phases.go).
	Phases []Phase
}

// Builder builds packages. Its fields are shared by concurrent builds.
type Builder struct {
	// Runner is the local sandbox: it unpacks the source and resolves the
	// build-dependencies, and runs the build when Executor is nil.
	Runner runner.Runner
	Slots  *ramdisk.Manager
	Base   *rootfs.Base
	// HostArch is the build machine's architecture.
	HostArch string
	// LayerDir holds cached build-dependency layers.
	LayerDir string
	// Store keeps the archive packages build environments install (nil:
	// "store" beside LayerDir).
	Store *store.Store
	// Lock, when set, pins the archive packages: resolutions pick the
	// locked versions, and a package the lock does not hold (or holds
	// with another file) fails the build, naming it (docs/lock.md).
	Lock *store.Lock
	// OnResolved, when set, receives every resolved set's archive
	// packages and the Release files it was resolved against (stx-build
	// lock collects them). Called concurrently.
	OnResolved func(*store.LockSet)
	// OutDir receives results: OutDir/<arch>/debs/<name>_<version>/ and
	// OutDir/<arch>/logs/<name>_<version>.log.
	OutDir string
	// Jobs is the default make parallelism.
	Jobs int
	// MaxArtifact is the largest single artifact (.deb, .buildinfo, ...)
	// a build may produce, in bytes (0: DefaultMaxArtifact).
	MaxArtifact int64
	// Executor, when set, runs the environment and build steps elsewhere
	// (a BuildKit worker: buildkit.Runner), the local part of each build
	// in a disk slot. Nil: the local sandbox runs them, the whole build
	// in one slot (tmpfs when it fits).
	Executor runner.Executor
	// NoResolveCache resolves every build's dependencies anew instead of
	// reusing a cached resolution with the same inputs (resolution.go).
	NoResolveCache bool
	// NoSourceCache unpacks and patches every .dsc source anew instead of
	// copying a cached tree made from the same inputs (sourcecache.go).
	NoSourceCache bool
}

// Error is a failed build, with the log to look at.
type Error struct {
	Package, Arch, Step, Log string
	Err                      error
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s (%s): %s: %v (log: %s)", e.Package, e.Arch, e.Step, e.Err, e.Log)
}

func (e *Error) Unwrap() error { return e.Err }

// Build builds req. The build runs on tmpfs when its predicted size fits
// the RAM budget and is retried once on disk when tmpfs runs out of space.
// Results are moved into OutDir only when the build succeeded; a failed or
// interrupted build leaves earlier outputs as they were.
func (b *Builder) Build(ctx context.Context, req Request) (*Result, error) {
	start := time.Now()
	p := req.Package
	res := &Result{Package: p.Name, Version: p.Version, Arch: req.Arch}
	base := p.Name + "_" + noEpoch(p.Version)
	logDir := filepath.Join(b.OutDir, req.Arch, "logs")
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return nil, err
	}
	res.Log = filepath.Join(logDir, base+".log")
	partial := res.Log + ".partial"
	logf, err := os.Create(partial)
	if err != nil {
		return nil, err
	}
	defer logf.Close()

	files, err := b.run(ctx, req, res, logf)
	res.Total = time.Since(start)
	status := "ok"
	if err != nil {
		status = "FAILED: " + err.Error()
		var be *Error
		if errors.As(err, &be) {
			status = fmt.Sprintf("FAILED in %s: %v", be.Step, be.Err)
		}
	}
	logPhases(logf, res.Phases)
	fmt.Fprintf(logf, "stx-build: %s after %s (setup %s, build %s), peak %s\n",
		status, res.Total.Round(time.Millisecond), res.Setup.Round(time.Millisecond), res.Build.Round(time.Millisecond), ramdisk.FormatSize(res.PeakBytes))
	logf.Close()
	if rerr := os.Rename(partial, res.Log); rerr != nil && err == nil {
		err = rerr
	}
	if err != nil {
		var be *Error
		if !errors.As(err, &be) {
			err = &Error{Package: p.Name, Arch: req.Arch, Step: "build", Err: err}
		}
		errors.As(err, &be)
		be.Log = res.Log
		return res, err
	}
	res.Files = files
	return res, nil
}

// run runs the build in a slot, once more on disk when tmpfs ran out of
// space. With an Executor the slot holds only the local part, on disk:
// the executor places the build tree itself.
func (b *Builder) run(ctx context.Context, req Request, res *Result, log io.Writer) ([]string, error) {
	p := req.Package
	ex := b.Executor
	r := ramdisk.Request{Name: p.Name + "_" + noEpoch(p.Version) + "_" + req.Arch, Size: p.TmpfsHint, Disk: p.Disk}
	if ex != nil {
		r.Size, r.Disk = 0, true
	} else {
		ex = &runner.LocalExecutor{Runner: b.Runner, Base: b.Base.Dir, LayerDir: b.LayerDir}
	}
	var files []string
	out, err := ramdisk.RetryOnDisk(ctx, b.Slots, r, func(slot *ramdisk.Slot) error {
		fmt.Fprintf(log, "stx-build: %s %s for %s in %s (tmpfs: %v)\n", p.Name, p.Version, req.Arch, slot.Dir, slot.OnTmpfs)
		tail := &runner.LogTail{Max: 64 << 10}
		var err error
		files, err = b.buildIn(ctx, slot, req, res, ex, io.MultiWriter(log, tail))
		if err != nil && !errors.Is(err, syscall.ENOSPC) && ramdisk.LogSaysNoSpace(tail.Bytes()) {
			// Let the retry logic see it: the build ran out of space.
			err = fmt.Errorf("%w (%w)", err, syscall.ENOSPC)
		}
		return err
	})
	if b.Executor == nil {
		res.Retried = len(out.Attempts) > 1
		res.OnTmpfs = out.OnTmpfs()
		res.PeakBytes = out.Peak
	}
	return files, err
}

// buildIn runs one build with its local part in slot: unpack the source
// and resolve the build-dependency set here, then ex runs the build's
// description (environment, build), and the artifacts are collected.
func (b *Builder) buildIn(ctx context.Context, slot *ramdisk.Slot, req Request, res *Result, ex runner.Executor, log io.Writer) ([]string, error) {
	p := req.Package
	t0 := time.Now()
	fail := func(step string, err error) error {
		return &Error{Package: p.Name, Arch: req.Arch, Step: step, Err: err}
	}
	res.Phases = nil // a retry on disk starts over
	src, err := b.prepare(ctx, slot, req, log)
	if err != nil {
		return nil, fail("unpack", err)
	}
	res.addPhase(PhaseUnpack, time.Since(t0), src.cached)
	t1 := time.Now()
	ds, err := b.resolveDeps(ctx, slot, req, src.control, log)
	if err != nil {
		return nil, fail("build-deps", err)
	}
	res.addPhase(PhaseResolve, time.Since(t1), ds.Cached)
	t2 := time.Now()
	if src.control != src.dir {
		if err := os.RemoveAll(filepath.Join(slot.Dir, "build", src.control)); err != nil {
			return nil, fail("build-deps", err)
		}
	}
	res.LayerKey = ds.Key
	fmt.Fprintf(log, "stx-build: build-deps layer %s: %d packages\n", ds.Key[:12], len(ds.Inst))
	desc, err := b.describe(slot, req, src, ds)
	if err != nil {
		return nil, fail(src.step, err)
	}
	logCommand(log, desc.Steps[len(desc.Steps)-1])
	defer os.RemoveAll(b.debsDir(slot))
	prep, describe := time.Since(t0), time.Since(t2)
	tail := &runner.LogTail{Max: 16 << 10}
	oc, err := ex.Execute(ctx, desc, slot.Dir, io.MultiWriter(log, tail))
	if oc != nil {
		res.LayerCached, res.Setup, res.Build = oc.Cached, prep+oc.Setup, oc.Build
		if oc.Placed {
			res.OnTmpfs, res.Retried, res.PeakBytes = oc.OnTmpfs, oc.Retried, oc.PeakBytes
		}
		res.addPhase(PhaseEnvironment, describe+oc.Setup, oc.Cached)
		if oc.Build > 0 {
			res.addPhase(PhaseBuild, oc.Build, false)
		}
	}
	if err != nil {
		var se *runner.StepError
		switch {
		case errors.Is(err, runner.ErrUnavailable):
			return nil, err // not the package's failure: the caller may run it elsewhere
		case errors.As(err, &se) && se.Step == envStepName:
			return nil, fail("build-deps", withCause(se.Err, tail.Bytes(), req.Package.Name, req.Arch, req.Arch != b.HostArch))
		case errors.As(err, &se):
			return nil, fail(src.step, se.Err)
		}
		return nil, fail(src.step, err)
	}
	t3 := time.Now()
	files, err := b.collect(oc.Dir, req)
	if err != nil {
		return nil, fail("collect", err)
	}
	res.addPhase(PhaseCollect, time.Since(t3), false)
	return files, nil
}

// logCommand writes what step runs to the build log.
func logCommand(log io.Writer, s runner.Step) {
	if args := s.Args(); len(args) == 3 && args[0] == "/bin/sh" && args[1] == "-ec" {
		fmt.Fprintf(log, "stx-build: %s script:\n%s", s.Name(), args[2])
	} else {
		fmt.Fprintf(log, "stx-build: $ %s\n", strings.Join(args, " "))
	}
}

// source is a build's unpacked source in its slot.
type source struct {
	// dir is the tree's directory in /build; control the one whose
	// debian/control apt-get build-dep reads (the tree, or a stanza made
	// for a kernel).
	dir, control string
	// epoch is SOURCE_DATE_EPOCH (0: the build sets its own).
	epoch int64
	// step names the build step in errors (dpkg-buildpackage, bindeb-pkg).
	step string
	// cached says the tree was copied from the source tree cache.
	cached bool
}

// prepare unpacks req's source into slot/build, owned by the build user.
func (b *Builder) prepare(ctx context.Context, slot *ramdisk.Slot, req Request, log io.Writer) (*source, error) {
	buildDir := filepath.Join(slot.Dir, "build")
	if err := os.MkdirAll(buildDir, 0o755); err != nil {
		return nil, err
	}
	if err := os.Chown(buildDir, rootfs.BuildUID, rootfs.BuildGID); err != nil {
		return nil, err
	}
	if req.Package.Kernel != nil {
		return b.prepareKernel(ctx, slot, req, log)
	}
	return b.prepareSource(ctx, slot, req, log)
}

// prepareSource puts the source tree at /build/<name>-<upstream> and
// checks its changelog's version.
func (b *Builder) prepareSource(ctx context.Context, slot *ramdisk.Slot, req Request, log io.Writer) (*source, error) {
	p := req.Package
	dir := p.Name + "-" + upstreamVersion(p.Version)
	cached, err := b.unpack(ctx, slot, req, dir, log)
	if err != nil {
		return nil, err
	}
	clFile := filepath.Join(slot.Dir, "build", dir, "debian", "changelog")
	clData, err := os.ReadFile(clFile)
	if err != nil {
		return nil, err
	}
	cl, err := debsrc.ParseChangelog(clFile, clData)
	if err != nil {
		return nil, err
	}
	if cl.Version != p.Version {
		return nil, fmt.Errorf("debian/changelog says version %s, expected %s", cl.Version, p.Version)
	}
	return &source{dir: dir, control: dir, epoch: cl.Date.Unix(), step: "dpkg-buildpackage", cached: cached}, nil
}

// describe is the build's description: the environment holding exactly
// ds on the base, then the build step on it.
func (b *Builder) describe(slot *ramdisk.Slot, req Request, src *source, ds *depSet) (*runner.Build, error) {
	p := req.Package
	env, err := envStep(b.debsDir(slot), ds, b.store())
	if err != nil {
		return nil, err
	}
	var size int64
	if !p.Disk && b.Slots != nil {
		size = b.Slots.PaddedSize(p.TmpfsHint)
	}
	var build runner.Step
	if p.Kernel != nil {
		build, err = b.kernelStep(slot.Dir, req, src, size)
	} else {
		build = b.buildStep(slot.Dir, req, src.dir, src.epoch, size)
	}
	if err != nil {
		return nil, err
	}
	return &runner.Build{
		Name:      fmt.Sprintf("%s %s %s", p.Name, p.Version, req.Arch),
		Steps:     []runner.Step{env, build},
		Artifacts: artifactExt,
	}, nil
}

// unpack puts the source tree at slot/build/<dir>: a local tree is copied
// with normalized modes; a .dsc is unpacked by dpkg-source inside the
// sandbox (the base's dpkg, not the host's), or its tree copied from the
// source tree cache (sourcecache.go), which it says. Patches are applied
// after.
func (b *Builder) unpack(ctx context.Context, slot *ramdisk.Slot, req Request, dir string, log io.Writer) (bool, error) {
	p := req.Package
	dst := filepath.Join(slot.Dir, "build", dir)
	var script []string
	var inputs []runner.StepMount
	if p.Local != "" {
		clFile := filepath.Join(p.Local, "debian", "changelog")
		data, err := os.ReadFile(clFile)
		if err != nil {
			return false, err
		}
		cl, err := debsrc.ParseChangelog(clFile, data)
		if err != nil {
			return false, err
		}
		if err := copyTree(p.Local, dst, cl.Date); err != nil {
			return false, err
		}
		if err := chownTree(dst, rootfs.BuildUID, rootfs.BuildGID); err != nil {
			return false, err
		}
	} else {
		inputs = append(inputs, runner.StepMount{Source: filepath.Dir(p.DSC), Target: "/stx/src"})
		// Hashes were verified when fetching; dpkg-source has no keyring here.
		script = append(script, "dpkg-source --no-check --no-copy -x /stx/src/"+shellQuote(filepath.Base(p.DSC))+" /build/"+shellQuote(dir))
	}
	patch, pdir, err := patchScript(slot, p.Patches, dir)
	if err != nil {
		return false, err
	}
	if pdir != "" {
		script = append(script, patch...)
		inputs = append(inputs, runner.StepMount{Source: pdir, Target: "/stx/patches"})
	}
	run := func() error { return b.runUnpack(ctx, slot, script, inputs, log) }
	if p.DSC == "" || !b.cacheSources() {
		return false, run()
	}
	// Inputs that cannot be read only mean no caching: dpkg-source decides.
	in, err := b.sourceInputs(p.DSC, patchFiles(pdir, len(p.Patches)), dir, strings.Join(script, "\n"))
	if err != nil {
		fmt.Fprintf(log, "stx-build: source tree not cached: %v\n", err)
	}
	return b.unpackDSC(ctx, dst, in, run, log)
}

// patchScript copies patches into slot/patches and returns the commands
// that apply them to /build/<dir> from /stx/patches, and that directory
// ("" when there are none).
func patchScript(slot *ramdisk.Slot, patches []string, dir string) ([]string, string, error) {
	if len(patches) == 0 {
		return nil, "", nil
	}
	pdir := filepath.Join(slot.Dir, "patches")
	if err := os.MkdirAll(pdir, 0o755); err != nil {
		return nil, "", err
	}
	var script []string
	for i, patch := range patches {
		name := patchName(i)
		if err := copyFile(patch, filepath.Join(pdir, name), 0o644); err != nil {
			return nil, "", err
		}
		script = append(script, fmt.Sprintf("echo 'applying %s'; patch -p1 --batch --forward -d /build/%s < /stx/patches/%s", filepath.Base(patch), shellQuote(dir), name))
	}
	return script, pdir, nil
}

// patchName is the name of the i-th patch's copy in the slot.
func patchName(i int) string { return fmt.Sprintf("%03d.patch", i) }

// patchFiles are the copies of n patches in pdir, in order.
func patchFiles(pdir string, n int) []string {
	files := make([]string, n)
	for i := range files {
		files[i] = filepath.Join(pdir, patchName(i))
	}
	return files
}

// runUnpack runs the unpack step, if it has anything to do: script as the
// build user on the base, with the build tree and the inputs mounted.
func (b *Builder) runUnpack(ctx context.Context, slot *ramdisk.Slot, script []string, inputs []runner.StepMount, log io.Writer) error {
	if len(script) == 0 {
		return nil
	}
	step := runner.NewStep("unpack", "/bin/sh", "-ec", strings.Join(script, "\n")).
		WithEnv(userEnv(0)...).WithDir("/build").WithUser(rootfs.BuildUID, rootfs.BuildGID).
		WithTree(filepath.Join(slot.Dir, "build"), "/build", 0)
	for _, in := range inputs {
		step = step.WithInput(in.Source, in.Target)
	}
	local := &runner.LocalExecutor{Runner: b.Runner, Base: b.Base.Dir}
	return local.RunStep(ctx, step, filepath.Join(slot.Dir, "unpack"), log, log)
}

// profiles are the build profiles for req: the package's, plus cross and
// nocheck for a cross build.
func profiles(req Request, hostArch string) []string {
	prof := slices.Clone(req.Package.Profiles)
	if req.Arch != hostArch {
		prof = append(prof, "cross", "nocheck")
	}
	slices.Sort(prof)
	return slices.Compact(prof)
}

// buildStep is the dpkg-buildpackage step: no network, as the build
// user, in the tree at slotDir/build (size: its tmpfs size where it is
// copied).
func (b *Builder) buildStep(slotDir string, req Request, srcDir string, epoch, size int64) runner.Step {
	jobs := b.jobs(req.Package)
	prof := profiles(req, b.HostArch)
	opts := []string{"parallel=" + strconv.Itoa(jobs)}
	if slices.Contains(prof, "nocheck") {
		opts = append(opts, "nocheck")
	}
	args := []string{"dpkg-buildpackage", "--no-sign"}
	switch req.Parts {
	case "any":
		args = append(args, "-B")
	case "all":
		args = append(args, "-A")
	default:
		args = append(args, "-b")
	}
	if req.Arch != b.HostArch {
		args = append(args, "--host-arch="+req.Arch)
	}
	if len(prof) > 0 {
		args = append(args, "--build-profiles="+strings.Join(prof, ","))
	}
	env := append(userEnv(epoch), "DEB_BUILD_OPTIONS="+strings.Join(opts, " "))
	if len(prof) > 0 {
		env = append(env, "DEB_BUILD_PROFILES="+strings.Join(prof, " "))
	}
	return runner.NewStep("build", args...).WithEnv(env...).WithDir("/build/"+srcDir).
		WithUser(rootfs.BuildUID, rootfs.BuildGID).WithLimits(req.Package.Limits).
		WithTree(filepath.Join(slotDir, "build"), "/build", size)
}

// jobs is p's make parallelism.
func (b *Builder) jobs(p Package) int {
	switch {
	case p.Jobs > 0:
		return p.Jobs
	case b.Jobs > 0:
		return b.Jobs
	}
	return 1
}

// userEnv is the fixed environment of the steps that run as the build
// user: baseEnv with HOME=/nonexistent (one HOME: a build must not depend
// on a home directory, as on Debian's buildds) and the user's name.
func userEnv(epoch int64) []string {
	env := slices.DeleteFunc(baseEnv(epoch), func(kv string) bool { return strings.HasPrefix(kv, "HOME=") })
	return append(env, "HOME=/nonexistent", "USER="+rootfs.BuildUser, "LOGNAME="+rootfs.BuildUser)
}

// baseEnv is the fixed environment of the steps that run as root
// (HOME=/root); userEnv is the build user's.
func baseEnv(epoch int64) []string {
	env := []string{
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"LC_ALL=C.UTF-8", "LANG=C.UTF-8", "TZ=UTC", "TERM=dumb",
		"HOME=/root",
	}
	if epoch > 0 {
		env = append(env, "SOURCE_DATE_EPOCH="+strconv.FormatInt(epoch, 10))
	}
	return env
}

func noEpoch(v string) string {
	if _, rest, ok := strings.Cut(v, ":"); ok {
		return rest
	}
	return v
}

func upstreamVersion(v string) string {
	pv, err := version.Parse(v)
	if err != nil {
		return noEpoch(v)
	}
	return pv.Version
}

// shellQuote and shellQuoteAll quote for the sandbox's shell.
var (
	shellQuote    = runner.ShellQuote
	shellQuoteAll = runner.ShellQuoteAll
)
