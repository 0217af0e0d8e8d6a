package graph

import (
	"container/heap"
	"sort"
)

// This file finds a small feedback arc set of one strongly connected
// component: arcs whose removal leaves it acyclic. Finding the smallest is
// NP-hard; the heuristic is the usual one for dependency graphs:
//
//  1. order the vertices by Eades, Lin and Smyth's greedy rule (take sinks
//     to the back and sources to the front; otherwise the vertex whose
//     outgoing weight most exceeds its incoming weight to the front);
//  2. improve the order by moving one vertex at a time to the place where
//     the fewest arcs point backwards, until no move helps;
//  3. the arcs pointing backwards are a feedback arc set; put back every
//     one of them that closes no cycle with the arcs kept, so the set is
//     minimal (no arc of it can be left out);
//  4. a topological order of the arcs kept starts steps 2 and 3 again, as
//     long as the set gets lighter.
//
// Both the greedy order and its reverse-graph twin are tried and the lighter
// result kept. Everything is deterministic: ties go to the lower vertex.
//
// An arc a->b here means "a before b" (b build-depends on a).

// arc is one arc of a component, between local vertex numbers.
type arc struct {
	from, to int
	weight   int64
}

// fasGraph is a component as adjacency lists of arc indices.
type fasGraph struct {
	n    int
	arcs []arc
	out  [][]int // vertex -> arcs leaving it
	in   [][]int // vertex -> arcs entering it
}

func newFASGraph(n int, arcs []arc) *fasGraph {
	f := &fasGraph{n: n, arcs: arcs, out: make([][]int, n), in: make([][]int, n)}
	for i, a := range arcs {
		f.out[a.from] = append(f.out[a.from], i)
		f.in[a.to] = append(f.in[a.to], i)
	}
	return f
}

// feedbackArcs returns the indices, sorted, of a minimal feedback arc set
// of f (which should be strongly connected, but need not be).
func (f *fasGraph) feedbackArcs() []int {
	best, bestW := []int(nil), int64(-1)
	for _, reverse := range []bool{false, true} {
		order := f.greedyOrder(reverse)
		var cut []int
		var w int64 = -1
		// Minimizing can put back arcs the order had to cut; an order of
		// what is left then starts a new local search, as long as the set
		// gets lighter.
		for round := 0; round < maxRounds; round++ {
			f.sift(order)
			c := f.minimize(f.backArcs(order))
			cw := f.weight(c)
			if w >= 0 && cw >= w {
				break
			}
			cut, w = c, cw
			order = f.topoOrder(cut)
		}
		if bestW < 0 || w < bestW || (w == bestW && len(cut) < len(best)) {
			best, bestW = cut, w
		}
	}
	return best
}

// maxRounds bounds the rounds of local search and minimizing.
const maxRounds = 10

func (f *fasGraph) weight(arcs []int) int64 {
	var w int64
	for _, i := range arcs {
		w += f.arcs[i].weight
	}
	return w
}

// topoOrder orders the vertices so that every arc not in cut points
// forwards (Kahn's algorithm, the lowest vertex first among the ready).
func (f *fasGraph) topoOrder(cut []int) []int {
	isCut := make([]bool, len(f.arcs))
	for _, i := range cut {
		isCut[i] = true
	}
	indeg := make([]int, f.n)
	for i, a := range f.arcs {
		if !isCut[i] {
			indeg[a.to]++
		}
	}
	h := &intHeap{}
	for v := 0; v < f.n; v++ {
		if indeg[v] == 0 {
			heap.Push(h, v)
		}
	}
	order := make([]int, 0, f.n)
	for h.Len() > 0 {
		v := heap.Pop(h).(int)
		order = append(order, v)
		for _, i := range f.out[v] {
			if isCut[i] {
				continue
			}
			to := f.arcs[i].to
			indeg[to]--
			if indeg[to] == 0 {
				heap.Push(h, to)
			}
		}
	}
	return order
}

type intHeap []int

func (h intHeap) Len() int           { return len(h) }
func (h intHeap) Less(i, j int) bool { return h[i] < h[j] }
func (h intHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *intHeap) Push(x any)        { *h = append(*h, x.(int)) }
func (h *intHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// greedyOrder is Eades, Lin and Smyth's ordering. With reverse, it runs on
// the reversed graph and the result is reversed back, which picks
// differently among equal choices.
func (f *fasGraph) greedyOrder(reverse bool) []int {
	out, in := f.out, f.in
	end := func(a arc) (int, int) { return a.from, a.to }
	if reverse {
		out, in = in, out
		end = func(a arc) (int, int) { return a.to, a.from }
	}
	n := f.n
	removed := make([]bool, n)
	indeg, outdeg := make([]int, n), make([]int, n)
	win, wout := make([]int64, n), make([]int64, n)
	for _, a := range f.arcs {
		from, to := end(a)
		outdeg[from]++
		wout[from] += a.weight
		indeg[to]++
		win[to] += a.weight
	}
	var sinks, sources []int
	h := &deltaHeap{}
	for v := 0; v < n; v++ {
		switch {
		case outdeg[v] == 0:
			sinks = append(sinks, v)
		case indeg[v] == 0:
			sources = append(sources, v)
		default:
			heap.Push(h, deltaItem{v: v, delta: wout[v] - win[v]})
		}
	}
	front := make([]int, 0, n)
	var back []int // built backwards
	remove := func(v int) {
		removed[v] = true
		for _, i := range out[v] {
			_, to := end(f.arcs[i])
			if removed[to] {
				continue
			}
			indeg[to]--
			win[to] -= f.arcs[i].weight
			if indeg[to] == 0 {
				sources = append(sources, to)
			} else {
				heap.Push(h, deltaItem{v: to, delta: wout[to] - win[to]})
			}
		}
		for _, i := range in[v] {
			from, _ := end(f.arcs[i])
			if removed[from] {
				continue
			}
			outdeg[from]--
			wout[from] -= f.arcs[i].weight
			if outdeg[from] == 0 {
				sinks = append(sinks, from)
			} else {
				heap.Push(h, deltaItem{v: from, delta: wout[from] - win[from]})
			}
		}
	}
	for left := n; left > 0; {
		switch {
		case len(sinks) > 0:
			v := sinks[0]
			sinks = sinks[1:]
			if !removed[v] {
				back = append(back, v)
				remove(v)
				left--
			}
		case len(sources) > 0:
			v := sources[0]
			sources = sources[1:]
			if !removed[v] {
				front = append(front, v)
				remove(v)
				left--
			}
		default:
			it := heap.Pop(h).(deltaItem)
			if removed[it.v] || it.delta != wout[it.v]-win[it.v] {
				continue // stale
			}
			front = append(front, it.v)
			remove(it.v)
			left--
		}
	}
	for i := len(back) - 1; i >= 0; i-- {
		front = append(front, back[i])
	}
	if reverse {
		for i, j := 0, len(front)-1; i < j; i, j = i+1, j-1 {
			front[i], front[j] = front[j], front[i]
		}
	}
	return front
}

type deltaItem struct {
	v     int
	delta int64
}

// deltaHeap pops the largest delta first, the lowest vertex on a tie.
type deltaHeap []deltaItem

func (h deltaHeap) Len() int { return len(h) }
func (h deltaHeap) Less(i, j int) bool {
	if h[i].delta != h[j].delta {
		return h[i].delta > h[j].delta
	}
	return h[i].v < h[j].v
}
func (h deltaHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *deltaHeap) Push(x any)   { *h = append(*h, x.(deltaItem)) }
func (h *deltaHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// maxSiftPasses bounds the local search; each pass that moves a vertex
// lowers the weight of the backward arcs, so it ends anyway.
const maxSiftPasses = 30

// sift improves order in place: each vertex in turn moves to the gap among
// the others where the weight of its backward arcs is least (on a tie it
// stays, or takes the first such gap), until a pass moves none.
func (f *fasGraph) sift(order []int) {
	pos := make([]int, f.n)
	for i, v := range order {
		pos[v] = i
	}
	type event struct {
		at    int
		delta int64
	}
	var events []event
	for pass := 0; pass < maxSiftPasses; pass++ {
		moved := false
		for _, v := range append([]int(nil), order...) {
			p := pos[v]
			// Gap t puts v before the t-th of the other vertices. An arc
			// x->v points backwards while v is before x, an arc v->y once
			// v is after y.
			events = events[:0]
			var cost int64
			idx := func(x int) int {
				if pos[x] < p {
					return pos[x]
				}
				return pos[x] - 1
			}
			for _, i := range f.in[v] {
				a := f.arcs[i]
				cost += a.weight
				events = append(events, event{idx(a.from) + 1, -a.weight})
			}
			for _, i := range f.out[v] {
				a := f.arcs[i]
				events = append(events, event{idx(a.to) + 1, a.weight})
			}
			sort.Slice(events, func(i, j int) bool { return events[i].at < events[j].at })
			curCost := cost
			for _, e := range events {
				if e.at <= p {
					curCost += e.delta
				}
			}
			bestT, bestCost := 0, cost
			for k := 0; k < len(events); {
				at := events[k].at
				for ; k < len(events) && events[k].at == at; k++ {
					cost += events[k].delta
				}
				if cost < bestCost {
					bestT, bestCost = at, cost
				}
			}
			if bestCost >= curCost {
				continue
			}
			moved = true
			move(order, pos, p, bestT)
		}
		if !moved {
			return
		}
	}
}

// move takes the vertex at position from out of order and puts it back in
// gap to (counted among the other vertices), updating pos.
func move(order, pos []int, from, to int) {
	v := order[from]
	if to < from {
		copy(order[to+1:from+1], order[to:from])
	} else {
		copy(order[from:to], order[from+1:to+1])
	}
	order[to] = v
	lo, hi := min(from, to), max(from, to)
	for i := lo; i <= hi; i++ {
		pos[order[i]] = i
	}
}

// backArcs returns the arcs that point backwards in order.
func (f *fasGraph) backArcs(order []int) []int {
	pos := make([]int, f.n)
	for i, v := range order {
		pos[v] = i
	}
	var back []int
	for i, a := range f.arcs {
		if pos[a.from] > pos[a.to] {
			back = append(back, i)
		}
	}
	return back
}

// minimize puts back every arc of cut that closes no cycle with the arcs
// kept (the heaviest first, then in arc order) and returns the rest,
// sorted.
func (f *fasGraph) minimize(cut []int) []int {
	isCut := make([]bool, len(f.arcs))
	for _, i := range cut {
		isCut[i] = true
	}
	try := append([]int(nil), cut...)
	sort.SliceStable(try, func(i, j int) bool { return f.arcs[try[i]].weight > f.arcs[try[j]].weight })
	seen := make([]int, f.n) // BFS stamp
	stamp := 0
	var queue []int
	reaches := func(from, to int) bool {
		stamp++
		queue = append(queue[:0], from)
		seen[from] = stamp
		for len(queue) > 0 {
			v := queue[0]
			queue = queue[1:]
			if v == to {
				return true
			}
			for _, i := range f.out[v] {
				if isCut[i] {
					continue
				}
				w := f.arcs[i].to
				if seen[w] != stamp {
					seen[w] = stamp
					queue = append(queue, w)
				}
			}
		}
		return false
	}
	for _, i := range try {
		a := f.arcs[i]
		if !reaches(a.to, a.from) {
			isCut[i] = false
		}
	}
	var out []int
	for i, c := range isCut {
		if c {
			out = append(out, i)
		}
	}
	return out
}

// disjointCyclesBudget bounds the arcs the lower bound looks at, so a huge
// component cannot make it slow; stopping early still gives a valid bound.
const disjointCyclesBudget = 20_000_000

// disjointCycles counts arc-disjoint cycles found greedily, the shortest
// first (two-cycles, then cycles of at most 3, 4, ... arcs through each
// vertex in turn): every feedback arc set has at least that many arcs, one
// per cycle.
func (f *fasGraph) disjointCycles() int {
	used := make([]bool, len(f.arcs))
	count := 0
	// Two-cycles first: they are the most common and the cheapest to find.
	pair := map[[2]int]int{}
	for i, a := range f.arcs {
		pair[[2]int{a.from, a.to}] = i
	}
	for i, a := range f.arcs {
		if j, ok := pair[[2]int{a.to, a.from}]; ok && !used[i] && !used[j] && i != j {
			used[i], used[j] = true, true
			count++
		}
	}
	prevArc := make([]int, f.n)
	seen := make([]int, f.n)
	depth := make([]int, f.n)
	stamp := 0
	budget := disjointCyclesBudget
	var queue []int
	// shortest finds a shortest cycle through s of at most maxLen arcs
	// among the unused ones, marks its arcs used and reports whether it
	// found one.
	shortest := func(s, maxLen int) bool {
		stamp++
		seen[s] = stamp
		depth[s] = 0
		queue = append(queue[:0], s)
		for len(queue) > 0 {
			v := queue[0]
			queue = queue[1:]
			if depth[v] >= maxLen {
				continue
			}
			for _, i := range f.out[v] {
				budget--
				if used[i] {
					continue
				}
				w := f.arcs[i].to
				if w == s {
					used[i] = true
					for v := f.arcs[i].from; v != s; v = f.arcs[prevArc[v]].from {
						used[prevArc[v]] = true
					}
					return true
				}
				if seen[w] != stamp {
					seen[w] = stamp
					prevArc[w] = i
					depth[w] = depth[v] + 1
					queue = append(queue, w)
				}
			}
		}
		return false
	}
	// Short cycles first, over the whole component, then longer ones:
	// a long cycle taken early would use arcs several short ones need.
	for maxLen := 3; maxLen <= f.n && budget > 0; maxLen++ {
		found := false
		for s := 0; s < f.n && budget > 0; s++ {
			for budget > 0 && shortest(s, maxLen) {
				count++
				found = true
			}
		}
		if !found && maxLen >= 8 {
			// Rarely any longer cycle is left: one last unbounded pass.
			for s := 0; s < f.n && budget > 0; s++ {
				for budget > 0 && shortest(s, f.n) {
					count++
				}
			}
			break
		}
	}
	return count
}
