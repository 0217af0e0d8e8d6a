package scheduler

import (
	"fmt"
	"sort"
	"strings"

	"github.com/stx-build/stx-build/dag"
)

// Task is one build to schedule.
type Task struct {
	// ID names the task uniquely, e.g. "hello:amd64".
	ID string
	// Deps are the IDs of the tasks that must have built successfully
	// before this one starts.
	Deps []string
	// Seconds is the predicted wall time with the build tree on tmpfs
	// (<= 0 counts as 1).
	Seconds float64
	// PeakBytes is the predicted peak size of the build tree; 0 means
	// unknown (ramdisk.DefaultSize).
	PeakBytes int64
	// Disk says the build always runs on disk (build.tmpfs: disk).
	Disk bool
	// Jobs fixes the make parallelism (build.jobs, build.serial); 0 lets
	// the scheduler choose from the free cores.
	Jobs int
	// Arch is the architecture it builds for: it runs only in a pool
	// that builds it (Pool.Archs). Empty: in any pool.
	Arch string
	// LocalOnly keeps the task on this machine (never on
	// Options.Workers): what only this machine has, such as an emulated
	// build's base root.
	LocalOnly bool
	// Source says where the estimate comes from ("history", "costs",
	// "manifest", "size", "default"); shown in plans.
	Source string
}

// DAG is a validated set of tasks: unique IDs, known dependencies, no
// cycles. Its tasks keep the order they were given in.
type DAG struct {
	Tasks []Task
	index map[string]int
	deps  [][]int // task -> tasks it needs, sorted
	rdeps [][]int // task -> tasks that need it, sorted
	topo  []int   // Kahn's order, ties broken by ID
	pos   []int   // task -> position in topo
}

// NewDAG validates tasks and indexes them.
func NewDAG(tasks []Task) (*DAG, error) {
	d := &DAG{Tasks: tasks, index: make(map[string]int, len(tasks))}
	for i, t := range tasks {
		if t.ID == "" {
			return nil, fmt.Errorf("scheduler: task %d has no ID", i)
		}
		if _, dup := d.index[t.ID]; dup {
			return nil, fmt.Errorf("scheduler: task %s given twice", t.ID)
		}
		d.index[t.ID] = i
	}
	d.deps = make([][]int, len(tasks))
	d.rdeps = make([][]int, len(tasks))
	for i, t := range tasks {
		seen := map[int]bool{}
		for _, dep := range t.Deps {
			j, ok := d.index[dep]
			if !ok {
				return nil, fmt.Errorf("scheduler: task %s needs unknown task %s", t.ID, dep)
			}
			if j == i {
				return nil, fmt.Errorf("scheduler: task %s needs itself", t.ID)
			}
			if !seen[j] {
				seen[j] = true
				d.deps[i] = append(d.deps[i], j)
				d.rdeps[j] = append(d.rdeps[j], i)
			}
		}
	}
	for i := range tasks {
		sort.Ints(d.deps[i])
		sort.Ints(d.rdeps[i])
	}
	if err := d.sortTopo(); err != nil {
		return nil, err
	}
	return d, nil
}

// sortTopo orders the tasks with Kahn's algorithm, ties broken by ID.
func (d *DAG) sortTopo() error {
	order, stuck := d.graph().TopoOrder(func(a, b int) bool { return d.Tasks[a].ID < d.Tasks[b].ID })
	if len(stuck) > 0 {
		ids := make([]string, len(stuck))
		for k, i := range stuck {
			ids[k] = d.Tasks[i].ID
		}
		sort.Strings(ids)
		return fmt.Errorf("scheduler: dependency cycle among %s", strings.Join(ids, ", "))
	}
	d.topo = order
	d.pos = make([]int, len(order))
	for p, i := range order {
		d.pos[i] = p
	}
	return nil
}

// graph is the DAG as the shared algorithms take it.
func (d *DAG) graph() dag.Graph { return dag.Graph{Needs: d.deps, Dependents: d.rdeps} }

// Len is the number of tasks.
func (d *DAG) Len() int { return len(d.Tasks) }

// Index returns the position of the task named id, or -1.
func (d *DAG) Index(id string) int {
	if i, ok := d.index[id]; ok {
		return i
	}
	return -1
}

// Dependents returns the IDs of the tasks that need id directly, sorted
// by position.
func (d *DAG) Dependents(id string) []string {
	i := d.Index(id)
	if i < 0 {
		return nil
	}
	out := make([]string, len(d.rdeps[i]))
	for k, j := range d.rdeps[i] {
		out[k] = d.Tasks[j].ID
	}
	return out
}

// Order returns the task IDs in a stable topological order.
func (d *DAG) Order() []string {
	out := make([]string, len(d.topo))
	for k, i := range d.topo {
		out[k] = d.Tasks[i].ID
	}
	return out
}

// bottomLevels returns, for each task, its duration plus the largest
// bottom level of the tasks that need it: the length of the longest chain
// of work that starts with it.
func (d *DAG) bottomLevels(dur []float64) []float64 {
	return d.graph().BottomLevels(d.topo, func(v int) float64 { return dur[v] })
}

// criticalPath follows the largest bottom levels from the top (on a tie,
// from the task first in the topological order).
func (d *DAG) criticalPath(bl []float64) ([]int, float64) {
	return d.graph().CriticalPath(d.topo, bl)
}

// descendants counts, for each task, the tasks that need it directly or
// transitively.
func (d *DAG) descendants() []int { return d.graph().Descendants(d.topo) }
