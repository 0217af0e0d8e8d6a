// Package schedtest helps test code that schedules builds: random task
// DAGs and a checker for the invariants every schedule must keep.
package schedtest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"sync"
	"time"

	"github.com/stx-build/stx-build/scheduler"
)

// RandomTasks returns n tasks forming a random DAG: each depends on up to
// maxDeps tasks made before it (in a hidden random order, so IDs say
// nothing about the order). Durations are heavy-tailed (lognormal around
// 60 s), peak sizes 0 (unknown) or 100 MiB to 8 GiB, and a few tasks are
// disk-only or have a fixed make parallelism.
func RandomTasks(seed uint64, n, maxDeps int) []scheduler.Task {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	perm := rng.Perm(n)
	tasks := make([]scheduler.Task, n)
	for k := range n {
		t := &tasks[k]
		t.ID = fmt.Sprintf("t%03d", perm[k])
		t.Seconds = math.Round(60*math.Exp(rng.NormFloat64())*10) / 10
		if rng.IntN(5) > 0 {
			t.PeakBytes = (100 + rng.Int64N(8<<10)) << 20
		}
		t.Disk = rng.IntN(15) == 0
		if rng.IntN(10) == 0 {
			t.Jobs = 1 + rng.IntN(3)
		}
		if k > 0 {
			for range rng.IntN(maxDeps + 1) {
				t.Deps = append(t.Deps, tasks[rng.IntN(k)].ID)
			}
		}
	}
	rng.Shuffle(n, func(i, j int) { tasks[i], tasks[j] = tasks[j], tasks[i] })
	return tasks
}

// Span is one task's time in a schedule.
type Span struct {
	ID         string
	Start, End float64
	Reserved   int64
	Slot       int
}

// Check verifies a schedule: every task at most once, none before all of
// its dependencies ended, never more than slots at once, never more tmpfs
// than budget reserved at once, slot numbers in 1..slots and not shared.
// It returns the problems found.
func Check(tasks []scheduler.Task, spans []Span, slots int, budget int64) []string {
	var errs []string
	byID := map[string]Span{}
	for _, s := range spans {
		if _, dup := byID[s.ID]; dup {
			errs = append(errs, fmt.Sprintf("%s ran twice", s.ID))
		}
		byID[s.ID] = s
		if s.Slot < 1 || s.Slot > slots {
			errs = append(errs, fmt.Sprintf("%s on slot %d of %d", s.ID, s.Slot, slots))
		}
		if s.End < s.Start {
			errs = append(errs, fmt.Sprintf("%s ends before it starts", s.ID))
		}
	}
	for _, t := range tasks {
		s, ok := byID[t.ID]
		if !ok {
			continue
		}
		for _, dep := range t.Deps {
			ds, ok := byID[dep]
			if !ok {
				errs = append(errs, fmt.Sprintf("%s ran, its dependency %s did not", t.ID, dep))
			} else if ds.End > s.Start {
				errs = append(errs, fmt.Sprintf("%s started at %g before its dependency %s ended at %g", t.ID, s.Start, dep, ds.End))
			}
		}
		if t.Disk && s.Reserved > 0 {
			errs = append(errs, fmt.Sprintf("%s is disk-only but reserved tmpfs", t.ID))
		}
	}
	// Sweep: ends before starts at the same instant.
	type ev struct {
		at    float64
		start bool
		s     Span
	}
	var evs []ev
	for _, s := range spans {
		evs = append(evs, ev{s.Start, true, s}, ev{s.End, false, s})
	}
	sort.SliceStable(evs, func(i, j int) bool {
		if evs[i].at != evs[j].at {
			return evs[i].at < evs[j].at
		}
		return !evs[i].start && evs[j].start
	})
	n, used := 0, int64(0)
	bySlot := map[int]string{}
	for _, e := range evs {
		if e.start {
			n++
			used += e.s.Reserved
			if n > slots {
				errs = append(errs, fmt.Sprintf("%d builds at once at %g (slots %d)", n, e.at, slots))
			}
			if used > budget {
				errs = append(errs, fmt.Sprintf("%d tmpfs bytes reserved at %g (budget %d)", used, e.at, budget))
			}
			if other, busy := bySlot[e.s.Slot]; busy {
				errs = append(errs, fmt.Sprintf("%s and %s share slot %d at %g", other, e.s.ID, e.s.Slot, e.at))
			}
			bySlot[e.s.Slot] = e.s.ID
		} else {
			n--
			used -= e.s.Reserved
			delete(bySlot, e.s.Slot)
		}
	}
	return errs
}

// PlanSpans turns a plan into spans for Check.
func PlanSpans(p *scheduler.Plan) []Span {
	out := make([]Span, len(p.Items))
	for i, it := range p.Items {
		out[i] = Span{ID: it.ID, Start: it.Start, End: it.End, Reserved: it.Reserved, Slot: it.Slot}
	}
	return out
}

// Recorder is a fake build: Run sleeps for a task's scaled estimate (or
// fails it) and records when it ran, checking at each start that the
// dependencies finished and the limits hold.
type Recorder struct {
	// Scale turns estimated seconds into real ones (e.g. 1e-4).
	Scale float64
	// Fail says which tasks fail.
	Fail map[string]bool

	mu       sync.Mutex
	deps     map[string][]string
	finished map[string]bool
	running  int
	reserved int64
	slots    int
	budget   int64
	epoch    time.Time
	// Spans are the runs, in seconds since NewRecorder.
	Spans []Span
	// Errs are the invariants broken.
	Errs []string
}

// NewRecorder prepares a recorder for tasks under the given limits.
func NewRecorder(tasks []scheduler.Task, slots int, budget int64, scale float64) *Recorder {
	r := &Recorder{Scale: scale, deps: map[string][]string{}, finished: map[string]bool{}, slots: slots, budget: budget, Fail: map[string]bool{}, epoch: time.Now()}
	for _, t := range tasks {
		r.deps[t.ID] = t.Deps
	}
	return r
}

// Run is a scheduler.RunFunc.
func (r *Recorder) Run(ctx context.Context, a scheduler.Assignment) error {
	r.mu.Lock()
	for _, d := range r.deps[a.ID] {
		if !r.finished[d] {
			r.Errs = append(r.Errs, fmt.Sprintf("%s started before %s finished", a.ID, d))
		}
	}
	r.running++
	r.reserved += a.Reserved
	if r.running > r.slots {
		r.Errs = append(r.Errs, fmt.Sprintf("%d builds at once (slots %d)", r.running, r.slots))
	}
	if r.reserved > r.budget {
		r.Errs = append(r.Errs, fmt.Sprintf("%d tmpfs bytes reserved (budget %d)", r.reserved, r.budget))
	}
	r.mu.Unlock()
	start := time.Since(r.epoch).Seconds()
	var err error
	select {
	case <-time.After(time.Duration((a.PredictedEnd - a.Start) * r.Scale * float64(time.Second))):
		if r.Fail[a.ID] {
			err = errors.New("build failed")
		}
	case <-ctx.Done():
		err = ctx.Err()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.running--
	r.reserved -= a.Reserved
	if err == nil {
		r.finished[a.ID] = true
	}
	r.Spans = append(r.Spans, Span{ID: a.ID, Start: start, End: time.Since(r.epoch).Seconds(), Reserved: a.Reserved, Slot: a.Slot})
	return err
}
