package graph

import (
	"fmt"
	"sort"
	"strings"

	"github.com/stx-build/stx-build/dag"
)

// firstEdge returns the first (sorted) edge from -> to.
func (g *Graph) firstEdge(from, to string) Edge {
	i := sort.Search(len(g.Edges), func(i int) bool {
		e := g.Edges[i]
		return e.From > from || (e.From == from && e.To >= to)
	})
	if i < len(g.Edges) && g.Edges[i].From == from && g.Edges[i].To == to {
		return g.Edges[i]
	}
	return Edge{From: from, To: to}
}

// dag is the graph as the shared DAG algorithms take it.
func (g *Graph) dag() dag.Graph { return dag.Graph{Needs: g.deps, Dependents: g.rdeps} }

// topoOrder is Kahn's algorithm with ties broken by node index (= name
// order), so the order depends only on the graph. It is called on an
// acyclic graph only.
func (g *Graph) topoOrder() []string {
	order, _ := g.dag().TopoOrder(func(a, b int) bool { return a < b })
	return g.names(order)
}

// computeBottomLevels sets, for every node, its bottom level: its cost
// plus the largest bottom level of the packages that build-depend on it,
// i.e. the cost of the longest chain of builds that starts with it and
// runs through the packages that (transitively) need it. The graph uses
// it for the critical path and shows it; the scheduler computes its own
// bottom levels from predicted durations (tmpfs or disk), not from Cost.
func (g *Graph) computeBottomLevels() {
	order := make([]int, len(g.Order))
	for k, name := range g.Order {
		order[k] = g.index[name]
	}
	g.bl = g.dag().BottomLevels(order, func(v int) float64 { return g.Nodes[v].Cost })
}

// BottomLevel returns the bottom level of name: the cost of the longest
// chain of builds that starts with it and runs through the packages that
// (transitively) build-depend on it; 0 for an unknown name or a cyclic
// graph.
func (g *Graph) BottomLevel(name string) float64 {
	i, ok := g.index[name]
	if !ok || g.bl == nil {
		return 0
	}
	return g.bl[i]
}

// CriticalPath returns the longest chain of builds, in build order, and its
// total cost; on a tie it starts from the first package by name. It is nil
// for an empty or cyclic graph.
func (g *Graph) CriticalPath() ([]string, float64) {
	if len(g.Nodes) == 0 || g.bl == nil {
		return nil, 0
	}
	starts := make([]int, len(g.Nodes))
	for i := range starts {
		starts[i] = i
	}
	path, total := g.dag().CriticalPath(starts, g.bl)
	return g.names(path), total
}

// Direction selects how a subgraph grows from its roots.
type Direction int

const (
	// Needs selects the roots and everything they build-depend on, transitively.
	Needs Direction = iota
	// Dependents selects the roots and everything that build-depends on them,
	// transitively: what must be rebuilt when a root changes.
	Dependents
)

// Select returns the subgraph reachable from roots in direction dir. It
// errors on an unknown root name.
func (g *Graph) Select(roots []string, dir Direction) (*Graph, error) {
	adj := g.deps
	if dir == Dependents {
		adj = g.rdeps
	}
	keep := make([]bool, len(g.Nodes))
	var queue []int
	var unknown []string
	for _, r := range roots {
		i, ok := g.index[r]
		if !ok {
			unknown = append(unknown, r)
			continue
		}
		if !keep[i] {
			keep[i] = true
			queue = append(queue, i)
		}
	}
	if len(unknown) > 0 {
		return nil, fmt.Errorf("unknown package(s) on %s: %s", g.Arch, strings.Join(unknown, ", "))
	}
	for len(queue) > 0 {
		v := queue[0]
		queue = queue[1:]
		for _, w := range adj[v] {
			if !keep[w] {
				keep[w] = true
				queue = append(queue, w)
			}
		}
	}
	return g.subgraph(keep), nil
}

// subgraph copies the nodes marked in keep with the edges among them.
func (g *Graph) subgraph(keep []bool) *Graph {
	s := &Graph{Arch: g.Arch, index: map[string]int{}, Warnings: g.Warnings, Cycles: g.Cycles}
	remap := make([]int, len(g.Nodes))
	for i, n := range g.Nodes {
		remap[i] = -1
		if !keep[i] {
			continue
		}
		remap[i] = len(s.Nodes)
		s.index[n.Name] = len(s.Nodes)
		c := *n
		s.Nodes = append(s.Nodes, &c)
	}
	for _, e := range g.Edges {
		if keep[g.index[e.From]] && keep[g.index[e.To]] {
			s.Edges = append(s.Edges, e)
		}
	}
	for _, x := range g.External {
		if keep[g.index[x.Package]] {
			s.External = append(s.External, x)
		}
	}
	for _, c := range g.Cut {
		if keep[g.index[c.From]] {
			s.Cut = append(s.Cut, c)
		}
	}
	s.deps = make([][]int, len(s.Nodes))
	s.rdeps = make([][]int, len(s.Nodes))
	for i := range g.Nodes {
		if remap[i] < 0 {
			continue
		}
		for _, w := range g.deps[i] {
			if remap[w] >= 0 {
				s.deps[remap[i]] = append(s.deps[remap[i]], remap[w])
				s.rdeps[remap[w]] = append(s.rdeps[remap[w]], remap[i])
			}
		}
	}
	for i, n := range s.Nodes {
		sort.Ints(s.rdeps[i])
		n.Deps = s.names(s.deps[i])
		n.Dependents = s.names(s.rdeps[i])
	}
	if g.Order != nil {
		for _, name := range g.Order {
			if _, ok := s.index[name]; ok {
				s.Order = append(s.Order, name)
			}
		}
		s.computeBottomLevels()
	}
	return s
}

// Why returns a shortest chain of build-dependency edges by which from
// (transitively) build-depends on to, or an error when it does not.
func (g *Graph) Why(from, to string) ([]Edge, error) {
	a, ok := g.index[from]
	if !ok {
		return nil, fmt.Errorf("unknown package %q on %s", from, g.Arch)
	}
	b, ok := g.index[to]
	if !ok {
		return nil, fmt.Errorf("unknown package %q on %s", to, g.Arch)
	}
	prev := make([]int, len(g.Nodes))
	for i := range prev {
		prev[i] = -1
	}
	prev[a] = a
	queue := []int{a}
	for len(queue) > 0 && prev[b] < 0 {
		v := queue[0]
		queue = queue[1:]
		for _, w := range g.deps[v] {
			if prev[w] < 0 {
				prev[w] = v
				queue = append(queue, w)
			}
		}
	}
	if prev[b] < 0 || a == b {
		return nil, fmt.Errorf("%s does not build-depend on %s on %s", from, to, g.Arch)
	}
	var chain []Edge
	for v := b; v != a; v = prev[v] {
		chain = append(chain, g.firstEdge(g.Nodes[prev[v]].Name, g.Nodes[v].Name))
	}
	for i, j := 0, len(chain)-1; i < j; i, j = i+1, j-1 {
		chain[i], chain[j] = chain[j], chain[i]
	}
	return chain, nil
}
