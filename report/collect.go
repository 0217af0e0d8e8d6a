package report

import (
	"slices"
	"sort"
	"sync"
	"time"
)

// Run is a whole build run, for the HTML report (and run.json beside it).
type Run struct {
	Title   string    `json:"title"`
	Started time.Time `json:"started"`
	// Elapsed is the run's wall time; Predicted and LowerBound come from
	// the plan made at the start.
	Elapsed    float64 `json:"elapsed"`
	Predicted  float64 `json:"predicted"`
	LowerBound float64 `json:"lower_bound"`
	// PredictionError is Predicted against Elapsed (PredictionError: +0.1
	// predicted a tenth too long); 0 for an interrupted run.
	PredictionError float64 `json:"prediction_error"`
	Slots           int     `json:"slots"`
	Cores           int     `json:"cores"`
	Budget          int64   `json:"tmpfs_budget"`
	Interrupted     bool    `json:"interrupted,omitempty"`
	// Tasks are in order of start (tasks that never started last, by ID).
	Tasks []*Task `json:"tasks"`
	// CriticalPath is the chain of builds that set the run's end: from
	// the build that ended last, back through the dependency that ended
	// last before it started.
	CriticalPath []string `json:"critical_path"`
	// Notes are the plan's (edges cut to break cycles, and why).
	Notes []string `json:"notes,omitempty"`
}

// Task is one task of a run.
type Task struct {
	ID      string   `json:"id"`
	Package string   `json:"package"`
	Version string   `json:"version"`
	Arch    string   `json:"arch"`
	What    string   `json:"what,omitempty"`
	Deps    []string `json:"deps,omitempty"`
	// Status is built, failed, skipped, not-started, or running (the run
	// was cut off).
	Status    string  `json:"status"`
	Start     float64 `json:"start"`
	End       float64 `json:"end"`
	Slot      int     `json:"slot,omitempty"`
	Where     string  `json:"where,omitempty"`
	Worker    string  `json:"worker,omitempty"`
	Mode      string  `json:"mode,omitempty"` // ModeCross, ModeEmulated: a foreign architecture's build
	Jobs      int     `json:"jobs,omitempty"`
	Retried   bool    `json:"retried,omitempty"`
	PeakBytes int64   `json:"peak_bytes,omitempty"`
	Estimate  float64 `json:"estimate,omitempty"`
	// PlannedStart and PlannedEnd are the plan's prediction.
	PlannedStart float64 `json:"planned_start"`
	PlannedEnd   float64 `json:"planned_end"`
	// Predicted is the duration the plan gave a built task (on disk with
	// the disk factor); PredictionError compares it with End - Start,
	// for builds of a second or more (0 for restores and publishes).
	Predicted       float64  `json:"predicted,omitempty"`
	PredictionError float64  `json:"prediction_error,omitempty"`
	Log             string   `json:"log,omitempty"`
	Error           string   `json:"error,omitempty"`
	Cause           []string `json:"cause,omitempty"`
	Critical        bool     `json:"critical,omitempty"`
	started         bool
}

// Collector is a Sink that gathers a Run.
type Collector struct {
	mu    sync.Mutex
	run   Run
	tasks map[string]*Task
}

// NewCollector starts collecting a run with a title (the project's name).
func NewCollector(title string) *Collector {
	return &Collector{run: Run{Title: title}, tasks: map[string]*Task{}}
}

func (c *Collector) task(e Event) *Task {
	t, ok := c.tasks[e.ID]
	if !ok {
		t = &Task{ID: e.ID, Status: "pending"}
		c.tasks[e.ID] = t
	}
	if e.Package != "" {
		t.Package, t.Version, t.Arch = e.Package, e.Version, e.Arch
	}
	if e.What != "" {
		t.What = e.What
	}
	return t
}

// Event implements Sink.
func (c *Collector) Event(e Event) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.run.Started.IsZero() && !e.Time.IsZero() {
		c.run.Started = e.Time.Add(-time.Duration(e.Elapsed * float64(time.Second)))
	}
	c.run.Elapsed = max(c.run.Elapsed, e.Elapsed)
	switch e.Kind {
	case KindPlan:
		// The run's clock starts with the plan (after the base root).
		if !e.Time.IsZero() {
			c.run.Started = e.Time.Add(-time.Duration(e.Elapsed * float64(time.Second)))
		}
		c.run.Elapsed = e.Elapsed
		p := e.Plan
		c.run.Predicted, c.run.LowerBound = p.Makespan, p.LowerBound
		c.run.Slots, c.run.Cores, c.run.Budget = p.Slots, p.Cores, p.Budget
		c.run.Notes = p.Notes
		for _, pt := range p.Tasks {
			t := c.task(Event{ID: pt.ID})
			t.Deps = pt.Deps
			t.Estimate = pt.Seconds
			t.PlannedStart, t.PlannedEnd = pt.Start, pt.End
		}
	case KindStart:
		t := c.task(e)
		t.Status, t.started = "running", true
		t.Start, t.Slot, t.Where, t.Jobs, t.Worker = e.Elapsed, e.Slot, e.Where, e.Jobs, e.Worker
		t.Mode = e.Mode
		t.Log = e.Log
	case KindBuilt, KindFailed:
		t := c.task(e)
		t.Status, t.End = e.Kind, e.Elapsed
		if !t.started {
			t.started, t.Start = true, e.Elapsed
		}
		t.PeakBytes, t.Retried, t.Error = e.PeakBytes, e.Retried, e.Error
		if e.Mode != "" {
			t.Mode = e.Mode
		}
		if e.Where != "" {
			t.Where = e.Where
		}
		if e.Cached != "" {
			t.Where = "cache"
		}
		if e.Log != "" {
			t.Log = e.Log
		}
	case KindSkipped, KindNotStarted:
		t := c.task(e)
		t.Status, t.Cause = e.Kind, e.Cause
	case KindSummary:
		c.run.Interrupted = e.Summary != nil && e.Summary.Interrupted
	}
}

// Run returns the run collected so far, with its critical path marked.
func (c *Collector) Run() *Run {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.run
	r.Tasks = nil
	for _, t := range c.tasks {
		cp := *t
		if cp.Status == "running" {
			cp.End = r.Elapsed
		}
		r.Tasks = append(r.Tasks, &cp)
	}
	sort.Slice(r.Tasks, func(i, j int) bool {
		a, b := r.Tasks[i], r.Tasks[j]
		if a.started != b.started {
			return a.started
		}
		if a.Start != b.Start {
			return a.Start < b.Start
		}
		if a.Slot != b.Slot {
			return a.Slot < b.Slot
		}
		return a.ID < b.ID
	})
	r.CriticalPath = criticalPath(r.Tasks)
	for _, t := range r.Tasks {
		t.Critical = slices.Contains(r.CriticalPath, t.ID)
	}
	predictions(&r)
	return &r
}

// criticalPath walks back from the build that ended last through the
// dependency that ended last. Tasks that only publish (no slot) do not end
// it: they take no time.
func criticalPath(tasks []*Task) []string {
	byID := map[string]*Task{}
	var last *Task
	for _, t := range tasks {
		byID[t.ID] = t
		if t.started && t.Slot > 0 && (last == nil || t.End > last.End) {
			last = t
		}
	}
	var path []string
	for t := last; t != nil; {
		path = append(path, t.ID)
		var next *Task
		for _, d := range t.Deps {
			if dt := byID[d]; dt != nil && dt.started && (next == nil || dt.End > next.End) {
				next = dt
			}
		}
		t = next
	}
	slices.Reverse(path)
	return path
}
