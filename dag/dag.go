// Package dag holds the algorithms on directed acyclic graphs that the
// build-dependency graph and the scheduler share: a stable topological
// order, bottom levels, the critical path, descendant counts and the heap
// they order ready nodes with.
//
// A graph is given by adjacency lists over the nodes 0..n-1, both ways:
// Needs[v] lists the nodes v depends on (they come first), Dependents[v]
// the nodes that depend on v. Each list is free of duplicates and the two
// describe the same edges. The package keeps no state and never sorts by
// itself: every tie is broken by an order the caller gives, so results
// depend only on the graph and that order.
package dag

import "math/bits"

// Graph is a directed graph on the nodes 0..len(Needs)-1.
type Graph struct {
	// Needs[v] are the nodes v depends on.
	Needs [][]int
	// Dependents[v] are the nodes that depend on v.
	Dependents [][]int
}

// Len is the number of nodes.
func (g Graph) Len() int { return len(g.Needs) }

// TopoOrder returns the nodes in a topological order (every node after
// the nodes it needs) by Kahn's algorithm: among the nodes ready at a
// time, the least under less comes first, so the order depends only on
// the graph and less. On a graph with a cycle, the order is shorter than
// Len, and stuck lists (in node order) the nodes left out: those on a
// cycle and those that need one.
func (g Graph) TopoOrder(less func(a, b int) bool) (order, stuck []int) {
	n := g.Len()
	pending := make([]int, n)
	h := NewHeap(less)
	for v := range n {
		pending[v] = len(g.Needs[v])
		if pending[v] == 0 {
			h.Push(v)
		}
	}
	order = make([]int, 0, n)
	for h.Len() > 0 {
		v := h.Pop()
		order = append(order, v)
		for _, w := range g.Dependents[v] {
			pending[w]--
			if pending[w] == 0 {
				h.Push(w)
			}
		}
	}
	if len(order) < n {
		for v := range n {
			if pending[v] > 0 {
				stuck = append(stuck, v)
			}
		}
	}
	return order, stuck
}

// BottomLevels returns, for each node, its cost plus the largest bottom
// level among its dependents: the length of the longest chain of work
// that starts with the node and runs through the nodes that need it,
// transitively. order must be a topological order of the graph (from
// TopoOrder).
func (g Graph) BottomLevels(order []int, cost func(v int) float64) []float64 {
	bl := make([]float64, g.Len())
	for k := len(order) - 1; k >= 0; k-- {
		v := order[k]
		best := 0.0
		for _, w := range g.Dependents[v] {
			best = max(best, bl[w])
		}
		bl[v] = cost(v) + best
	}
	return bl
}

// CriticalPath returns the longest chain of work and its length: it starts
// at the node with the largest bottom level (the first of starts, in that
// order, on a tie) and follows, each time, the dependent with the largest
// bottom level (the first in Dependents on a tie). It is nil for no
// starts.
func (g Graph) CriticalPath(starts []int, bl []float64) ([]int, float64) {
	start := -1
	for _, v := range starts {
		if start < 0 || bl[v] > bl[start] {
			start = v
		}
	}
	if start < 0 {
		return nil, 0
	}
	path := []int{start}
	for v := start; ; {
		next := -1
		for _, w := range g.Dependents[v] {
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

// Descendants counts, for each node, the nodes that need it directly or
// transitively. order must be a topological order of the graph.
func (g Graph) Descendants(order []int) []int {
	n := g.Len()
	words := (n + 63) / 64
	sets := make([][]uint64, n)
	count := make([]int, n)
	for k := len(order) - 1; k >= 0; k-- {
		v := order[k]
		s := make([]uint64, words)
		for _, w := range g.Dependents[v] {
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
