package graph

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Cycles describes the build-dependency cycles of a graph and one complete
// set of breaks for all of them.
type Cycles struct {
	// Shown holds, for each strongly connected component, a shortest cycle
	// through its first package by name: a closed chain of edges,
	// Shown[i][0].From == Shown[i][len-1].To. Components are ordered by
	// their first package.
	Shown [][]Edge
	// Components lists every package of each component: breaking the shown
	// cycle alone may leave another one among these.
	Components [][]string
	// Breaks is a complete set of cycle-breaks entries: with all of them in
	// place the graph is acyclic. Sorted by package, then source.
	Breaks []SuggestedBreak
	// Bound says how close Breaks is to the fewest possible entries.
	Bound BreakBound
}

// SuggestedBreak is one suggested cycle-breaks entry: when building
// Package, take Binary, or every binary of Source, from the archive. It
// cuts every edge from Package to the source that builds Binary; Source is
// used when Package build-depends on several of that source's binaries.
type SuggestedBreak struct {
	Package string `json:"package"`
	Binary  string `json:"binary,omitempty"`
	Source  string `json:"source,omitempty"`
	// Reason names a cycle the entry breaks and, when the archive's
	// binaries are known, whether the archive satisfies the relations.
	Reason string `json:"reason"`

	from, to int // node indices of the edge it cuts
}

// CycleBreak returns the entry as a compile option.
func (b SuggestedBreak) CycleBreak() CycleBreak {
	return CycleBreak{Package: b.Package, Binary: b.Binary, Source: b.Source}
}

// BreakBound compares the size of a set of breaks with a lower bound.
type BreakBound struct {
	// Entries is the number of suggested entries (one per package-to-package
	// edge cut).
	Entries int `json:"entries"`
	// LowerBound is the number of edge-disjoint cycles found: every complete
	// set of breaks needs at least one entry for each.
	LowerBound int `json:"lower_bound"`
}

// CycleError reports build-dependency cycles: one cycle per strongly
// connected component, and a complete set of breaks.
type CycleError struct {
	Arch   string
	Cycles [][]Edge
	// Components lists, for each cycle, every package of its strongly
	// connected component.
	Components [][]string
	// Breaks is a complete set of cycle-breaks entries (see Cycles.Breaks).
	Breaks []SuggestedBreak
	Bound  BreakBound
}

func (e *CycleError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "build-dependency cycle")
	if len(e.Cycles) > 1 {
		fmt.Fprintf(&b, "s (%d)", len(e.Cycles))
	}
	fmt.Fprintf(&b, " on %s:", e.Arch)
	for i, c := range e.Cycles {
		b.WriteString("\n  ")
		b.WriteString(cycleString(c))
		if i < len(e.Components) && len(e.Components[i]) > len(c) {
			b.WriteString("\n    " + componentString(e.Components[i]))
		}
	}
	fmt.Fprintf(&b, "\nbreak every cycle at once with %s (%s), in stx.yaml:\n", plural(len(e.Breaks), "entry", "entries"), boundString(e.Bound))
	writeBreaks(&b, e.Breaks)
	return strings.TrimSuffix(b.String(), "\n")
}

// maxNamed is how many packages of a component the error names: the
// largest components of Debian have hundreds (the JSON output lists all).
const maxNamed = 12

func componentString(comp []string) string {
	if len(comp) <= maxNamed {
		return fmt.Sprintf("(all of %s depend on each other)", strings.Join(comp, ", "))
	}
	return fmt.Sprintf("(all %d packages of %s, and %d more, depend on each other; --format json lists them)",
		len(comp), strings.Join(comp[:maxNamed], ", "), len(comp)-maxNamed)
}

func boundString(b BreakBound) string {
	if b.Entries <= b.LowerBound {
		return "the fewest possible"
	}
	return fmt.Sprintf("at least %d needed: %s found", b.LowerBound, plural(b.LowerBound, "edge-disjoint cycle", "edge-disjoint cycles"))
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

// writeBreaks writes breaks as a cycle-breaks block of stx.yaml, indented
// by two spaces.
func writeBreaks(b *strings.Builder, breaks []SuggestedBreak) {
	b.WriteString("  cycle-breaks:\n")
	for _, br := range breaks {
		fmt.Fprintf(b, "    - package: %s\n", br.Package)
		if br.Source != "" {
			fmt.Fprintf(b, "      source: %s\n", br.Source)
		} else {
			fmt.Fprintf(b, "      binary: %s\n", br.Binary)
		}
		// Quoted: reasons hold ": " and "#" would start a comment.
		fmt.Fprintf(b, "      reason: %s\n", strconv.Quote(br.Reason))
	}
}

// cycleString renders a closed chain of edges as "a -> b (via x) -> a (via y)".
func cycleString(c []Edge) string {
	var b strings.Builder
	b.WriteString(c[0].From)
	for _, ed := range c {
		fmt.Fprintf(&b, " -> %s (via %s)", ed.To, ed.Via)
	}
	return b.String()
}

// findCycles returns nil when the graph is acyclic, else its components
// with a cycle, a shortest cycle of each and a complete set of breaks.
func (g *Graph) findCycles() *Cycles {
	sccs := g.components()
	if len(sccs) == 0 {
		return nil
	}
	c := &Cycles{}
	for _, comp := range sccs {
		c.Shown = append(c.Shown, g.shortestCycle(comp))
		c.Components = append(c.Components, g.names(comp))
		breaks, lower := g.breakComponent(comp)
		c.Breaks = append(c.Breaks, breaks...)
		c.Bound.LowerBound += lower
	}
	sort.Slice(c.Breaks, func(i, j int) bool {
		a, b := c.Breaks[i], c.Breaks[j]
		if a.Package != b.Package {
			return a.Package < b.Package
		}
		return g.Nodes[a.to].Name < g.Nodes[b.to].Name
	})
	c.Bound.Entries = len(c.Breaks)
	return c
}

// components returns the strongly connected components with more than one
// node (Tarjan's algorithm), each sorted, ordered by their first node.
func (g *Graph) components() [][]int {
	n := len(g.Nodes)
	index := make([]int, n)
	low := make([]int, n)
	onStack := make([]bool, n)
	for i := range index {
		index[i] = -1
	}
	var stack []int
	var sccs [][]int
	next := 0
	var strong func(v int)
	strong = func(v int) {
		index[v], low[v] = next, next
		next++
		stack = append(stack, v)
		onStack[v] = true
		for _, w := range g.deps[v] {
			if index[w] < 0 {
				strong(w)
				low[v] = min(low[v], low[w])
			} else if onStack[w] {
				low[v] = min(low[v], index[w])
			}
		}
		if low[v] == index[v] {
			var comp []int
			for {
				w := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				onStack[w] = false
				comp = append(comp, w)
				if w == v {
					break
				}
			}
			if len(comp) > 1 {
				sort.Ints(comp)
				sccs = append(sccs, comp)
			}
		}
	}
	for v := 0; v < n; v++ {
		if index[v] < 0 {
			strong(v)
		}
	}
	sort.Slice(sccs, func(i, j int) bool { return sccs[i][0] < sccs[j][0] })
	return sccs
}

// shortestCycle finds a shortest cycle through the smallest node of comp,
// staying inside comp.
func (g *Graph) shortestCycle(comp []int) []Edge {
	in := make(map[int]bool, len(comp))
	for _, v := range comp {
		in[v] = true
	}
	start := comp[0]
	// The closing edge is some v -> start; find the nearest such v.
	path := g.path(in, start, func(v int) bool { return containsInt(g.deps[v], start) })
	return g.chainEdges(append(path, start))
}

// path returns a shortest chain of nodes from start (included) to the first
// node reached, inside in, for which stop holds, following build-deps.
func (g *Graph) path(in map[int]bool, start int, stop func(int) bool) []int {
	prev := map[int]int{start: start}
	queue := []int{start}
	for len(queue) > 0 {
		v := queue[0]
		queue = queue[1:]
		if stop(v) {
			var p []int
			for ; v != start; v = prev[v] {
				p = append(p, v)
			}
			p = append(p, start)
			for i, j := 0, len(p)-1; i < j; i, j = i+1, j-1 {
				p[i], p[j] = p[j], p[i]
			}
			return p
		}
		for _, w := range g.deps[v] {
			if _, seen := prev[w]; !seen && in[w] {
				prev[w] = v
				queue = append(queue, w)
			}
		}
	}
	return nil
}

// chainEdges returns the first edge between each two consecutive nodes.
func (g *Graph) chainEdges(nodes []int) []Edge {
	edges := make([]Edge, len(nodes)-1)
	for i := range edges {
		edges[i] = g.firstEdge(g.Nodes[nodes[i]].Name, g.Nodes[nodes[i+1]].Name)
	}
	return edges
}

func containsInt(xs []int, x int) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// The weight of cutting the edges from one package to another: an entry
// costs edgeWeight, plus buildWeight when the build needs them (not only
// its tests, <!nocheck>), plus one for each relation it takes from the
// archive; so the fewest entries win, then those only the tests need, then
// the fewest relations. Edges whose relation the archive is not known to
// satisfy cost notInArchiveWeight: more than all other edges of any
// component together, so they are cut only when they must be.
const (
	edgeWeight         = 1 << 16
	buildWeight        = 1 << 8
	notInArchiveWeight = 1 << 40
)

// breakComponent computes the breaks of one strongly connected component
// and the number of edge-disjoint cycles found in it.
func (g *Graph) breakComponent(comp []int) ([]SuggestedBreak, int) {
	local := make(map[int]int, len(comp))
	for i, v := range comp {
		local[v] = i
	}
	// The search runs twice: with the weights, and without the preference
	// for edges only tests need, which sometimes finds fewer entries; the
	// lighter result by the weights wins.
	var arcs, plain []arc
	for _, u := range comp {
		for _, v := range g.deps[u] {
			lv, ok := local[v]
			if !ok {
				continue
			}
			w := int64(edgeWeight + min(len(g.edgesBetween(g.Nodes[u].Name, g.Nodes[v].Name)), buildWeight-1))
			pw := w
			if g.buildNeeds[[2]int{u, v}] {
				w += buildWeight
			}
			if g.notInArchive[[2]int{u, v}] {
				w, pw = notInArchiveWeight, notInArchiveWeight
			}
			arcs = append(arcs, arc{from: lv, to: local[u], weight: w}) // v before u
			plain = append(plain, arc{from: lv, to: local[u], weight: pw})
		}
	}
	f := newFASGraph(len(comp), arcs)
	cut := f.feedbackArcs()
	if other := newFASGraph(len(comp), plain).feedbackArcs(); f.weight(other) < f.weight(cut) {
		cut = other
	}
	in := make(map[int]bool, len(comp))
	for _, v := range comp {
		in[v] = true
	}
	var breaks []SuggestedBreak
	for _, i := range cut {
		u, v := comp[arcs[i].to], comp[arcs[i].from]
		breaks = append(breaks, g.suggest(in, u, v))
	}
	return breaks, f.disjointCycles()
}

// suggest returns the entry cutting u -> v, with a cycle through it as the
// reason.
func (g *Graph) suggest(in map[int]bool, u, v int) SuggestedBreak {
	from, to := g.Nodes[u].Name, g.Nodes[v].Name
	edges := g.edgesBetween(from, to)
	b := SuggestedBreak{Package: from, from: u, to: v}
	var vias []string
	for _, e := range edges {
		if len(vias) == 0 || vias[len(vias)-1] != e.Via {
			vias = append(vias, e.Via)
		}
	}
	if len(vias) == 1 {
		b.Binary = vias[0]
	} else {
		b.Source = to
	}
	back := g.path(in, v, func(w int) bool { return w == u })
	cycle := append([]Edge{edges[0]}, g.chainEdges(back)...)
	b.Reason = "breaks " + cycleString(cycle)
	if len(vias) > 1 {
		b.Reason = fmt.Sprintf("%s build-depends on %s of %s; %s", from, strings.Join(vias, ", "), to, b.Reason)
	}
	if !g.buildNeeds[[2]int{u, v}] {
		b.Reason += "; only the tests need it (<!nocheck>)"
	}
	if g.notInArchive[[2]int{u, v}] {
		b.Reason += "; the archive is not known to satisfy every relation cut: check it"
	}
	return b
}

// edgesBetween returns the edges from -> to (sorted by Via).
func (g *Graph) edgesBetween(from, to string) []Edge {
	i := sort.Search(len(g.Edges), func(i int) bool {
		e := g.Edges[i]
		return e.From > from || (e.From == from && e.To >= to)
	})
	j := i
	for j < len(g.Edges) && g.Edges[j].From == from && g.Edges[j].To == to {
		j++
	}
	return g.Edges[i:j]
}

// cutPrefix starts the reason of an edge cut by the cycles: archive policy.
const cutPrefix = "cycles: archive: "

// cutBreaks applies c.Breaks (cycles: archive): the relations of the edges
// they cut are resolved from the archive, and listed in Cut with the
// entry's reason.
func (g *Graph) cutBreaks(c *Cycles) {
	cut := make(map[[2]string]string, len(c.Breaks))
	for _, b := range c.Breaks {
		cut[[2]string{b.Package, g.Nodes[b.to].Name}] = b.Reason
	}
	kept := g.Edges[:0]
	for _, e := range g.Edges {
		reason, ok := cut[[2]string{e.From, e.To}]
		if !ok {
			kept = append(kept, e)
			continue
		}
		g.Cut = append(g.Cut, CutEdge{Edge: e, Reason: cutPrefix + reason})
		g.External = append(g.External, External{Package: e.From, Relation: e.Relation, Note: e.Via + " taken from the archive (cycles: archive)"})
	}
	g.Edges = kept
	g.link()
}
