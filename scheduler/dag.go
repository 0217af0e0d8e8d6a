package scheduler

import (
	"fmt"
	"math/bits"
	"sort"
	"strings"
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
	// LocalOnly keeps the task on this machine (never on Options.Workers).
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
	n := len(d.Tasks)
	pending := make([]int, n)
	var ready []int
	for i := range d.Tasks {
		pending[i] = len(d.deps[i])
		if pending[i] == 0 {
			ready = append(ready, i)
		}
	}
	byID := func(a, b int) bool { return d.Tasks[a].ID < d.Tasks[b].ID }
	h := &intHeap{less: byID}
	for _, i := range ready {
		h.push(i)
	}
	for h.len() > 0 {
		v := h.pop()
		d.topo = append(d.topo, v)
		for _, w := range d.rdeps[v] {
			pending[w]--
			if pending[w] == 0 {
				h.push(w)
			}
		}
	}
	if len(d.topo) != n {
		var stuck []string
		for i := range d.Tasks {
			if pending[i] > 0 {
				stuck = append(stuck, d.Tasks[i].ID)
			}
		}
		sort.Strings(stuck)
		return fmt.Errorf("scheduler: dependency cycle among %s", strings.Join(stuck, ", "))
	}
	d.pos = make([]int, n)
	for p, i := range d.topo {
		d.pos[i] = p
	}
	return nil
}

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
	bl := make([]float64, len(d.Tasks))
	for k := len(d.topo) - 1; k >= 0; k-- {
		v := d.topo[k]
		best := 0.0
		for _, w := range d.rdeps[v] {
			best = max(best, bl[w])
		}
		bl[v] = dur[v] + best
	}
	return bl
}

// criticalPath follows the largest bottom levels from the top.
func (d *DAG) criticalPath(bl []float64) ([]int, float64) {
	start := -1
	for _, i := range d.topo {
		if start < 0 || bl[i] > bl[start] {
			start = i
		}
	}
	if start < 0 {
		return nil, 0
	}
	path := []int{start}
	for v := start; ; {
		next := -1
		for _, w := range d.rdeps[v] {
			if next < 0 || bl[w] > bl[next] {
				next = w
			}
		}
		if next < 0 {
			break
		}
		path = append(path, next)
		v = next
	}
	return path, bl[start]
}

// descendants counts, for each task, the tasks that need it directly or
// transitively.
func (d *DAG) descendants() []int {
	n := len(d.Tasks)
	words := (n + 63) / 64
	sets := make([][]uint64, n)
	count := make([]int, n)
	for k := n - 1; k >= 0; k-- {
		v := d.topo[k]
		s := make([]uint64, words)
		for _, w := range d.rdeps[v] {
			s[w/64] |= 1 << (w % 64)
			for x, word := range sets[w] {
				s[x] |= word
			}
		}
		sets[v] = s
		for _, word := range s {
			count[v] += bits.OnesCount64(word)
		}
	}
	return count
}

// intHeap is a binary heap of task indexes under a caller's order.
type intHeap struct {
	xs   []int
	less func(a, b int) bool
}

func (h *intHeap) len() int { return len(h.xs) }

func (h *intHeap) push(x int) {
	h.xs = append(h.xs, x)
	for i := len(h.xs) - 1; i > 0; {
		p := (i - 1) / 2
		if !h.less(h.xs[i], h.xs[p]) {
			break
		}
		h.xs[i], h.xs[p] = h.xs[p], h.xs[i]
		i = p
	}
}

func (h *intHeap) pop() int {
	x := h.xs[0]
	last := len(h.xs) - 1
	h.xs[0] = h.xs[last]
	h.xs = h.xs[:last]
	for i := 0; ; {
		l, r, m := 2*i+1, 2*i+2, i
		if l < last && h.less(h.xs[l], h.xs[m]) {
			m = l
		}
		if r < last && h.less(h.xs[r], h.xs[m]) {
			m = r
		}
		if m == i {
			break
		}
		h.xs[i], h.xs[m] = h.xs[m], h.xs[i]
		i = m
	}
	return x
}

// remove takes x out of the heap (if there).
func (h *intHeap) remove(x int) {
	var keep []int
	for _, y := range h.xs {
		if y != x {
			keep = append(keep, y)
		}
	}
	h.xs = nil
	for _, y := range keep {
		h.push(y)
	}
}
