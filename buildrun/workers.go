package buildrun

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/stx-build/stx-build/report"
	"github.com/stx-build/stx-build/rootfs"
	"github.com/stx-build/stx-build/runner/buildkit"
	"github.com/stx-build/stx-build/scheduler"
)

// connectWorkers checks every worker, exports the base root as an image
// the workers start from (once per base, kept in the cache), and makes a
// builder per usable worker. A worker that does not answer is left out
// with a warning; none left is an error when nothing builds locally.
func (r *run) connectWorkers(ctx context.Context, base *rootfs.Base, localBudget int64) ([]scheduler.Pool, error) {
	var pools []scheduler.Pool
	var img *buildkit.BaseImage
	var problems []string
	for _, w := range r.opts.Workers {
		bw := buildkit.New(w.Addr)
		if w.TLSDir != "" {
			bw.TLS = buildkit.TLSDir(w.TLSDir)
		}
		if err := bw.Usable(ctx, r.hostArch); err != nil {
			problems = append(problems, err.Error())
			r.emit(report.Event{Kind: report.KindInfo, Message: "warning: not using " + err.Error()})
			continue
		}
		if img == nil {
			bi, err := buildkit.ExportBase(base.Dir, filepath.Join(r.ws.CacheDir(), "base-images"), base.Key, r.hostArch, r.date)
			if err != nil {
				return nil, fmt.Errorf("base image for the workers: %w", err)
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
			budget = localBudget
		}
		if r.opts.NoTmpfs {
			budget = 0
		}
		pools = append(pools, scheduler.Pool{Name: w.Addr, Slots: max(w.Slots, 1), Cores: w.Cores, Budget: budget})
		r.emit(report.Event{Kind: report.KindInfo, Message: fmt.Sprintf("worker %s: %d slot(s)", w.Addr, max(w.Slots, 1))})
	}
	if len(pools) == 0 && r.opts.NoLocal {
		return nil, fmt.Errorf("no usable BuildKit worker (and --no-local): %s", strings.Join(problems, "; "))
	}
	return pools, nil
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
