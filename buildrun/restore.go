package buildrun

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/stx-build/stx-build/builders/deb"
	"github.com/stx-build/stx-build/cache"
	"github.com/stx-build/stx-build/cache/buildkey"
	"github.com/stx-build/stx-build/report"
	"github.com/stx-build/stx-build/scheduler"
	"github.com/stx-build/stx-build/workspace"
)

// Restoring from the artifact cache happens before the scheduler starts
// anything: every task whose build the cache holds is restored into
// OUT/<arch>/debs (several at once; a destination that holds the entry's
// files already is left alone, see cache.Local.Restore), and each
// architecture's restored debs are published in one Publish, which writes
// nothing when the repository holds them already. So a run that rebuilds
// nothing costs a few file checks per package and one index comparison
// per architecture, not a publish (a pool scan and a new index
// generation) per package one after the other; a run that rebuilds one
// package starts building it at once. The restored tasks then pass
// through the scheduler as done, which gives them their events and their
// place in the report. A task the cache misses, or holds only after
// another run on the same cache stores it, is restored in the scheduler
// (restore) as before.

// restored is what the pass did for one task.
type restored struct {
	files     []string // in OUT/<arch>/debs/<source>_<version>/
	from      string   // "local, key 0123abcd" (the report's Cached)
	unchanged bool     // the destination held the files already
	size      int64    // the files' bytes
	seconds   float64  // the restore's wall time
	err       error    // restoring failed: the task fails with it
	// publish is set when the batch publish failed: the task publishes
	// itself, so that the failure is its own.
	publish bool
}

// restoreCached restores what the cache holds, marks those tasks cached in
// dag (their cost: a restore's, as Plan predicts it) and publishes them.
func (r *run) restoreCached(ctx context.Context, dag *scheduler.DAG) error {
	var todo []*job
	for _, j := range r.jobs {
		if isPublishOnly(j) {
			continue
		}
		if _, ok := r.keys.Build(j.node.Name, j.arch); ok {
			todo = append(todo, j)
		} else {
			r.startProbe(ctx) // it will be built
		}
	}
	begin := time.Now()
	var wg sync.WaitGroup
	sem := make(chan struct{}, max(r.opts.Jobs, 4)) // file copies and checks: more than -j
	for _, j := range todo {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			if j.restored = r.restoreOne(ctx, j); j.restored == nil {
				r.startProbe(ctx) // a miss: it will be built
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	n, unchanged := 0, 0
	for i, j := range r.jobs {
		if j.restored == nil {
			continue
		}
		n++
		if j.restored.unchanged {
			unchanged++
		}
		// The prediction Plan makes; the report has what it took.
		dag.Tasks[i] = cachedTask(dag.Tasks[i], j.restored.size)
		j.task = dag.Tasks[i]
	}
	relayer(r.jobs, dag)
	r.publishRestored(ctx)
	if n > 0 {
		r.emit(report.Event{Kind: report.KindInfo, Message: fmt.Sprintf("cache: %d build(s) restored (%d already in place) and published in %s",
			n, unchanged, time.Since(begin).Round(time.Millisecond))})
	}
	return nil
}

// restoreOne restores j's build if the cache holds its key; nil if not.
func (r *run) restoreOne(ctx context.Context, j *job) *restored {
	b, _ := r.keys.Build(j.node.Name, j.arch)
	t := time.Now()
	got, hit, err := r.opts.Cache.Restore(ctx, b.Key, debsDir(r.opts.OutDir, j))
	switch {
	case err != nil:
		return &restored{err: err, seconds: time.Since(t).Seconds()}
	case !hit:
		return nil
	}
	rs := &restored{
		files: got.Files, from: got.From + ", key " + b.Key.Short(),
		unchanged: got.Unchanged, seconds: time.Since(t).Seconds(),
	}
	for _, f := range got.Manifest.Files {
		rs.size += f.Size
	}
	return rs
}

// publishRestored publishes the restored debs, one Publish per
// architecture: each build's debs into its architecture's repository and
// the first architecture's Architecture: all debs into every other. The
// builds of an architecture whose Publish fails publish themselves when
// the scheduler runs them.
func (r *run) publishRestored(ctx context.Context) {
	first := r.ws.IndepArch()
	debs := map[string][]string{}
	from := map[string][]*job{}
	for _, j := range r.jobs {
		if j.restored == nil || j.restored.err != nil {
			continue
		}
		d := debFiles(j.restored.files)
		debs[j.arch] = append(debs[j.arch], d...)
		from[j.arch] = append(from[j.arch], j)
		if j.arch == first {
			for _, other := range r.archs[1:] {
				debs[other] = append(debs[other], allDebs(d)...)
				from[other] = append(from[other], j)
			}
		}
	}
	for _, arch := range r.archs {
		if len(from[arch]) == 0 {
			continue
		}
		err := r.repos.publish(ctx, arch, debs[arch], r.repoOptions())
		if err == nil {
			continue
		}
		r.emit(report.Event{Kind: report.KindInfo, Message: fmt.Sprintf("%s: publishing %d restored build(s) at once failed, each publishes its own: %v", arch, len(from[arch]), err)})
		for _, j := range from[arch] {
			j.restored.publish = true
		}
	}
}

// finishRestored ends the task of a build restored before the scheduler
// started: it publishes the build if the batch could not, and records
// where it came from.
func (r *run) finishRestored(ctx context.Context, task int, j *job) error {
	rs := j.restored
	if rs.err != nil {
		return rs.err
	}
	if rs.publish {
		if err := r.publishBuilt(ctx, j, rs.files); err != nil {
			return r.unpublished(j, err)
		}
		rs.publish = false
	}
	r.mu.Lock()
	r.cached[task] = rs.from
	r.mu.Unlock()
	return nil
}

// dropUnpublished removes the restored builds that are still to be
// published when the run ends (their task was skipped or not started after
// the batch publish failed), so that OUT/<arch>/debs holds nothing the
// repository did not get.
func (r *run) dropUnpublished() {
	for _, j := range r.jobs {
		if j.restored != nil && j.restored.err == nil && j.restored.publish {
			os.RemoveAll(debsDir(r.opts.OutDir, j))
		}
	}
}

// indepPublished tells whether the restore pass published the first
// architecture's Architecture: all debs of the publish-only task j
// already.
func (r *run) indepPublished(j *job) bool {
	for _, o := range r.jobs {
		if o.arch == r.ws.IndepArch() && o.node.Name == j.node.Name && o.restored != nil {
			return o.restored.err == nil && !o.restored.publish
		}
	}
	return false
}

// unpublished removes what a build whose publish failed left in
// OUT/<arch>/debs, so that nothing of a failed package stays in the
// outputs (the repository is as it was: Publish undoes what it did), and
// returns err.
func (r *run) unpublished(j *job, err error) error {
	dir := debsDir(r.opts.OutDir, j)
	if rmErr := os.RemoveAll(dir); rmErr != nil {
		return fmt.Errorf("%w (and removing %s: %v)", err, dir, rmErr)
	}
	return err
}

// debsDir is where j's build puts its artifacts (deb.Builder's collect,
// cache restores).
func debsDir(out string, j *job) string {
	return filepath.Join(out, j.arch, "debs", j.node.Name+"_"+noEpoch(j.node.Version))
}

// A restore's predicted cost: a fixed part (locks, the manifest, the
// destination check, its share of the publish) and the entry's bytes
// copied and hashed. Measured on a loaded two-core machine: 300 restores
// of small entries already in place take ~0.3 s, 4 at once
// (docs/performance.md), 2 ms each on one of two slots.
const (
	restoreSeconds      = 0.002
	restoreBytesPerSec  = 200e6
	remoteRestoreSecond = 1 // a pull first: unknown size, a round trip
)

// cachedTask is t as a restore of an entry of size bytes (-1: on a
// remote) costs: no tmpfs, one job.
func cachedTask(t scheduler.Task, size int64) scheduler.Task {
	t.Seconds = restoreSeconds + float64(max(size, 0))/restoreBytesPerSec
	if size < 0 {
		t.Seconds = remoteRestoreSecond
	}
	t.PeakBytes, t.Disk, t.Jobs, t.Source = 0, true, 1, "cached"
	return t
}

// planCached gives the tasks whose build c holds their restore's cost in
// dag, as Run's restore pass will. It returns a note for the plan when
// the cache holds any. Without a base root made, keys cannot be computed:
// no build on this cache has run, so nothing is cached.
func planCached(ctx context.Context, ws *workspace.Workspace, c *cache.Cache, js []*job, dag *scheduler.DAG) ([]string, error) {
	base, err := buildkey.MadeBase(ctx, ws)
	if err != nil {
		return nil, nil
	}
	emu, err := buildkey.MadeEmulatedBases(ctx, ws)
	if err != nil {
		return []string{"cache: " + err.Error()}, nil
	}
	keys, err := buildKeyPlan(ctx, ws, base, emu, c)
	if err != nil {
		return nil, err
	}
	n := 0
	for i, j := range js {
		if isPublishOnly(j) {
			continue
		}
		b, ok := keys.Build(j.node.Name, j.arch)
		if !ok {
			continue
		}
		size := int64(-1)
		if e, err := c.Local().Get(ctx, b.Key); err == nil {
			size = e.Size()
		} else if c.Where(ctx, b.Key) == "" {
			continue
		}
		dag.Tasks[i] = cachedTask(dag.Tasks[i], size)
		j.task = dag.Tasks[i]
		n++
	}
	relayer(js, dag)
	if n == 0 {
		return nil, nil
	}
	return []string{fmt.Sprintf("cache: %d of %d builds restored, not built", n, len(js))}, nil
}

// buildKeyPlan computes every build key of the project on base.
func buildKeyPlan(ctx context.Context, ws *workspace.Workspace, base buildkey.Base, emulated map[string]buildkey.Base, c *cache.Cache) (*buildkey.Plan, error) {
	plan, err := buildkey.New(ctx, ws, buildkey.Options{
		Builder: deb.Version, BuildArch: workspace.HostArch(), Base: base, Emulated: emulated, Hasher: c.Hasher(),
	})
	if err != nil {
		return nil, fmt.Errorf("build keys: %w", err)
	}
	return plan, nil
}
