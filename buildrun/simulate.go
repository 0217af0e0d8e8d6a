package buildrun

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/stx-build/stx-build/builders/deb"
	"github.com/stx-build/stx-build/report"
	"github.com/stx-build/stx-build/workspace"
)

// Simulate resolves what the build environments of the selected packages
// install, without building any (stx-build lock --no-build, docs/lock.md):
// the base root is found or made, every build's set is resolved on it by
// simulation (deb.Builder.Simulate), and each architecture's union goes
// to opts.OnResolved. Builds that would run emulated are refused: their
// sets are resolved by their own base root's apt, which Simulate does not
// run.
func Simulate(ctx context.Context, ws *workspace.Workspace, opts Options) error {
	opts = opts.withDefaults(ws)
	archs, err := orderArchs(ws.Project, opts.Archs)
	if err != nil {
		return err
	}
	r := &run{ws: ws, opts: opts, archs: archs, hostArch: workspace.HostArch(), begin: time.Now(), sink: opts.Events}
	defer r.waitProbe()
	jobs, _, err := jobs(ctx, ws, archs, opts)
	if err != nil {
		return err
	}
	base, err := r.ensureBase(ctx)
	if err != nil {
		return err
	}
	var reqs []deb.SimRequest
	for _, j := range jobs {
		if isPublishOnly(j) {
			continue
		}
		if j.emulated != "" {
			return fmt.Errorf("%s builds emulated (%s): lock --no-build resolves cross and native builds only; lock it by building (without --no-build)", j.id, j.emulated)
		}
		reqs = append(reqs, deb.SimRequest{Request: deb.Request{Package: jobPackage(ws, j), Arch: j.arch, Parts: j.parts}, Binaries: j.node.Binaries})
	}
	if len(reqs) == 0 {
		return nil
	}
	work, err := os.MkdirTemp(ws.CacheDir(), "simulate-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	b := &deb.Builder{Runner: opts.Runner, Base: base, HostArch: r.hostArch, LayerDir: filepath.Join(ws.CacheDir(), "layers")}
	t := time.Now()
	sets, err := b.Simulate(ctx, reqs, filepath.Join(work, "sim"), opts.Log)
	if err != nil {
		return err
	}
	r.emit(report.Event{Kind: report.KindInfo, Message: fmt.Sprintf("build-deps: %d builds resolved without building in %s", len(reqs), time.Since(t).Round(10*time.Millisecond))})
	if opts.OnResolved != nil {
		for _, s := range sets {
			opts.OnResolved(s)
		}
	}
	return nil
}
