package buildrun

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/stx-build/stx-build/builders/deb"
	"github.com/stx-build/stx-build/cache/buildkey"
	"github.com/stx-build/stx-build/report"
	"github.com/stx-build/stx-build/rootfs"
	"github.com/stx-build/stx-build/runner"
	"github.com/stx-build/stx-build/scheduler"
)

// Emulated builds (workspace.Emulated says which) run natively in a base
// root of the target architecture, its programs under qemu-user: the
// same builder, sandbox and recipe with that root as base and the
// target as the build machine's architecture, so dpkg-buildpackage and
// apt-get build-dep run without --host-arch. The root is made (and the
// builder set up) when the first emulated build of the run needs it.

// emulation is the emulated build environment of one architecture.
type emulation struct {
	once    sync.Once
	base    *rootfs.Base
	builder *deb.Builder
	err     error
}

// emulationOf is arch's emulation entry (not yet set up).
func (r *run) emulationOf(arch string) *emulation {
	r.emuMu.Lock()
	defer r.emuMu.Unlock()
	if r.emu == nil {
		r.emu = map[string]*emulation{}
	}
	e := r.emu[arch]
	if e == nil {
		e = &emulation{}
		r.emu[arch] = e
	}
	return e
}

// emulatedBase makes (or finds) arch's emulated base root, once per run:
// binfmt checked first, then mmdebstrap for arch, then a probe that one
// of its programs runs in the sandbox.
func (r *run) emulatedBase(ctx context.Context, arch string) (*rootfs.Base, error) {
	e := r.emulationOf(arch)
	e.once.Do(func() { e.base, e.err = r.makeEmulatedBase(ctx, arch) })
	return e.base, e.err
}

func (r *run) makeEmulatedBase(ctx context.Context, arch string) (*rootfs.Base, error) {
	if err := rootfs.CheckBinfmt(ctx, arch); err != nil {
		return nil, fmt.Errorf("emulated %s builds: %w", arch, err)
	}
	spec, err := r.ws.EmulatedBaseSpec(arch)
	if err != nil {
		return nil, err
	}
	st := r.ws.BaseStore()
	st.Log = r.opts.Log
	st.Waiting = func(key string) {
		r.emit(report.Event{Kind: report.KindInfo, Message: fmt.Sprintf("emulated base root: waiting for another stx-build run that is making %s", key[:12])})
	}
	if _, err := st.Find(ctx, spec); err != nil || r.opts.RefreshBase {
		r.emit(report.Event{Kind: report.KindInfo, Message: fmt.Sprintf("emulated base root: %s %s under qemu-user (minutes)", spec.Suite, arch)})
		if err := r.checkSandbox(ctx); err != nil {
			return nil, err
		}
	}
	t := time.Now()
	b, err := st.Ensure(ctx, spec, r.opts.RefreshBase)
	if err != nil {
		return nil, fmt.Errorf("emulated %s base root: %w", arch, err)
	}
	if err := r.probeEmulation(ctx, b, arch); err != nil {
		return nil, err
	}
	r.emit(report.Event{Kind: report.KindInfo, Message: fmt.Sprintf("emulated base root: %s %s ready in %s", arch, b.Key[:12], time.Since(t).Round(100*time.Millisecond))})
	return b, nil
}

// probeEmulation runs the root's own /bin/true in the sandbox (mount
// namespace, chroot, seccomp filter): qemu-user must start there, which
// binfmt's F flag provides and a missing one would not.
func (r *run) probeEmulation(ctx context.Context, b *rootfs.Base, arch string) error {
	dir, err := os.MkdirTemp(r.ws.CacheDir(), ".emulation-probe-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	var out strings.Builder
	step := runner.NewStep("emulation probe", "/bin/sh", "-ec", "test \"$(dpkg --print-architecture)\" = "+runner.ShellQuote(arch))
	local := &runner.LocalExecutor{Runner: r.opts.Runner, Base: b.Dir}
	if err := local.RunStep(ctx, step, filepath.Join(dir, "upper"), &out, &out); err != nil {
		return fmt.Errorf("emulated %s builds: the %s base root's programs do not run in the build sandbox: %w: %s (qemu-user must be registered with binfmt_misc with the F flag; stx-build doctor)", arch, arch, err, strings.TrimSpace(out.String()))
	}
	return nil
}

// emulatedBuilder is the builder of arch's emulated builds: the run's
// builder on the emulated base, with arch as the build machine's.
func (r *run) emulatedBuilder(ctx context.Context, arch string) (*deb.Builder, error) {
	base, err := r.emulatedBase(ctx, arch)
	if err != nil {
		return nil, err
	}
	e := r.emulationOf(arch)
	r.emuMu.Lock()
	defer r.emuMu.Unlock()
	if e.builder == nil {
		b := *r.builder
		b.Base, b.HostArch, b.Executor = base, arch, nil
		e.builder = &b
	}
	return e.builder, nil
}

// emulatedBases are the run's emulated base roots made so far, for
// build keys.
func (r *run) emulatedBases() (map[string]buildkey.Base, error) {
	r.emuMu.Lock()
	archs := map[string]*emulation{}
	for a, e := range r.emu {
		archs[a] = e
	}
	r.emuMu.Unlock()
	out := map[string]buildkey.Base{}
	for a, e := range archs {
		if e.base == nil {
			continue
		}
		b, err := buildkey.ReadBase(e.base)
		if err != nil {
			return nil, err
		}
		out[a] = b
	}
	return out, nil
}

// isEmulated says whether j builds emulated (now: a fallback switches it).
func (r *run) isEmulated(j *job) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return j.emulated != ""
}

// fallBack switches j to an emulated build when its cross build failed
// because its build-dependencies cannot be installed for the target
// architecture (deb.ErrNotCrossBuildable), and says so: the workspace
// and the cache remember it (workspace.Emulate) and the build keys are
// computed again. It reports whether j was switched. An explicit
// build.cross: true is never switched.
func (r *run) fallBack(ctx context.Context, j *job, err error) bool {
	if ctx.Err() != nil || !fallsBack(err, r.isEmulated(j), j.pr.Package.Build.Cross) {
		return false
	}
	why := "cross build-dependencies cannot be installed"
	if werr := r.ws.Emulate(j.pr, j.arch, why); werr != nil {
		r.emit(report.Event{Kind: report.KindInfo, Message: "warning: " + werr.Error()})
	}
	r.mu.Lock()
	j.emulated = why
	r.mu.Unlock()
	// The emulated build writes the log anew; the cross attempt's is kept.
	crossLog := ""
	var be *deb.Error
	if errors.As(err, &be) && be.Log != "" {
		crossLog = strings.TrimSuffix(be.Log, ".log") + ".cross.log"
		if os.Rename(be.Log, crossLog) != nil {
			crossLog = be.Log
		}
	}
	r.emit(report.Event{Kind: report.KindInfo, Package: j.node.Name, Version: j.node.Version, Arch: j.arch, ID: j.id, Mode: report.ModeEmulated, Log: crossLog,
		Message: fmt.Sprintf("%s %s: not cross-buildable (%v); building it emulated under qemu-user instead (about %d× slower), and so from now on for version %s",
			j.arch, j.node.Name, firstLine(err), scheduler.EmulationFactor, j.node.Version)})
	return true
}

// fallsBack is fallBack's decision: a build that failed because its
// cross build-dependencies cannot be installed is built again emulated,
// unless it was emulated already or the manifest says build.cross
// explicitly (cross true: the failure stands, with its hint).
func fallsBack(err error, emulated bool, cross *bool) bool {
	return err != nil && errors.Is(err, deb.ErrNotCrossBuildable) && !emulated && cross == nil
}

// rekey computes the build keys again after a switch to emulation, with
// the emulated bases made so far (the switched package's among them).
func (r *run) rekey(ctx context.Context) error {
	r.keysMu.Lock()
	defer r.keysMu.Unlock()
	if r.keys == nil {
		return nil
	}
	bi, err := buildkey.ReadBase(r.builder.Base)
	if err != nil {
		return err
	}
	emu, err := r.emulatedBases()
	if err != nil {
		return err
	}
	plan, err := buildKeyPlan(ctx, r.ws, bi, emu, r.opts.Cache)
	if err != nil {
		return err
	}
	r.keys = plan
	return nil
}

// keyPlan is the run's build keys (nil without a cache).
func (r *run) keyPlan() *buildkey.Plan {
	r.keysMu.Lock()
	defer r.keysMu.Unlock()
	return r.keys
}

func firstLine(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	return s
}

// emulatedNotes are the plan's notes on the emulated builds: which, and
// why.
func emulatedNotes(js []*job) []string {
	var notes []string
	for _, j := range js {
		if j.emulated != "" && !isPublishOnly(j) {
			notes = append(notes, fmt.Sprintf("%s: %s builds emulated under qemu-user (%s), about %d× slower than a cross build", j.arch, j.node.Name, j.emulated, scheduler.EmulationFactor))
		}
	}
	return notes
}

// mode is how j builds: report.ModeEmulated, report.ModeCross, or "" (on
// the build machine's architecture, or only publishing).
func (r *run) mode(j *job) string {
	switch {
	case isPublishOnly(j) || j.arch == r.hostArch:
		return ""
	case r.isEmulated(j):
		return report.ModeEmulated
	}
	return report.ModeCross
}

// emulatedArchs are the architectures with an emulated build to make or
// restore in this run.
func (r *run) emulatedArchs() []string {
	var out []string
	for _, j := range r.jobs {
		if j.emulated != "" && !isPublishOnly(j) && !slices.Contains(out, j.arch) {
			out = append(out, j.arch)
		}
	}
	return out
}
