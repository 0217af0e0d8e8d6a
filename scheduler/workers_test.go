package scheduler_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stx-build/stx-build/scheduler"
	"github.com/stx-build/stx-build/scheduler/schedtest"
)

// poolRecorder is a fake build over several pools: it checks at each
// start that dependencies finished, that no pool runs more builds or
// reserves more tmpfs than it has, that local-only tasks stay local, and
// that nothing starts on a pool after a build there reported it lost. A pool listed in loseAt
// goes away once that many builds have started on it: its running builds
// (and any started later by mistake) return ErrWorkerLost.
type poolRecorder struct {
	pools  []scheduler.Pool
	tasks  map[string]scheduler.Task
	loseAt map[int]int
	scale  float64

	mu       sync.Mutex
	finished map[string]bool
	running  []int
	reserved []int64
	started  []int
	lost     []bool
	reported []bool
	// Where each task built in the end, and the problems found.
	builtOn  map[string]int
	lostRuns int
	errs     []string
}

func newPoolRecorder(tasks []scheduler.Task, o scheduler.Options, loseAt map[int]int) *poolRecorder {
	pools := append([]scheduler.Pool{{Slots: o.Slots, Budget: o.Budget, Archs: o.Archs}}, o.Workers...)
	r := &poolRecorder{
		pools: pools, tasks: map[string]scheduler.Task{}, loseAt: loseAt, scale: 1e-5,
		finished: map[string]bool{}, running: make([]int, len(pools)), reserved: make([]int64, len(pools)),
		started: make([]int, len(pools)), lost: make([]bool, len(pools)), reported: make([]bool, len(pools)), builtOn: map[string]int{},
	}
	for _, t := range tasks {
		r.tasks[t.ID] = t
	}
	return r
}

func (r *poolRecorder) run(ctx context.Context, a scheduler.Assignment) error {
	p := a.Pool
	r.mu.Lock()
	for _, d := range r.tasks[a.ID].Deps {
		if !r.finished[d] {
			r.errs = append(r.errs, fmt.Sprintf("%s started before %s finished", a.ID, d))
		}
	}
	if p > 0 && a.Worker != r.pools[p].Name {
		r.errs = append(r.errs, fmt.Sprintf("%s: pool %d named %q, want %q", a.ID, p, a.Worker, r.pools[p].Name))
	}
	if r.tasks[a.ID].LocalOnly && p != 0 {
		r.errs = append(r.errs, fmt.Sprintf("local-only %s started on pool %d", a.ID, p))
	}
	if !r.pools[p].Builds(r.tasks[a.ID].Arch) {
		r.errs = append(r.errs, fmt.Sprintf("%s (%s) started on pool %d, which builds %v", a.ID, r.tasks[a.ID].Arch, p, r.pools[p].Archs))
	}
	r.running[p]++
	r.reserved[p] += a.Reserved
	r.started[p]++
	if r.running[p] > r.pools[p].Slots {
		r.errs = append(r.errs, fmt.Sprintf("pool %d: %d builds at once (slots %d)", p, r.running[p], r.pools[p].Slots))
	}
	if r.reserved[p] > r.pools[p].Budget {
		r.errs = append(r.errs, fmt.Sprintf("pool %d: %d tmpfs bytes reserved (budget %d)", p, r.reserved[p], r.pools[p].Budget))
	}
	if n, ok := r.loseAt[p]; ok && r.started[p] >= n {
		r.lost[p] = true
	}
	r.mu.Unlock()
	time.Sleep(time.Duration((a.PredictedEnd - a.Start) * r.scale * float64(time.Second)))
	r.mu.Lock()
	defer r.mu.Unlock()
	r.running[p]--
	r.reserved[p] -= a.Reserved
	if r.lost[p] {
		r.lostRuns++
		return fmt.Errorf("connection reset: %w", scheduler.ErrWorkerLost)
	}
	r.finished[a.ID] = true
	r.builtOn[a.ID] = p
	return ctx.Err()
}

// TestWorkers runs random DAGs over this machine and two workers (one with
// no tmpfs budget), with some tasks for an architecture only this machine
// builds, and loses the first worker part way: every task still builds
// exactly once successfully, in a pool that builds its architecture, the
// limits of every pool hold, and the lost worker's builds ran again
// elsewhere.
func TestWorkers(t *testing.T) {
	for seed := range uint64(6) {
		tasks := schedtest.RandomTasks(seed, 60, 4)
		for i := range tasks {
			switch {
			case i%11 == 0:
				tasks[i].Arch = "riscv64"
			case i%7 == 0:
				tasks[i].LocalOnly = true
			}
		}
		d := mustDAG(t, tasks)
		o := scheduler.Options{
			Slots: 1, Cores: 2, Budget: 6 * gib, Archs: []string{"amd64", "riscv64"},
			Workers: []scheduler.Pool{
				{Name: "unix:///w1.sock", Slots: 2, Cores: 4, Budget: 12 * gib, Archs: []string{"amd64"}},
				{Name: "tcp://w2:1234", Slots: 1, Cores: 2},
			},
		}
		if err := o.Check(d); err != nil {
			t.Fatal(err)
		}
		rec := newPoolRecorder(tasks, o, map[int]int{1: 8})
		var requeued int
		out, err := scheduler.Execute(context.Background(), d, o, rec.run, func(e scheduler.Event) {
			if e.Status == scheduler.Requeued {
				rec.mu.Lock()
				rec.reported[e.Assignment.Pool] = true // the scheduler knows from now on
				rec.mu.Unlock()
				requeued++
				if e.Assignment.Pool != 1 || !errors.Is(e.Err, scheduler.ErrWorkerLost) {
					t.Errorf("requeue event %+v", e)
				}
			}
			// Checked when the scheduler assigns, not when the build's
			// goroutine gets to run: under load that can come after a
			// loss the scheduler reported later than it assigned.
			if e.Status == scheduler.Running {
				rec.mu.Lock()
				if rec.reported[e.Assignment.Pool] {
					rec.errs = append(rec.errs, fmt.Sprintf("%s assigned to pool %d after its loss was reported", e.ID, e.Assignment.Pool))
				}
				rec.mu.Unlock()
			}
			if e.Status == scheduler.Running && e.Assignment.Pool == 2 && !e.Assignment.Disk {
				t.Errorf("%s on tmpfs on a worker with no budget", e.ID)
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(rec.errs) > 0 {
			t.Fatalf("seed %d:\n%s", seed, strings.Join(rec.errs, "\n"))
		}
		if !out.OK() || len(rec.builtOn) != len(tasks) {
			t.Fatalf("seed %d: %d built of %d", seed, out.Count(scheduler.Built), len(tasks))
		}
		if rec.lostRuns == 0 || requeued != rec.lostRuns {
			t.Errorf("seed %d: %d runs lost, %d requeue events", seed, rec.lostRuns, requeued)
		}
		used := map[int]int{}
		for _, p := range rec.builtOn {
			used[p]++
		}
		if used[0] == 0 || used[2] == 0 {
			t.Errorf("seed %d: builds per pool %v: this machine and the second worker should both build", seed, used)
		}
	}
}

// TestWorkersAllGone: with no local slots and the only worker gone, what
// is left fails with ErrWorkerLost (and its dependents are skipped)
// instead of waiting forever; a task for an architecture only the lost
// worker builds fails the same way.
func TestWorkersAllGone(t *testing.T) {
	tasks := []scheduler.Task{
		{ID: "a", Seconds: 10}, {ID: "b", Seconds: 10, Deps: []string{"a"}},
		{ID: "c", Seconds: 10, Deps: []string{"b"}}, {ID: "k", Seconds: 5, Arch: "arm64", Deps: []string{"a"}},
	}
	d := mustDAG(t, tasks)
	o := scheduler.Options{Workers: []scheduler.Pool{{Name: "w", Slots: 1, Archs: []string{"arm64"}}}, KeepGoing: true}
	rec := newPoolRecorder(tasks, o, map[int]int{1: 2})
	out, err := scheduler.Execute(context.Background(), d, o, rec.run, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]scheduler.Status{}
	for _, r := range out.Results {
		got[r.ID] = r.Status
		if r.Status == scheduler.Failed && !errors.Is(r.Err, scheduler.ErrWorkerLost) {
			t.Errorf("%s: %v", r.ID, r.Err)
		}
	}
	want := map[string]scheduler.Status{"a": scheduler.Built, "b": scheduler.Failed, "c": scheduler.Skipped, "k": scheduler.Failed}
	for id, s := range want {
		if got[id] != s {
			t.Errorf("%s: %v, want %v", id, got[id], s)
		}
	}
}

// TestSimulateWorkers: a plan over workers uses every pool, and a second
// pool makes a wide DAG finish sooner.
func TestSimulateWorkers(t *testing.T) {
	var tasks []scheduler.Task
	for i := range 8 {
		tasks = append(tasks, scheduler.Task{ID: fmt.Sprintf("p%d", i), Seconds: 100})
	}
	d := mustDAG(t, tasks)
	alone := scheduler.Simulate(d, scheduler.Options{Slots: 2, Budget: 100 * gib})
	more := scheduler.Simulate(d, scheduler.Options{Slots: 2, Budget: 100 * gib, Workers: []scheduler.Pool{{Name: "w", Slots: 2, Budget: 100 * gib}}})
	if alone.Makespan != 400 || more.Makespan != 200 || more.Slots != 4 {
		t.Errorf("makespan alone %v, with a worker %v (%d slots)", alone.Makespan, more.Makespan, more.Slots)
	}
	on := map[string]int{}
	for _, it := range more.Items {
		on[it.Worker]++
	}
	if on[""] != 4 || on["w"] != 4 {
		t.Errorf("builds per place: %v", on)
	}
}

// TestSimulateArchs: tasks go only to pools that build their
// architecture (here an arm64 worker takes no amd64 build and the amd64
// one no arm64 build), the plan names each place's native platform, and
// Check refuses a task no pool builds.
func TestSimulateArchs(t *testing.T) {
	var tasks []scheduler.Task
	for i := range 6 {
		tasks = append(tasks, scheduler.Task{ID: fmt.Sprintf("p%d:amd64", i), Seconds: 100, Arch: "amd64"})
		tasks = append(tasks, scheduler.Task{ID: fmt.Sprintf("p%d:arm64", i), Seconds: 100, Arch: "arm64"})
	}
	tasks = append(tasks, scheduler.Task{ID: "publish", Seconds: 1})
	d := mustDAG(t, tasks)
	o := scheduler.Options{Slots: 0, Budget: 100 * gib, Workers: []scheduler.Pool{
		{Name: "tcp://amd:1234", Slots: 2, Budget: 100 * gib, Archs: []string{"amd64"}},
		{Name: "tcp://arm:1234", Slots: 2, Budget: 100 * gib, Archs: []string{"arm64"}},
	}}
	if err := o.Check(d); err != nil {
		t.Fatal(err)
	}
	p := scheduler.Simulate(d, o)
	if len(p.Items) != len(tasks) {
		t.Fatalf("%d of %d tasks planned", len(p.Items), len(tasks))
	}
	for _, it := range p.Items {
		_, arch, ok := strings.Cut(it.ID, ":")
		if !ok {
			continue // publish: anywhere
		}
		if want := "tcp://" + arch[:3] + ":1234"; it.Worker != want || it.Platform != "linux/"+arch {
			t.Errorf("%s on %s (%s), want %s", it.ID, it.Worker, it.Platform, want)
		}
	}
	if p.Makespan > 301 {
		t.Errorf("makespan %v, want 300: 6 builds of 100 s on 2 slots per architecture", p.Makespan)
	}
	var text strings.Builder
	if err := scheduler.WriteText(&text, p); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text.String(), "[tcp://arm:1234 linux/arm64]") {
		t.Errorf("the plan does not say where arm64 builds run:\n%s", text.String())
	}

	// Nothing builds riscv64: Check says so before anything starts.
	d = mustDAG(t, append(tasks, scheduler.Task{ID: "q:riscv64", Arch: "riscv64"}))
	if err := o.Check(d); err == nil || !strings.Contains(err.Error(), "q:riscv64") {
		t.Errorf("Check = %v, want an error naming q:riscv64", err)
	}
	// A task that builds only on this machine cannot when it has no slot.
	local := mustDAG(t, []scheduler.Task{{ID: "e:arm64", Arch: "arm64", LocalOnly: true}})
	if err := o.Check(local); err == nil || !strings.Contains(err.Error(), "only on this machine") {
		t.Errorf("Check = %v, want an error: a local-only task and no local slot", err)
	}
	// This machine with no slots builds nothing, whatever its Archs.
	o.Workers = o.Workers[1:]
	o.Archs = []string{"amd64"}
	if err := o.Check(mustDAG(t, tasks)); err == nil {
		t.Error("Check: amd64 tasks with only an arm64 worker and no local slots: no error")
	}
}
