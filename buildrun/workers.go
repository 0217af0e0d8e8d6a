package buildrun

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/stx-build/stx-build/report"
	"github.com/stx-build/stx-build/rootfs"
	"github.com/stx-build/stx-build/runner/buildkit"
	"github.com/stx-build/stx-build/scheduler"
)

// connectWorkers asks every worker for its native platform, exports the
// base root as an image the workers start from (once per base, kept in
// the cache), makes a builder per usable worker and sets so's workers,
// with the architectures each place builds (poolArchs), and this
// machine's. A worker that does not answer, or that runs natively an
// architecture no build of the run can use there, is left out with a
// warning; an error when then nothing builds some task.
func (r *run) connectWorkers(ctx context.Context, base *rootfs.Base, so *scheduler.Options, dag *scheduler.DAG) error {
	var img *buildkit.BaseImage
	var problems []string
	skip := func(msg string) {
		problems = append(problems, msg)
		r.emit(report.Event{Kind: report.KindInfo, Message: "warning: not using " + msg})
	}
	natives := []string{r.hostArch}
	for _, w := range r.opts.Workers {
		bw := buildkit.New(w.Addr)
		if w.TLSDir != "" {
			bw.TLS = buildkit.TLSDir(w.TLSDir)
		}
		native, err := bw.Native(ctx)
		if err != nil {
			skip(err.Error())
			continue
		}
		if native != r.hostArch {
			// Its native builds would start from a base root of its
			// architecture; the run's builders have the host's only.
			skip(fmt.Sprintf("buildkit worker %s: it runs linux/%s natively, and native builds on a worker for an architecture other than this machine's (%s) are not supported yet", w.Addr, native, r.hostArch))
			continue
		}
		if img == nil {
			bi, err := buildkit.ExportBase(base.Dir, filepath.Join(r.ws.CacheDir(), "base-images"), base.Key, r.hostArch, r.date)
			if err != nil {
				return fmt.Errorf("base image for the workers: %w", err)
			}
			img = &bi
		}
		b := *r.builder
		b.Executor = &buildkit.Runner{
			Worker: bw, Base: *img,
			CacheRef: r.opts.BuildKitCache, InsecureRegistry: r.opts.InsecureRegistry,
		}
		r.builders = append(r.builders, &b)
		budget := w.TmpfsBudget
		if budget <= 0 {
			budget = so.Budget
		}
		if r.opts.NoTmpfs {
			budget = 0
		}
		natives = append(natives, native)
		so.Workers = append(so.Workers, scheduler.Pool{Name: w.Addr, Slots: max(w.Slots, 1), Cores: w.Cores, Budget: budget})
	}
	archs := poolArchs(r.hostArch, r.archs, natives)
	so.Archs = archs[0]
	for i := range so.Workers {
		so.Workers[i].Archs = archs[i+1]
		r.emit(report.Event{Kind: report.KindInfo, Message: fmt.Sprintf("worker %s: %d slot(s), linux/%s, builds %s",
			so.Workers[i].Name, so.Workers[i].Slots, natives[i+1], describeArchs(archs[i+1]))})
	}
	if r.opts.NoLocal {
		so.Slots = 0
	}
	if len(so.Workers) == 0 && r.opts.NoLocal {
		return fmt.Errorf("no usable BuildKit worker (and --no-local): %s", strings.Join(problems, "; "))
	}
	if err := so.Check(dag); err != nil {
		if len(problems) > 0 {
			err = fmt.Errorf("%w (workers left out: %s)", err, strings.Join(problems, "; "))
		}
		return err
	}
	return nil
}

// poolArchs says which of the run's architectures (archs) each place
// builds, its native architecture first: natives[0] is this machine's
// (host), natives[i] worker i's. Every place builds its native
// architecture natively. An architecture that some place runs natively
// is built only there, natively; the others are cross-built by the
// places that run the host's architecture, whose base root (the host's)
// holds the cross toolchains. Which places build what depends only on
// the configuration, never on which worker is free, so a build is
// either always native or always cross in a run.
func poolArchs(host string, archs, natives []string) [][]string {
	out := make([][]string, len(natives))
	for i, n := range natives {
		out[i] = []string{n}
		if n != host {
			continue
		}
		for _, a := range archs {
			if a != host && !slices.Contains(natives, a) {
				out[i] = append(out[i], a)
			}
		}
	}
	return out
}

// describeArchs says what a place with archs (native first) builds.
func describeArchs(archs []string) string {
	s := archs[0] + " natively"
	if len(archs) > 1 {
		s += ", " + strings.Join(archs[1:], ", ") + " from " + archs[0]
	}
	return s
}

// ParseWorker parses ADDR or ADDR=SLOTS (the --buildkit flag).
func ParseWorker(s string) (Worker, error) {
	w := Worker{Addr: s, Slots: 1}
	if addr, n, ok := strings.Cut(s, "="); ok {
		var slots int
		if _, err := fmt.Sscanf(n, "%d", &slots); err != nil || slots < 1 || fmt.Sprint(slots) != n {
			return Worker{}, fmt.Errorf("worker %q: slots %q is not a positive number", s, n)
		}
		w.Addr, w.Slots = addr, slots
	}
	if !strings.Contains(w.Addr, "://") {
		return Worker{}, fmt.Errorf("worker %q: want an address such as unix:///run/buildkit/buildkitd.sock or tcp://host:1234", s)
	}
	return w, nil
}
