package scheduler_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stx-build/stx-build/scheduler"
	"github.com/stx-build/stx-build/scheduler/schedtest"
)

const gib = int64(1) << 30

func mustDAG(t *testing.T, tasks []scheduler.Task) *scheduler.DAG {
	t.Helper()
	d, err := scheduler.NewDAG(tasks)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestNewDAGErrors(t *testing.T) {
	tests := []struct {
		tasks []scheduler.Task
		want  string
	}{
		{[]scheduler.Task{{ID: "a"}, {ID: "a"}}, "task a given twice"},
		{[]scheduler.Task{{ID: "a", Deps: []string{"b"}}}, "task a needs unknown task b"},
		{[]scheduler.Task{{ID: "a", Deps: []string{"a"}}}, "task a needs itself"},
		{[]scheduler.Task{{ID: "a", Deps: []string{"b"}}, {ID: "b", Deps: []string{"a"}}, {ID: "c"}}, "dependency cycle among a, b"},
		{[]scheduler.Task{{}}, "task 0 has no ID"},
	}
	for _, tt := range tests {
		_, err := scheduler.NewDAG(tt.tasks)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("NewDAG(%v) = %v, want %q", tt.tasks, err, tt.want)
		}
	}
}

// Every policy keeps the invariants on random DAGs, and never beats the
// lower bound.
func TestSimulateInvariants(t *testing.T) {
	seeds := uint64(40)
	if testing.Short() {
		seeds = 10
	}
	for seed := range seeds {
		tasks := schedtest.RandomTasks(seed, 20+int(seed)*5, 4)
		d := mustDAG(t, tasks)
		for _, slots := range []int{1, 2, 3, 8, 32} {
			for _, budget := range []int64{0, 3 * gib, 20 * gib} {
				for _, pr := range []scheduler.Priority{scheduler.CriticalPath, scheduler.Dependents, scheduler.FIFO} {
					for _, ad := range []scheduler.Admission{scheduler.Lookahead, scheduler.Predict, scheduler.Greedy} {
						opts := scheduler.Options{Slots: slots, Cores: 4, Budget: budget, Priority: pr, Admission: ad}
						p := scheduler.Simulate(d, opts)
						name := fmt.Sprintf("seed %d, %d slots, budget %d, %v/%v", seed, slots, budget, pr, ad)
						if len(p.Items) != len(tasks) {
							t.Fatalf("%s: %d of %d tasks scheduled", name, len(p.Items), len(tasks))
						}
						if errs := schedtest.Check(tasks, schedtest.PlanSpans(p), slots, budget); len(errs) > 0 {
							t.Fatalf("%s:\n%s", name, strings.Join(errs, "\n"))
						}
						if p.Makespan < p.LowerBound-1e-6 {
							t.Fatalf("%s: makespan %g below the lower bound %g", name, p.Makespan, p.LowerBound)
						}
					}
				}
			}
		}
	}
}

// With estimates that are wrong (the policy decides from estimates, builds
// take other times) the invariants still hold.
func TestSimulateActualInvariants(t *testing.T) {
	for seed := range uint64(20) {
		tasks := schedtest.RandomTasks(seed, 60, 3)
		d := mustDAG(t, tasks)
		rng := rand.New(rand.NewPCG(seed, 7))
		factor := make([]float64, len(tasks))
		for i := range factor {
			factor[i] = 0.2 + 3*rng.Float64()
		}
		actual := func(i int, disk bool) float64 {
			s := max(tasks[i].Seconds, 1) * factor[i]
			if disk {
				s *= 1.2
			}
			return s
		}
		for _, slots := range []int{2, 8} {
			opts := scheduler.Options{Slots: slots, Budget: 6 * gib}
			p := scheduler.SimulateActual(d, opts, actual)
			if len(p.Items) != len(tasks) {
				t.Fatalf("seed %d: %d of %d tasks", seed, len(p.Items), len(tasks))
			}
			if errs := schedtest.Check(tasks, schedtest.PlanSpans(p), slots, 6*gib); len(errs) > 0 {
				t.Fatalf("seed %d, %d slots:\n%s", seed, slots, strings.Join(errs, "\n"))
			}
		}
	}
}

func TestCriticalPathFirst(t *testing.T) {
	// a -> b -> c is long; x, y, z are short and independent. With one slot
	// our policy starts a; FIFO takes the names' topological order.
	tasks := []scheduler.Task{
		{ID: "a", Seconds: 10}, {ID: "b", Seconds: 10, Deps: []string{"a"}}, {ID: "c", Seconds: 10, Deps: []string{"b"}},
		{ID: "x", Seconds: 5}, {ID: "y", Seconds: 5}, {ID: "z", Seconds: 5},
	}
	d := mustDAG(t, tasks)
	p := scheduler.Simulate(d, scheduler.Options{Slots: 2, Budget: 10 * gib})
	if p.Items[0].ID != "a" {
		t.Errorf("first task %s, want a", p.Items[0].ID)
	}
	// a, b, c back to back on one slot; x, y, z on the other: 30 s.
	if p.Makespan != 30 || p.LowerBound != 30 {
		t.Errorf("makespan %g, lower bound %g; want 30, 30", p.Makespan, p.LowerBound)
	}
	if got := strings.Join(p.CriticalPath, " "); got != "a b c" {
		t.Errorf("critical path %q", got)
	}
}

// A task whose tmpfs slice does not fit waits for RAM when that is sooner
// than building on disk, and goes to disk when waiting is longer.
func TestWaitOrDisk(t *testing.T) {
	pad := func(n int64) int64 { return n }
	for _, tt := range []struct {
		bigSeconds float64
		wantWhere  string
		wantStart  float64
	}{
		{bigSeconds: 10, wantWhere: "tmpfs", wantStart: 10}, // 10+100 < 120 on disk
		{bigSeconds: 50, wantWhere: "disk", wantStart: 0},   // 50+100 > 120 on disk
	} {
		tasks := []scheduler.Task{
			{ID: "big", Seconds: tt.bigSeconds, PeakBytes: 6 * gib},
			{ID: "next", Seconds: 100, PeakBytes: 6 * gib, Deps: nil},
		}
		// "big" has the larger bottom level only through its own duration;
		// make it first by a dependent.
		tasks = append(tasks, scheduler.Task{ID: "tail", Seconds: 200, Deps: []string{"big"}})
		d := mustDAG(t, tasks)
		p := scheduler.Simulate(d, scheduler.Options{Slots: 2, Budget: 10 * gib, Pad: pad, DiskFactor: 1.2})
		var next scheduler.Item
		for _, it := range p.Items {
			if it.ID == "next" {
				next = it
			}
		}
		if next.Where != tt.wantWhere || next.Start != tt.wantStart {
			t.Errorf("big takes %gs: next on %s at %g, want %s at %g", tt.bigSeconds, next.Where, next.Start, tt.wantWhere, tt.wantStart)
		}
	}
}

// Greedy admission puts the second build on disk at once.
func TestGreedyGoesToDisk(t *testing.T) {
	tasks := []scheduler.Task{{ID: "a", Seconds: 10, PeakBytes: 6 * gib, Deps: nil}, {ID: "b", Seconds: 100, PeakBytes: 6 * gib}}
	d := mustDAG(t, tasks)
	p := scheduler.Simulate(d, scheduler.Options{Slots: 2, Budget: 10 * gib, Pad: func(n int64) int64 { return n }, Admission: scheduler.Greedy})
	where := map[string]string{}
	for _, it := range p.Items {
		where[it.ID] = it.Where
	}
	if where["a"] == where["b"] {
		t.Errorf("greedy: %v, want one on tmpfs and one on disk", where)
	}
}

// A tree larger than the whole budget is built on disk without waiting;
// the lower bound counts it at disk speed.
func TestTooBigForBudget(t *testing.T) {
	d := mustDAG(t, []scheduler.Task{{ID: "huge", Seconds: 100, PeakBytes: 40 * gib}})
	p := scheduler.Simulate(d, scheduler.Options{Slots: 1, Budget: 16 * gib, DiskFactor: 1.5})
	if p.Items[0].Where != "disk" || p.Makespan != 150 || p.LowerBound != 150 {
		t.Errorf("got %+v, makespan %g, bound %g", p.Items[0], p.Makespan, p.LowerBound)
	}
}

// Few ready builds get more cores; a fixed Jobs is kept.
func TestJobs(t *testing.T) {
	tasks := []scheduler.Task{
		{ID: "a", Seconds: 10},
		{ID: "b", Seconds: 10, Deps: []string{"a"}}, {ID: "c", Seconds: 10, Deps: []string{"a"}},
		{ID: "d", Seconds: 10, Deps: []string{"a"}}, {ID: "e", Seconds: 10, Deps: []string{"a"}, Jobs: 1},
	}
	p := scheduler.Simulate(mustDAG(t, tasks), scheduler.Options{Slots: 4, Cores: 8})
	jobs := map[string]int{}
	for _, it := range p.Items {
		jobs[it.ID] = it.Jobs
	}
	want := map[string]int{"a": 8, "b": 2, "c": 2, "d": 2, "e": 1}
	for id, j := range want {
		if jobs[id] != j {
			t.Errorf("%s: jobs %d, want %d (all: %v)", id, jobs[id], j, jobs)
		}
	}
}

// Execute keeps the invariants with real goroutines and a fake builder.
func TestExecuteInvariants(t *testing.T) {
	for seed := range uint64(6) {
		tasks := schedtest.RandomTasks(seed, 60, 4)
		d := mustDAG(t, tasks)
		for _, slots := range []int{1, 3, 8} {
			budget := 12 * gib
			rec := schedtest.NewRecorder(tasks, slots, budget, 1e-5)
			var events []scheduler.Event
			out, err := scheduler.Execute(context.Background(), d, scheduler.Options{Slots: slots, Budget: budget}, rec.Run, func(e scheduler.Event) {
				events = append(events, e)
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(rec.Errs) > 0 {
				t.Fatalf("seed %d, %d slots:\n%s", seed, slots, strings.Join(rec.Errs, "\n"))
			}
			if !out.OK() || len(rec.Spans) != len(tasks) {
				t.Fatalf("seed %d: %d built, %d runs, of %d", seed, out.Count(scheduler.Built), len(rec.Spans), len(tasks))
			}
			if n := len(events); n != 2*len(tasks) {
				t.Errorf("%d events, want %d", n, 2*len(tasks))
			}
			if last := events[len(events)-1]; last.Done != len(tasks) || last.Total != len(tasks) {
				t.Errorf("last event: done %d of %d", last.Done, last.Total)
			}
		}
	}
}

// descendants returns every task needing one of ids, transitively.
func descendants(tasks []scheduler.Task, ids map[string]bool) map[string]bool {
	out := map[string]bool{}
	for changed := true; changed; {
		changed = false
		for _, t := range tasks {
			if out[t.ID] {
				continue
			}
			for _, d := range t.Deps {
				if ids[d] || out[d] {
					out[t.ID] = true
					changed = true
					break
				}
			}
		}
	}
	return out
}

// With KeepGoing, exactly the dependents of failed tasks are skipped, and
// everything else is built.
func TestKeepGoingSkipsExactlyDependents(t *testing.T) {
	for seed := range uint64(25) {
		tasks := schedtest.RandomTasks(seed, 50, 3)
		d := mustDAG(t, tasks)
		rng := rand.New(rand.NewPCG(seed, 99))
		rec := schedtest.NewRecorder(tasks, 4, 20*gib, 1e-5)
		for _, tk := range tasks {
			if rng.IntN(8) == 0 {
				rec.Fail[tk.ID] = true
			}
		}
		out, err := scheduler.Execute(context.Background(), d, scheduler.Options{Slots: 4, Budget: 20 * gib, KeepGoing: true}, rec.Run, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(rec.Errs) > 0 {
			t.Fatal(strings.Join(rec.Errs, "\n"))
		}
		// Failures are the failing tasks that ran: not those skipped first.
		failed := map[string]bool{}
		for _, r := range out.Results {
			if r.Status == scheduler.Failed {
				failed[r.ID] = true
				if !rec.Fail[r.ID] {
					t.Errorf("seed %d: %s failed without being told to", seed, r.ID)
				}
			}
		}
		skip := descendants(tasks, failed)
		for _, r := range out.Results {
			switch {
			case failed[r.ID]:
			case skip[r.ID]:
				if r.Status != scheduler.Skipped {
					t.Errorf("seed %d: %s is %v, want skipped", seed, r.ID, r.Status)
				}
				if len(r.Cause) == 0 {
					t.Errorf("seed %d: %s skipped without a cause", seed, r.ID)
				}
				for _, c := range r.Cause {
					if !failed[c] {
						t.Errorf("seed %d: %s skipped because of %s, which did not fail", seed, r.ID, c)
					}
				}
			case rec.Fail[r.ID]:
				t.Errorf("seed %d: %s should have failed, is %v", seed, r.ID, r.Status)
			default:
				if r.Status != scheduler.Built {
					t.Errorf("seed %d: %s is %v, want built", seed, r.ID, r.Status)
				}
			}
		}
	}
}

// Without KeepGoing nothing starts after the first failure; running builds
// finish; the rest is not started or skipped.
func TestStopAfterFailure(t *testing.T) {
	tasks := []scheduler.Task{
		{ID: "bad", Seconds: 1}, {ID: "slow", Seconds: 50},
		{ID: "after-bad", Seconds: 1, Deps: []string{"bad"}}, {ID: "after-slow", Seconds: 1, Deps: []string{"slow"}},
		{ID: "other", Seconds: 1},
	}
	d := mustDAG(t, tasks)
	rec := schedtest.NewRecorder(tasks, 2, 0, 1e-3)
	rec.Fail["bad"] = true
	out, err := scheduler.Execute(context.Background(), d, scheduler.Options{Slots: 2}, rec.Run, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]scheduler.Status{}
	for _, r := range out.Results {
		got[r.ID] = r.Status
	}
	want := map[string]scheduler.Status{
		"slow": scheduler.Built, "bad": scheduler.Failed, "after-bad": scheduler.Skipped,
		"after-slow": scheduler.NotStarted, "other": scheduler.NotStarted,
	}
	for id, s := range want {
		if got[id] != s {
			t.Errorf("%s: %v, want %v", id, got[id], s)
		}
	}
}

// Cancelling the context stops running builds and starts nothing more.
func TestExecuteCancel(t *testing.T) {
	tasks := schedtest.RandomTasks(3, 40, 2)
	d := mustDAG(t, tasks)
	ctx, cancel := context.WithCancel(context.Background())
	var mu sync.Mutex
	started := 0
	run := func(ctx context.Context, a scheduler.Assignment) error {
		mu.Lock()
		started++
		if started == 3 {
			cancel()
		}
		mu.Unlock()
		<-ctx.Done()
		return ctx.Err()
	}
	done := make(chan struct{})
	var out *scheduler.Outcome
	var err error
	go func() {
		out, err = scheduler.Execute(ctx, d, scheduler.Options{Slots: 3}, run, nil)
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Execute did not return after cancel")
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
	if n := out.Count(scheduler.Failed); n != 3 {
		t.Errorf("%d failed (interrupted), want 3", n)
	}
	if n := out.Count(scheduler.NotStarted); n != len(tasks)-3 {
		t.Errorf("%d not started, want %d", n, len(tasks)-3)
	}
}

// A panicking build fails its task, not the run.
func TestExecutePanic(t *testing.T) {
	d := mustDAG(t, []scheduler.Task{{ID: "a"}, {ID: "b"}})
	out, err := scheduler.Execute(context.Background(), d, scheduler.Options{Slots: 2, KeepGoing: true}, func(ctx context.Context, a scheduler.Assignment) error {
		if a.ID == "a" {
			panic("boom")
		}
		return nil
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r := out.Results[0]; r.Status != scheduler.Failed || !strings.Contains(r.Err.Error(), "boom") {
		t.Errorf("a: %v %v", r.Status, r.Err)
	}
	if out.Results[1].Status != scheduler.Built {
		t.Errorf("b: %v", out.Results[1].Status)
	}
}

// The plan of the first event's ETA is the simulated makespan.
func TestETA(t *testing.T) {
	tasks := []scheduler.Task{{ID: "a", Seconds: 100}, {ID: "b", Seconds: 50, Deps: []string{"a"}}}
	d := mustDAG(t, tasks)
	var etas []float64
	out, err := scheduler.Execute(context.Background(), d, scheduler.Options{Slots: 1, Budget: 10 * gib}, func(context.Context, scheduler.Assignment) error { return nil }, func(e scheduler.Event) {
		etas = append(etas, e.ETA)
	})
	if err != nil {
		t.Fatal(err)
	}
	if out.Predicted != 150 {
		t.Errorf("predicted %g, want 150", out.Predicted)
	}
	// a starts (ETA 150), a ends at ~0 (ETA ~50), b starts, b ends (ETA ~0).
	if len(etas) != 4 || etas[0] < 149 || etas[1] > 51 || etas[1] < 49 || etas[3] > 1 {
		t.Errorf("ETAs %v", etas)
	}
	if !slices.IsSorted([]float64{-etas[0], -etas[1]}) {
		t.Errorf("ETA grew: %v", etas)
	}
}

func TestParseCosts(t *testing.T) {
	c, err := scheduler.ParseCosts("c.json", []byte(`{"hello": {"seconds": 40, "peak_bytes": 1000}, "hello:arm64": {"seconds": 60}}`))
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := c.For("hello", "amd64"); v.Seconds != 40 || v.PeakBytes != 1000 {
		t.Errorf("hello amd64: %+v", v)
	}
	if v, _ := c.For("hello", "arm64"); v.Seconds != 60 {
		t.Errorf("hello arm64: %+v", v)
	}
	if _, ok := c.For("other", "amd64"); ok {
		t.Error("other has a cost")
	}
	for _, bad := range []string{`{"a": {"secs": 1}}`, `{"a": {"seconds": -1}}`, `[]`, `{"a": 1}`} {
		if _, err := scheduler.ParseCosts("c.json", []byte(bad)); err == nil || !strings.HasPrefix(err.Error(), "c.json: ") {
			t.Errorf("ParseCosts(%s) = %v", bad, err)
		}
	}
}
