package scheduler

import (
	"math"
	"slices"
)

// Plan is a simulated run: when and where every task starts, with the
// bounds that say how good it is.
type Plan struct {
	// Slots counts every slot, this machine's and the workers'.
	Slots int `json:"slots"`
	// Workers counts the workers; LocalSlots this machine's slots.
	Workers    int     `json:"workers,omitempty"`
	LocalSlots int     `json:"local_slots,omitempty"`
	Cores      int     `json:"cores"`
	Budget     int64   `json:"tmpfs_budget"`
	DiskFactor float64 `json:"disk_factor"`
	Priority   string  `json:"priority"`
	Admission  string  `json:"admission"`
	// Makespan is the predicted time from the first start to the last end.
	Makespan float64 `json:"makespan"`
	// LowerBound is max(CriticalSeconds, Work/Slots): no schedule can be
	// shorter.
	LowerBound float64 `json:"lower_bound"`
	// CriticalPath is the longest chain of work (task IDs, in build
	// order) and CriticalSeconds its length. Work is the total of every
	// task's shortest possible duration (on tmpfs if its tree could ever
	// fit the budget, else on disk).
	CriticalPath    []string `json:"critical_path"`
	CriticalSeconds float64  `json:"critical_seconds"`
	Work            float64  `json:"work"`
	// Items are in order of start, then slot.
	Items []Item `json:"tasks"`
	// Notes are lines the caller adds to the plan, such as the
	// build-dependency edges taken from the archive instead of the
	// project's build (self build-dependencies, cycles: archive).
	Notes []string `json:"notes,omitempty"`
}

// Item is one task of a plan.
type Item struct {
	ID    string  `json:"id"`
	Start float64 `json:"start"`
	End   float64 `json:"end"`
	Slot  int     `json:"slot"`
	// Worker is where it runs ("" for this machine); Platform that
	// place's native platform, when known ("linux/arm64": a task for
	// another architecture is cross-built there).
	Worker   string `json:"worker,omitempty"`
	Platform string `json:"platform,omitempty"`
	// Where is "tmpfs" or "disk"; Reserved the tmpfs bytes it reserves.
	Where    string `json:"where"`
	Reserved int64  `json:"tmpfs_bytes,omitempty"`
	Jobs     int    `json:"jobs"`
	// Seconds and PeakBytes are the task's estimate, Source where it
	// comes from; BottomLevel its priority.
	Seconds     float64 `json:"seconds"`
	PeakBytes   int64   `json:"peak_bytes"`
	Source      string  `json:"source,omitempty"`
	BottomLevel float64 `json:"bottom_level"`
	Critical    bool    `json:"critical,omitempty"`
}

// Simulate runs the policy on a virtual clock where every build takes
// exactly its estimate (its disk estimate on disk) and nothing fails.
func Simulate(d *DAG, opts Options) *Plan {
	return SimulateActual(d, opts, nil)
}

// SimulateActual is Simulate with builds that take actual(i, disk)
// seconds, which the policy does not know: it decides from the estimates,
// as in a real run. A nil actual means the estimates.
func SimulateActual(d *DAG, opts Options, actual func(task int, disk bool) float64) *Plan {
	e := newEngine(d, opts)
	o := e.o
	p := &Plan{
		Slots: o.TotalSlots(), Workers: len(o.Workers), Cores: o.Cores, Budget: o.Budget, DiskFactor: o.DiskFactor,
		Priority: o.Priority.String(), Admission: o.Admission.String(),
	}
	if len(o.Workers) > 0 {
		p.LocalSlots = o.Slots
	}
	path, cp := d.criticalPath(e.bl)
	onPath := map[int]bool{}
	for _, i := range path {
		p.CriticalPath = append(p.CriticalPath, d.Tasks[i].ID)
		onPath[i] = true
	}
	p.CriticalSeconds = cp
	for i := range d.Tasks {
		if e.need[i] < 0 {
			p.Work += e.disk[i]
		} else {
			p.Work += e.dur[i]
		}
	}
	p.LowerBound = max(cp, p.Work/float64(p.Slots))

	end := make([]float64, d.Len()) // actual end of running tasks
	now := 0.0
	for {
		starts, recheck := e.admit(now)
		for _, a := range starts {
			end[a.Task] = a.PredictedEnd
			if actual != nil {
				end[a.Task] = a.Start + actual(a.Task, a.Disk)
			}
			t := d.Tasks[a.Task]
			it := Item{
				ID: a.ID, Start: a.Start, End: end[a.Task], Slot: a.Slot, Worker: a.Worker, Platform: e.pools[a.Pool].Platform(),
				Where: "tmpfs", Reserved: a.Reserved, Jobs: a.Jobs,
				Seconds: e.dur[a.Task], PeakBytes: t.PeakBytes, Source: t.Source,
				BottomLevel: e.bl[a.Task], Critical: onPath[a.Task],
			}
			if a.Disk {
				it.Where = "disk"
			}
			p.Items = append(p.Items, it)
		}
		if e.nRun == 0 {
			break // nothing ready either: admit starts something whenever it can
		}
		next := recheck
		for _, r := range e.slots {
			if r != nil {
				next = min(next, end[r.a.Task])
			}
		}
		now = next
		// Finish everything that ends now, in slot order.
		for _, r := range slices.Clone(e.slots) {
			if r != nil && end[r.a.Task] <= now {
				e.finish(r.a.Task, true)
			}
		}
	}
	for i := range p.Items {
		it := &p.Items[i]
		it.Start, it.End, it.BottomLevel = ms(it.Start), ms(it.End), ms(it.BottomLevel)
		p.Makespan = max(p.Makespan, it.End)
	}
	p.Work, p.LowerBound, p.CriticalSeconds = ms(p.Work), ms(p.LowerBound), ms(p.CriticalSeconds)
	slices.SortStableFunc(p.Items, func(a, b Item) int {
		switch {
		case a.Start < b.Start:
			return -1
		case a.Start > b.Start:
			return 1
		}
		return a.Slot - b.Slot
	})
	return p
}

// ms rounds seconds to milliseconds, so plans print without float noise.
func ms(s float64) float64 { return math.Round(s*1000) / 1000 }

// project predicts when the rest of a run ends: it simulates from the
// engine's state at now, with running builds ending when predicted.
func (e *engine) project(now float64) float64 {
	c := e.clone()
	c.lookahead = false
	for _, r := range c.slots {
		if r != nil {
			r.a.PredictedEnd = r.predictedEnd(now)
		}
	}
	last := now
	for {
		c.admit(now)
		if c.nRun == 0 {
			return last
		}
		next := math.Inf(1)
		for _, r := range c.slots {
			if r != nil {
				next = min(next, r.a.PredictedEnd)
			}
		}
		now = next
		last = max(last, now)
		for _, r := range slices.Clone(c.slots) {
			if r != nil && r.a.PredictedEnd <= now {
				c.finish(r.a.Task, true)
			}
		}
	}
}
