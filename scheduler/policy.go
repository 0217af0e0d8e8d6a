package scheduler

import (
	"fmt"
	"math"
	"slices"

	"github.com/stx-build/stx-build/dag"
	"github.com/stx-build/stx-build/ramdisk"
)

// Priority orders the tasks that are ready to start.
type Priority int

const (
	// CriticalPath starts the task with the largest bottom level first:
	// the one heading the longest chain of remaining work. The default.
	CriticalPath Priority = iota
	// Dependents starts the task with the most (transitive) dependents
	// first, with no notion of time, as StarlingX's build-pkgs does. For
	// comparison.
	Dependents
	// FIFO starts tasks in the order they became ready. For comparison.
	FIFO
)

func (p Priority) String() string {
	switch p {
	case CriticalPath:
		return "critical-path"
	case Dependents:
		return "dependents"
	case FIFO:
		return "fifo"
	}
	return fmt.Sprintf("Priority(%d)", int(p))
}

// Admission decides where a build tree goes: tmpfs (reserving its slice
// of the budget) or disk.
type Admission int

const (
	// Lookahead is Predict, plus: a build whose tmpfs slice is big (an
	// eighth of the budget or more) and fits now is placed where a
	// simulation of the rest of the run, with each choice, predicts the
	// earlier end. A big tree on tmpfs can keep a more critical one that
	// becomes ready soon off tmpfs; this sees it coming. The default.
	Lookahead Admission = iota
	// Predict takes tmpfs when the slice fits now (and no task ahead waits
	// for that RAM); otherwise it waits for RAM or builds on disk,
	// whichever is predicted to finish the build first.
	Predict
	// Greedy builds on tmpfs when it fits now and on disk otherwise, which
	// is what ramdisk.Manager.Acquire does alone. For comparison.
	Greedy
)

func (a Admission) String() string {
	switch a {
	case Lookahead:
		return "lookahead"
	case Predict:
		return "predict"
	case Greedy:
		return "greedy"
	}
	return fmt.Sprintf("Admission(%d)", int(a))
}

// DefaultDiskFactor is how much longer a build is predicted to take with
// its tree on disk than on tmpfs, when history does not say.
const DefaultDiskFactor = 1.2

// Options are the limits and the policy.
type Options struct {
	// Slots is the number of builds run at once (-j); at least 1.
	Slots int
	// Cores are shared by the builds' make parallelism; default Slots.
	Cores int
	// Budget is the RAM for tmpfs build trees in bytes; 0: every build
	// on disk.
	Budget int64
	// Pad is the tmpfs size reserved for a predicted peak size; default
	// ramdisk.PaddedSize with ramdisk.MinTmpfsSize, as ramdisk.Manager
	// mounts.
	Pad func(int64) int64
	// DiskFactor is a build's predicted duration on disk divided by its
	// duration on tmpfs; default DefaultDiskFactor.
	DiskFactor float64
	// Priority and Admission choose the policy; the zero values are ours.
	Priority  Priority
	Admission Admission
	// KeepGoing builds everything that does not need a failed task;
	// otherwise nothing new starts after a failure.
	KeepGoing bool
	// Workers are more places to build besides this machine (whose slots,
	// cores and budget are Slots, Cores and Budget), e.g. BuildKit
	// daemons: ready tasks go to whichever place has a free slot, in the
	// same priority order, with each place's own tmpfs budget. With
	// Workers, Slots may be 0 (nothing builds locally).
	Workers []Pool
	// Archs are the architectures this machine builds, as Pool.Archs.
	Archs []string
}

// Pool is one place builds run: this machine or a worker.
type Pool struct {
	// Name is "" for this machine, else the worker's name (its address).
	Name string
	// Slots is how many builds it runs at once (at least 1).
	Slots int
	// Cores are shared by its builds' make parallelism; default Slots.
	Cores int
	// Budget is its RAM for tmpfs build trees; 0: every build on disk.
	Budget int64
	// Archs are the architectures it builds (Task.Arch), the one it
	// runs natively first. Empty: every one, native unknown.
	Archs []string
}

// Builds says whether the pool takes tasks for arch.
func (p Pool) Builds(arch string) bool {
	return arch == "" || len(p.Archs) == 0 || slices.Contains(p.Archs, arch)
}

// Platform is the pool's native platform ("linux/arm64"), or "" when it
// does not say.
func (p Pool) Platform() string {
	if len(p.Archs) == 0 {
		return ""
	}
	return "linux/" + p.Archs[0]
}

// pools returns this machine's pool followed by the workers'.
func (o Options) pools() []Pool {
	ps := []Pool{{Slots: o.Slots, Cores: o.Cores, Budget: o.Budget, Archs: o.Archs}}
	for _, w := range o.Workers {
		w.Slots = max(w.Slots, 1)
		if w.Cores <= 0 {
			w.Cores = w.Slots
		}
		w.Budget = max(w.Budget, 0)
		ps = append(ps, w)
	}
	return ps
}

// Check reports the first task of d that no pool builds (its
// architecture is in no pool's Archs, or it is LocalOnly and this
// machine has no slot), or nil.
func (o Options) Check(d *DAG) error {
	pools := o.withDefaults().pools()
	for _, t := range d.Tasks {
		if t.LocalOnly && pools[0].Slots == 0 {
			return fmt.Errorf("scheduler: nothing builds %s: it builds only on this machine, which has no slot", t.ID)
		}
		if t.LocalOnly && !pools[0].Builds(t.Arch) {
			return fmt.Errorf("scheduler: nothing builds %s: it builds only on this machine, which takes no %s builds", t.ID, t.Arch)
		}
		if !slices.ContainsFunc(pools, func(p Pool) bool { return p.Slots > 0 && p.Builds(t.Arch) }) {
			return fmt.Errorf("scheduler: nothing builds %s: no place takes %s builds", t.ID, t.Arch)
		}
	}
	return nil
}

// TotalSlots counts the slots of this machine and every worker.
func (o Options) TotalSlots() int {
	n := 0
	for _, p := range o.withDefaults().pools() {
		n += p.Slots
	}
	return n
}

func (o Options) withDefaults() Options {
	o.Slots = max(o.Slots, 0)
	if o.Slots == 0 && len(o.Workers) == 0 {
		o.Slots = 1
	}
	if o.Cores <= 0 {
		o.Cores = max(o.Slots, 1)
	}
	o.Budget = max(o.Budget, 0)
	if o.Pad == nil {
		o.Pad = func(n int64) int64 { return ramdisk.PaddedSize(n, ramdisk.MinTmpfsSize) }
	}
	if o.DiskFactor < 1 {
		o.DiskFactor = DefaultDiskFactor
	}
	return o
}

// Status is where a task is in a run.
type Status int

const (
	Pending    Status = iota // waiting for dependencies
	Ready                    // dependencies built, not started
	Running                  // started
	Built                    // finished successfully
	Failed                   // finished with an error
	Skipped                  // not started: a dependency failed
	NotStarted               // not started: the run stopped (failure without keep-going, or interrupt)
	Requeued                 // (events only) its worker went away; ready again, to run elsewhere
)

func (s Status) String() string {
	return [...]string{"pending", "ready", "running", "built", "failed", "skipped", "not started", "requeued"}[s]
}

// Assignment is the decision to start one task.
type Assignment struct {
	// Task is the task's index in the DAG; ID its ID.
	Task int
	ID   string
	// Slot numbers the build's place among the concurrent ones, 1..total
	// slots (this machine's first, then each worker's).
	Slot int
	// Pool is where it runs: 0 this machine, i Options.Workers[i-1];
	// Worker is that worker's name ("" for this machine).
	Pool   int
	Worker string
	// Disk says the build tree goes on disk; otherwise on tmpfs, reserving
	// Reserved bytes of the budget.
	Disk     bool
	Reserved int64
	// Jobs is the make parallelism to build with.
	Jobs int
	// Start and PredictedEnd are seconds from the start of the run.
	Start, PredictedEnd float64
}

// running is a started task.
type running struct {
	a     Assignment
	start float64
}

// engine is the scheduling policy's state. Simulate and Execute drive the
// same engine: admit at an instant, finish when a build ends.
type engine struct {
	d    *DAG
	o    Options
	dur  []float64 // predicted seconds on tmpfs
	disk []float64 // predicted seconds on disk
	need []int64   // tmpfs reservation; -1: never on tmpfs (build.tmpfs: disk)
	bl   []float64 // bottom levels over the best durations
	desc []int     // transitive dependents (Dependents priority)

	pending []int
	status  []Status
	cause   [][]int // skipped: the failed tasks that caused it
	seq     []int   // when it became ready (FIFO)
	nextSeq int
	ready   *dag.Heap
	slots   []*running // by slot-1; nil when free
	nRun    int
	pools   []Pool
	pool    []int   // slot-1 -> pool
	free    []int64 // by pool: budget not reserved
	cores   []int   // by pool: cores not given to running builds (may go below 0)
	dead    []bool  // by pool: gone, starts nothing more
	stopped bool
	// lookahead is off in the engines that project a run, so a rollout
	// does not roll out.
	lookahead bool
}

func newEngine(d *DAG, o Options) *engine {
	o = o.withDefaults()
	n := d.Len()
	e := &engine{
		d: d, o: o,
		dur: make([]float64, n), disk: make([]float64, n), need: make([]int64, n),
		pending: make([]int, n), status: make([]Status, n), cause: make([][]int, n),
		seq:       make([]int, n),
		pools:     o.pools(),
		lookahead: o.Admission == Lookahead,
	}
	var maxBudget int64
	for p, pl := range e.pools {
		for range pl.Slots {
			e.slots = append(e.slots, nil)
			e.pool = append(e.pool, p)
		}
		e.free = append(e.free, pl.Budget)
		e.cores = append(e.cores, pl.Cores)
		e.dead = append(e.dead, false)
		maxBudget = max(maxBudget, pl.Budget)
	}
	best := make([]float64, n)
	for i, t := range d.Tasks {
		e.dur[i] = t.Seconds
		if e.dur[i] <= 0 {
			e.dur[i] = 1
		}
		e.disk[i] = e.dur[i] * o.DiskFactor
		e.need[i] = -1
		if !t.Disk {
			if p := o.Pad(t.PeakBytes); p <= maxBudget {
				e.need[i] = p
			}
		}
		best[i] = e.dur[i]
		if e.need[i] < 0 {
			best[i] = e.disk[i]
		}
		e.pending[i] = len(d.deps[i])
	}
	e.bl = d.bottomLevels(best)
	if o.Priority == Dependents {
		e.desc = d.descendants()
	}
	e.ready = dag.NewHeap(e.before)
	for _, i := range d.topo {
		if e.pending[i] == 0 {
			e.makeReady(i)
		}
	}
	return e
}

// before is the ready queue's order.
func (e *engine) before(a, b int) bool {
	switch e.o.Priority {
	case Dependents:
		if e.desc[a] != e.desc[b] {
			return e.desc[a] > e.desc[b]
		}
	case FIFO:
		if e.seq[a] != e.seq[b] {
			return e.seq[a] < e.seq[b]
		}
	default:
		if e.bl[a] != e.bl[b] {
			return e.bl[a] > e.bl[b]
		}
	}
	return e.d.pos[a] < e.d.pos[b]
}

func (e *engine) makeReady(i int) {
	e.status[i] = Ready
	e.seq[i] = e.nextSeq
	e.nextSeq++
	e.ready.Push(i)
}

// predictedEnd is when a running build is expected to end, seen at now. A
// build past its estimate is expected to need another quarter of the time
// it has run so far: the longer it overruns, the less the estimate is
// worth.
func (r *running) predictedEnd(now float64) float64 {
	if r.a.PredictedEnd > now {
		return r.a.PredictedEnd
	}
	return now + max(0.25*(now-r.start), 1)
}

// fitTime is the earliest time at which n bytes of the budget are
// predicted to be free: now, or when enough running tmpfs builds ended.
func (e *engine) fitTime(p int, n int64, now float64) float64 {
	if n <= e.free[p] {
		return now
	}
	type release struct {
		at float64
		n  int64
	}
	var rel []release
	for s, r := range e.slots {
		if r != nil && r.a.Reserved > 0 && e.pool[s] == p {
			rel = append(rel, release{r.predictedEnd(now), r.a.Reserved})
		}
	}
	slices.SortFunc(rel, func(a, b release) int {
		switch {
		case a.at < b.at:
			return -1
		case a.at > b.at:
			return 1
		}
		return 0
	})
	free := e.free[p]
	for _, r := range rel {
		free += r.n
		if n <= free {
			return r.at
		}
	}
	return math.Inf(1) // more than the whole budget: never
}

// nextRelease is the earliest predicted end of a running tmpfs build: when
// a task waiting for RAM should be reconsidered even if nothing finished.
func (e *engine) nextRelease(p int, now float64) float64 {
	t := math.Inf(1)
	for s, r := range e.slots {
		if r != nil && r.a.Reserved > 0 && e.pool[s] == p {
			t = min(t, r.predictedEnd(now))
		}
	}
	return t
}

// freeSlots counts the free slots of pool p (none when it is gone).
func (e *engine) freeSlots(p int) int {
	if e.dead[p] {
		return 0
	}
	n := 0
	for s, r := range e.slots {
		if r == nil && e.pool[s] == p {
			n++
		}
	}
	return n
}

// places returns the pools that could start t now: alive, with a free
// slot, building t's architecture, and this machine only for a task that
// builds only here.
func (e *engine) places(t int) []int {
	var out []int
	for p, pl := range e.pools {
		if !pl.Builds(e.d.Tasks[t].Arch) || p > 0 && e.d.Tasks[t].LocalOnly {
			continue
		}
		if e.freeSlots(p) > 0 {
			out = append(out, p)
		}
	}
	return out
}

// tmpfsIn says whether t's tree may ever go on tmpfs in pool p.
func (e *engine) tmpfsIn(t, p int) bool {
	return e.need[t] >= 0 && e.need[t] <= e.pools[p].Budget
}

// admit decides which ready tasks start at now, in priority order, and
// returns them with the time at which to decide again if no build
// finishes before (+Inf: only when one finishes). Each task goes to the
// first place with a free slot where its tree fits on tmpfs now; when it
// fits nowhere now, it waits for RAM where that is predicted to end the
// build sooner than disk, or starts on disk.
func (e *engine) admit(now float64) ([]Assignment, float64) {
	recheck := math.Inf(1)
	if e.stopped {
		return nil, recheck
	}
	var out []Assignment
	var deferred, blocked []int
	// Per pool: tasks waiting for its RAM in this round, ahead of the rest.
	waitNeed := make([]int64, len(e.pools))
	waitFrom := make([]float64, len(e.pools))
	for p := range waitFrom {
		waitFrom[p] = math.Inf(1)
	}
	for e.anyFree() && e.ready.Len() > 0 {
		t := e.ready.Pop()
		places := e.places(t)
		if len(places) == 0 {
			blocked = append(blocked, t)
			continue
		}
		chosen, disk := places[0], true
		if e.o.Admission == Greedy {
			for _, p := range places {
				if e.tmpfsIn(t, p) && e.need[t] <= e.free[p] {
					chosen, disk = p, false
					break
				}
			}
			out = append(out, e.start(t, now, disk, chosen))
			continue
		}
		// Take RAM now only if that does not delay a task ahead that
		// waits for it.
		fits := false
		for _, p := range places {
			if e.tmpfsIn(t, p) && e.need[t] <= e.free[p] && now+e.dur[t] <= waitFrom[p] {
				chosen, disk, fits = p, false, true
				if e.lookahead && e.need[t] >= e.pools[p].Budget/8 {
					// The projection decides between tmpfs now and disk now.
					disk = e.diskIsSooner(t, now, deferred, p)
				}
				break
			}
		}
		if !fits {
			// Where would waiting for RAM end soonest?
			bestP, bestT := -1, math.Inf(1)
			for _, p := range places {
				if !e.tmpfsIn(t, p) {
					continue
				}
				if tw := e.fitTime(p, e.need[t]+waitNeed[p], now); tw < bestT {
					bestP, bestT = p, tw
				}
			}
			if bestP >= 0 && bestT+e.dur[t] < now+e.disk[t] {
				// Waiting for RAM finishes sooner than disk.
				deferred = append(deferred, t)
				waitNeed[bestP] += e.need[t]
				waitFrom[bestP] = min(waitFrom[bestP], bestT)
				recheck = min(recheck, e.nextRelease(bestP, now))
				continue
			}
		}
		out = append(out, e.start(t, now, disk, chosen))
	}
	if len(out) == 0 && e.nRun == 0 && len(deferred) > 0 {
		// Cannot happen (with nothing running the whole budget is free), but
		// never stall: start the first one on disk.
		if places := e.places(deferred[0]); len(places) > 0 {
			out = append(out, e.start(deferred[0], now, true, places[0]))
			deferred = deferred[1:]
		}
	}
	for _, t := range deferred {
		e.ready.Push(t)
	}
	for _, t := range blocked {
		e.ready.Push(t)
	}
	return out, recheck
}

// anyFree says whether some pool has a free slot.
func (e *engine) anyFree() bool {
	for s, r := range e.slots {
		if r == nil && !e.dead[e.pool[s]] {
			return true
		}
	}
	return false
}

// stranded returns the ready tasks no place can ever run (every pool that
// could is gone) when nothing is running, so that they can be failed
// instead of waited for.
func (e *engine) stranded() []int {
	if e.nRun > 0 || e.stopped {
		return nil
	}
	var out []int
	for _, t := range e.ready.Nodes() {
		if len(e.places(t)) == 0 {
			out = append(out, t)
		}
	}
	slices.SortFunc(out, func(a, b int) int { return e.d.pos[a] - e.d.pos[b] })
	return out
}

// diskIsSooner projects the rest of the run twice, with t started now on
// tmpfs and on disk, and says whether disk ends it clearly sooner. Tasks deferred
// in this round are ready again in the projections.
func (e *engine) diskIsSooner(t int, now float64, deferred []int, p int) bool {
	end := func(disk bool) float64 {
		c := e.clone()
		c.lookahead = false
		for _, d := range deferred {
			c.ready.Push(d)
		}
		c.start(t, now, disk, p)
		return c.project(now)
	}
	// Disk must win clearly (by a second, or half a percent of what is
	// left): the projections are estimates, and disk costs I/O.
	onDisk, onTmpfs := end(true), end(false)
	return onDisk < onTmpfs-max(1, (onTmpfs-now)/200)
}

// start starts task t at now in pool p.
func (e *engine) start(t int, now float64, disk bool, p int) Assignment {
	slot := -1
	for s, r := range e.slots {
		if r == nil && e.pool[s] == p {
			slot = s
			break
		}
	}
	a := Assignment{Task: t, ID: e.d.Tasks[t].ID, Slot: slot + 1, Disk: disk, Start: now, Pool: p, Worker: e.pools[p].Name}
	if disk {
		a.PredictedEnd = now + e.disk[t]
	} else {
		a.Reserved = e.need[t]
		a.PredictedEnd = now + e.dur[t]
		e.free[p] -= a.Reserved
	}
	a.Jobs = e.jobsFor(t, p)
	e.cores[p] -= a.Jobs
	e.slots[slot] = &running{a: a, start: now}
	e.nRun++
	e.status[t] = Running
	return a
}

// jobsFor chooses the make parallelism of a task about to start: its fixed
// one, or the free cores shared among the builds that can start now, but
// never less than an even share of all cores among all slots.
func (e *engine) jobsFor(t, p int) int {
	if j := e.d.Tasks[t].Jobs; j > 0 {
		return j
	}
	pl := e.pools[p]
	startable := min(e.freeSlots(p), e.ready.Len()+1)
	share := max(pl.Cores/max(pl.Slots, 1), 1)
	if startable > 0 && e.cores[p]/startable > share {
		share = e.cores[p] / startable
	}
	return max(min(share, pl.Cores), 1)
}

// finish ends a running task. A success readies the dependents whose
// dependencies are all built; a failure skips every task that needs it
// (returned, in topological order) and, without KeepGoing, stops the run.
func (e *engine) finish(t int, ok bool) []int {
	e.release(t)
	if ok {
		e.status[t] = Built
		for _, w := range e.d.rdeps[t] {
			e.pending[w]--
			if e.pending[w] == 0 && e.status[w] == Pending {
				e.makeReady(w)
			}
		}
		return nil
	}
	e.status[t] = Failed
	if !e.o.KeepGoing {
		e.stopped = true
	}
	return e.skipDependents(t)
}

// finishStranded fails a ready task that no place can run, skipping what
// needs it (returned) and, without KeepGoing, stopping the run.
func (e *engine) finishStranded(t int) []int {
	e.status[t] = Failed
	if !e.o.KeepGoing {
		e.stopped = true
	}
	return e.skipDependents(t)
}

// abort ends a running task that was interrupted: it failed, but what
// needs it is not started rather than skipped, and nothing more starts.
func (e *engine) abort(t int) {
	e.release(t)
	e.status[t] = Failed
	e.stopped = true
}

// release gives back a running task's slot, RAM and cores.
func (e *engine) release(t int) {
	for s, r := range e.slots {
		if r != nil && r.a.Task == t {
			e.free[e.pool[s]] += r.a.Reserved
			e.cores[e.pool[s]] += r.a.Jobs
			e.slots[s] = nil
			e.nRun--
			return
		}
	}
}

// requeue puts a running task whose pool went away back in the ready
// queue, and starts nothing more in that pool.
func (e *engine) requeue(t int) {
	for s, r := range e.slots {
		if r != nil && r.a.Task == t {
			e.dead[e.pool[s]] = true
			break
		}
	}
	e.release(t)
	e.makeReady(t)
}

// skipDependents marks every task that needs t, directly or not, as
// skipped because of t.
func (e *engine) skipDependents(t int) []int {
	var newly []int
	seen := map[int]bool{t: true}
	queue := []int{t}
	for len(queue) > 0 {
		v := queue[0]
		queue = queue[1:]
		for _, w := range e.d.rdeps[v] {
			if seen[w] {
				continue
			}
			seen[w] = true
			queue = append(queue, w)
			switch e.status[w] {
			case Pending:
				e.status[w] = Skipped
				newly = append(newly, w)
				fallthrough
			case Skipped:
				e.cause[w] = append(e.cause[w], t)
			}
		}
	}
	slices.SortFunc(newly, func(a, b int) int { return e.d.pos[a] - e.d.pos[b] })
	return newly
}

// stop starts nothing more; what has not started is NotStarted.
func (e *engine) stop() []int {
	e.stopped = true
	var out []int
	for _, i := range e.d.topo {
		if e.status[i] == Pending || e.status[i] == Ready {
			e.status[i] = NotStarted
			out = append(out, i)
		}
	}
	e.ready.Reset()
	return out
}

// clone copies the mutable state, for projecting the rest of a run.
func (e *engine) clone() *engine {
	c := *e
	c.pending = slices.Clone(e.pending)
	c.status = slices.Clone(e.status)
	c.cause = slices.Clone(e.cause)
	c.seq = slices.Clone(e.seq)
	c.ready = e.ready.Clone(c.before)
	c.free = slices.Clone(e.free)
	c.cores = slices.Clone(e.cores)
	c.dead = slices.Clone(e.dead)
	c.slots = make([]*running, len(e.slots))
	for i, r := range e.slots {
		if r != nil {
			rc := *r
			c.slots[i] = &rc
		}
	}
	return &c
}
