package scheduler

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/sourcegraph/conc"
	"github.com/sourcegraph/conc/panics"
)

// RunFunc runs one build as assigned. It must return when ctx is done.
// An error wrapping ErrWorkerLost says the build did not fail but its
// worker (Assignment.Pool) went away: the task is run again elsewhere and
// nothing more starts on that worker.
type RunFunc func(ctx context.Context, a Assignment) error

// ErrWorkerLost marks a RunFunc error as the loss of the worker, not the
// failure of the build.
var ErrWorkerLost = errors.New("worker lost")

// Event reports a change in a run. Observers get events one at a time, in
// order, from the goroutine that called Execute.
type Event struct {
	// Status is what happened: Running (started), Built, Failed, Skipped
	// or NotStarted.
	Status Status
	// Time is seconds since the run started.
	Time float64
	// Task is the task's index in the DAG; ID its ID.
	Task int
	ID   string
	// Assignment says how a started or finished task runs (zero for
	// skipped and not started ones).
	Assignment Assignment
	// Err is a failed task's error.
	Err error
	// Cause lists, for a skipped task, the failed tasks it needs.
	Cause []string
	// Done counts the tasks that are finished (built, failed, skipped or
	// not started); Total is the number of tasks.
	Done, Total int
	// ETA is the predicted time (seconds since the start) at which the run
	// ends, from simulating the rest of it with the estimates.
	ETA float64
}

// Result is how one task ended.
type Result struct {
	ID     string
	Status Status
	// Assignment and End (seconds since the start) are set for tasks that
	// started.
	Assignment Assignment
	End        float64
	Err        error
	Cause      []string
}

// Outcome is a finished run.
type Outcome struct {
	// Results are in the DAG's task order.
	Results []Result
	// Elapsed is the run's wall time in seconds; Predicted is what a plan
	// made at the start (from the estimates) said it would be.
	Elapsed, Predicted float64
}

// Count returns how many tasks ended with status s.
func (o *Outcome) Count(s Status) int {
	n := 0
	for _, r := range o.Results {
		if r.Status == s {
			n++
		}
	}
	return n
}

// OK says whether every task was built.
func (o *Outcome) OK() bool { return o.Count(Built) == len(o.Results) }

// The ETA of an event is projected anew when at most etaEveryAbove tasks
// remain, else at most every etaEvery seconds.
const (
	etaEvery      = 0.05
	etaEveryAbove = 32
)

type completion struct {
	a   Assignment
	err error
}

// Execute runs the tasks of d with the policy opts: it starts each
// admitted task's run in its own goroutine and decides again whenever one
// returns. A failed run skips what needs it; without opts.KeepGoing it
// also stops new starts (running builds finish). When ctx is done, running
// builds are expected to stop (their ctx is cancelled), nothing new
// starts, and Execute returns ctx's error after every run has returned. A
// panic in run fails that task.
func Execute(ctx context.Context, d *DAG, opts Options, run RunFunc, observe func(Event)) (*Outcome, error) {
	if observe == nil {
		observe = func(Event) {}
	}
	e := newEngine(d, opts)
	out := &Outcome{Results: make([]Result, d.Len())}
	for i, t := range d.Tasks {
		out.Results[i] = Result{ID: t.ID, Status: Pending}
	}
	out.Predicted = e.project(0)

	begin := time.Now()
	now := func() float64 { return time.Since(begin).Seconds() }
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan completion)
	var wg conc.WaitGroup
	finished := 0
	// Projecting the ETA simulates what remains. When many tasks end
	// within moments (a run restoring hundreds of cached builds), it is
	// projected at most every etaEvery and the last projection stands in
	// between: per event it would cost O(tasks²) for a number that does not
	// change meanwhile.
	lastETA, lastProjected := 0.0, math.Inf(-1)
	emit := func(ev Event) {
		ev.Time, ev.Total, ev.ID = now(), d.Len(), d.Tasks[ev.Task].ID
		ev.Done = finished
		ev.ETA = ev.Time
		switch {
		case e.stopped:
		case d.Len()-finished > etaEveryAbove && ev.Time-lastProjected < etaEvery:
			ev.ETA = max(lastETA, ev.Time)
		default:
			lastETA, lastProjected = e.project(ev.Time), ev.Time
			ev.ETA = lastETA
		}
		observe(ev)
	}
	skip := func(tasks []int, status Status) {
		for _, w := range tasks {
			finished++
			r := &out.Results[w]
			r.Status = status
			for _, c := range e.cause[w] {
				r.Cause = append(r.Cause, d.Tasks[c].ID)
			}
			emit(Event{Status: status, Task: w, Cause: r.Cause})
		}
	}

	interrupted := ctx.Done()
	var timer *time.Timer
	for {
		starts, recheck := e.admit(now())
		for _, a := range starts {
			out.Results[a.Task].Status = Running
			out.Results[a.Task].Assignment = a
			emit(Event{Status: Running, Task: a.Task, Assignment: a})
			wg.Go(func() {
				var err error
				if p := panics.Try(func() { err = run(runCtx, a) }); p != nil {
					err = fmt.Errorf("%s: %w", a.ID, p.AsError())
				}
				done <- completion{a, err}
			})
		}
		if lost := e.stranded(); len(lost) > 0 {
			// Every place that could build them is gone.
			for _, t := range lost {
				e.ready.Remove(t)
				e.status[t] = Running
				r := &out.Results[t]
				r.Status, r.End = Failed, now()
				r.Err = fmt.Errorf("%s: no place left to build it: every worker that could is gone: %w", d.Tasks[t].ID, ErrWorkerLost)
				finished++
				skipped := e.finishStranded(t)
				emit(Event{Status: Failed, Task: t, Err: r.Err})
				skip(skipped, Skipped)
			}
			continue
		}
		if e.nRun == 0 {
			break
		}
		var wake <-chan time.Time
		if !math.IsInf(recheck, 1) {
			d := time.Duration((recheck - now()) * float64(time.Second))
			if timer == nil {
				timer = time.NewTimer(max(d, 0))
			} else {
				timer.Reset(max(d, 0))
			}
			wake = timer.C
		}
		select {
		case c := <-done:
			if c.err != nil && ctx.Err() == nil && errors.Is(c.err, ErrWorkerLost) {
				r := &out.Results[c.a.Task]
				r.Status, r.Assignment = Ready, Assignment{}
				e.requeue(c.a.Task)
				emit(Event{Status: Requeued, Task: c.a.Task, Assignment: c.a, Err: c.err})
				break
			}
			finished++
			r := &out.Results[c.a.Task]
			r.End, r.Err, r.Status = now(), c.err, Built
			if c.err != nil {
				r.Status = Failed
			}
			if c.err != nil && ctx.Err() != nil {
				// Interrupted: what needs it is not started, not skipped.
				e.abort(c.a.Task)
				emit(Event{Status: r.Status, Task: c.a.Task, Assignment: c.a, Err: c.err})
				break
			}
			skipped := e.finish(c.a.Task, c.err == nil)
			emit(Event{Status: r.Status, Task: c.a.Task, Assignment: c.a, Err: c.err})
			skip(skipped, Skipped)
		case <-interrupted:
			interrupted = nil
			cancel()
			e.stopped = true
		case <-wake:
		}
		if timer != nil {
			timer.Stop() // since Go 1.23 no stale tick survives Stop
		}
	}
	wg.Wait()
	skip(e.stop(), NotStarted)
	out.Elapsed = now()
	if err := ctx.Err(); err != nil {
		return out, err
	}
	return out, nil
}
