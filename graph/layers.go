package graph

import "fmt"

// ViaLayer is the Via of an ordering edge added for layers (Options.Layers):
// it stands for no build-dependency, only for the order of the layers.
const ViaLayer = "(layer)"

// addLayerEdges orders each source after the sources of lower layers
// (opts.LayerOrder, lowest first) where the build-dependency edges leave
// the two unordered: A of a higher layer gets an edge to each source B of
// a lower layer that no other lower-layer source depends on (the rest
// follow through B), unless A already depends on B through other edges
// (sources are taken dependencies first, so those of A's own layer that A
// needs carry the order for it), or B on A (then the build-dependencies
// decide, and nothing is added).
// The graph stays acyclic: an edge is only added where its target cannot
// reach its source.
func (g *Graph) addLayerEdges(opts Options) {
	if len(opts.Layers) == 0 || len(opts.LayerOrder) < 2 {
		return
	}
	rank := map[string]int{}
	for i, l := range opts.LayerOrder {
		rank[l] = i + 1
	}
	r := make([]int, len(g.Nodes)) // 0: no layer, not ordered
	for i, n := range g.Nodes {
		r[i] = rank[opts.Layers[n.Name]]
	}
	added := false
	// Dependencies first: a source whose own dependency of its layer is
	// already ordered after the lower layers needs no edge of its own.
	for _, name := range g.topoOrder() {
		a := g.index[name]
		if r[a] < 2 {
			continue
		}
		for _, t := range g.layerTops(r, r[a]) {
			if g.reaches(a, t) || g.reaches(t, a) {
				continue
			}
			g.Edges = append(g.Edges, Edge{From: g.Nodes[a].Name, To: g.Nodes[t].Name, Via: ViaLayer,
				Relation: fmt.Sprintf("layer %s after %s", opts.Layers[g.Nodes[a].Name], opts.Layers[g.Nodes[t].Name])})
			g.deps[a] = append(g.deps[a], t)
			added = true
		}
	}
	if added {
		g.finishEdges()
	}
}

// layerTops are the sources of a layer below rank that no other source
// of such a layer depends on directly.
func (g *Graph) layerTops(r []int, rank int) []int {
	below := func(i int) bool { return r[i] > 0 && r[i] < rank }
	needed := make([]bool, len(g.Nodes))
	for i := range g.Nodes {
		if !below(i) {
			continue
		}
		for _, j := range g.deps[i] {
			if j != i {
				needed[j] = true
			}
		}
	}
	var tops []int
	for i := range g.Nodes {
		if below(i) && !needed[i] {
			tops = append(tops, i)
		}
	}
	return tops
}

// reaches reports whether from depends on to, directly or not.
func (g *Graph) reaches(from, to int) bool {
	seen := make([]bool, len(g.Nodes))
	stack := []int{from}
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if n == to {
			return true
		}
		for _, d := range g.deps[n] {
			if !seen[d] {
				seen[d] = true
				stack = append(stack, d)
			}
		}
	}
	return false
}
