package graph

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// jsonGraph is the documented machine-readable form of a Graph.
type jsonGraph struct {
	Arch         string       `json:"arch"`
	Nodes        []jsonNode   `json:"nodes"`
	Edges        []Edge       `json:"edges"`
	Order        []string     `json:"order"`
	External     []External   `json:"external"`
	CriticalPath jsonCritical `json:"critical_path"`
	Warnings     []string     `json:"warnings"`
	// Cycles are the cycles of the graph as declared, one per strongly
	// connected component; SuggestedBreaks a complete set of breaks for
	// them, BreaksLowerBound how many entries any complete set needs at
	// least. CutEdges are the edges taken from the archive instead.
	Cycles           []jsonCycle      `json:"cycles"`
	SuggestedBreaks  []SuggestedBreak `json:"suggested_breaks"`
	BreaksLowerBound int              `json:"breaks_lower_bound"`
	CutEdges         []CutEdge        `json:"cut_edges"`
	// Unresolved are the project's packages left out of the graph because
	// their sources could not be read (a partial world).
	Unresolved []Unresolved `json:"unresolved"`
}

type jsonCycle struct {
	// Packages is the whole strongly connected component.
	Packages []string `json:"packages"`
	// Cycle is a shortest cycle through its first package.
	Cycle []Edge `json:"cycle"`
}

type jsonNode struct {
	Name        string   `json:"name"`
	Version     string   `json:"version"`
	Binaries    []string `json:"binaries"`
	BuildsArch  bool     `json:"builds_arch"`
	BuildsIndep bool     `json:"builds_indep"`
	Cost        float64  `json:"cost"`
	Deps        []string `json:"deps"`
	Dependents  []string `json:"dependents"`
}

type jsonCritical struct {
	Packages []string `json:"packages"`
	Cost     float64  `json:"cost"`
}

// MarshalJSON renders the graph in its documented JSON form (empty lists
// as [], never null, so consumers need no special cases).
func (g *Graph) MarshalJSON() ([]byte, error) {
	out := jsonGraph{
		Arch:       g.Arch,
		Nodes:      make([]jsonNode, 0, len(g.Nodes)),
		Edges:      nonNil(g.Edges),
		Order:      nonNil(g.Order),
		External:   nonNil(g.External),
		Warnings:   nonNil(g.Warnings),
		Cycles:     []jsonCycle{},
		CutEdges:   nonNil(g.Cut),
		Unresolved: nonNil(g.Unresolved),
	}
	if c := g.Cycles; c != nil {
		for i := range c.Shown {
			out.Cycles = append(out.Cycles, jsonCycle{Packages: c.Components[i], Cycle: c.Shown[i]})
		}
		out.SuggestedBreaks = c.Breaks
		out.BreaksLowerBound = c.Bound.LowerBound
	}
	out.SuggestedBreaks = nonNil(out.SuggestedBreaks)
	for _, n := range g.Nodes {
		out.Nodes = append(out.Nodes, jsonNode{
			Name: n.Name, Version: n.Version, Binaries: nonNil(n.Binaries), BuildsArch: n.BuildsArch, BuildsIndep: n.BuildsIndep,
			Cost: n.Cost, Deps: nonNil(n.Deps), Dependents: nonNil(n.Dependents),
		})
	}
	path, cost := g.CriticalPath()
	out.CriticalPath = jsonCritical{Packages: nonNil(path), Cost: cost}
	return json.Marshal(out)
}

func nonNil[T any](xs []T) []T {
	if xs == nil {
		return []T{}
	}
	return xs
}

// WriteJSON writes one graph as an indented JSON object, or several as an
// array of them, followed by a newline.
func WriteJSON(w io.Writer, gs ...*Graph) error {
	var v any = gs
	if len(gs) == 1 {
		v = gs[0]
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// WriteText writes a human-readable summary: the build order with each
// package's local build-deps, the critical path, external build-deps and
// warnings.
func WriteText(w io.Writer, g *Graph) error {
	ew := &errWriter{w: w}
	ew.printf("%s: %d packages, %d edges, %d external build-deps\n", g.Arch, len(g.Nodes), len(g.Edges), len(g.External))
	ew.printf("\nbuild order:\n")
	vias := map[string][]string{}
	for _, e := range g.Edges {
		vias[e.From] = append(vias[e.From], e.To+" ("+e.Via+")")
	}
	for i, name := range g.Order {
		n := g.Node(name)
		ew.printf("  %3d. %s %s", i+1, n.Name, n.Version)
		if v := vias[name]; len(v) > 0 {
			ew.printf("  <- %s", strings.Join(v, ", "))
		}
		ew.printf("\n")
	}
	if path, cost := g.CriticalPath(); len(path) > 0 {
		ew.printf("\ncritical path (cost %s): %s\n", formatCost(cost), strings.Join(path, " -> "))
	}
	if len(g.External) > 0 {
		ew.printf("\nexternal build-deps (from the archive):\n")
		for _, x := range g.External {
			ew.printf("  %s: %s", x.Package, x.Relation)
			if x.Note != "" {
				ew.printf("  [%s]", x.Note)
			}
			ew.printf("\n")
		}
	}
	writeCut(ew, g)
	if len(g.Unresolved) > 0 {
		ew.printf("\nunresolved (left out of the graph; their build-deps and what needs them are unknown):\n")
		for _, u := range g.Unresolved {
			ew.printf("  %s: %s\n", u.Package, u.Reason)
		}
	}
	for _, warn := range g.Warnings {
		ew.printf("warning: %s\n", warn)
	}
	return ew.err
}

// writeCut lists the edges taken from the archive: self build-dependencies
// as notes, and the breaks cycles: archive applied.
func writeCut(ew *errWriter, g *Graph) {
	var self, policy []CutEdge
	for _, c := range g.Cut {
		if c.From == c.To {
			self = append(self, c)
		} else {
			policy = append(policy, c)
		}
	}
	for _, c := range self {
		ew.printf("note: %s: %s\n", c.From, c.Reason)
	}
	if len(policy) == 0 {
		return
	}
	c := g.Cycles
	ew.printf("\ncycles: archive: %s applied to %s (%s):\n",
		plural(len(c.Breaks), "cycle-break", "cycle-breaks"), plural(len(c.Shown), "cycle component", "cycle components"), boundString(c.Bound))
	for _, e := range policy {
		ew.printf("  %s -> %s (via %s): %s\n", e.From, e.To, e.Via, strings.TrimPrefix(e.Reason, cutPrefix))
	}
}

// WriteDot writes the graph in Graphviz dot syntax; edges point from a
// package to the package it build-depends on, labelled with the binary.
// Critical-path nodes are drawn bold.
func WriteDot(w io.Writer, g *Graph) error {
	ew := &errWriter{w: w}
	crit := map[string]bool{}
	path, _ := g.CriticalPath()
	for _, p := range path {
		crit[p] = true
	}
	ew.printf("digraph %s {\n  rankdir=LR;\n  node [shape=box];\n", strconv.Quote("stx-build-"+g.Arch))
	for _, n := range g.Nodes {
		attrs := fmt.Sprintf("label=%s", strconv.Quote(n.Name+"\n"+n.Version))
		if crit[n.Name] {
			attrs += ", style=bold"
		}
		ew.printf("  %s [%s];\n", strconv.Quote(n.Name), attrs)
	}
	for _, e := range g.Edges {
		ew.printf("  %s -> %s [label=%s];\n", strconv.Quote(e.From), strconv.Quote(e.To), strconv.Quote(e.Via))
	}
	ew.printf("}\n")
	return ew.err
}

// WriteWhy writes a chain from Why, one edge a line.
func WriteWhy(w io.Writer, chain []Edge) error {
	ew := &errWriter{w: w}
	for _, e := range chain {
		ew.printf("%s build-depends on %s via %s (%s)\n", e.From, e.To, e.Via, e.Relation)
	}
	return ew.err
}

func formatCost(c float64) string {
	return strconv.FormatFloat(c, 'f', -1, 64)
}

type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) printf(format string, args ...any) {
	if e.err == nil {
		_, e.err = fmt.Fprintf(e.w, format, args...)
	}
}

// Formats are the formats Write writes.
var Formats = []string{"text", "dot", "json"}

// Write writes the graphs of one or more architectures in format: text
// (a blank line between architectures), dot (one digraph each) or json
// (one object for one graph, an array for several, so a consumer that
// asks for one architecture always gets an object).
func Write(w io.Writer, format string, gs []*Graph) error {
	switch format {
	case "text":
		for i, g := range gs {
			if i > 0 {
				if _, err := fmt.Fprintln(w); err != nil {
					return err
				}
			}
			if err := WriteText(w, g); err != nil {
				return err
			}
		}
		return nil
	case "dot":
		for _, g := range gs {
			if err := WriteDot(w, g); err != nil {
				return err
			}
		}
		return nil
	case "json":
		return WriteJSON(w, gs...)
	}
	return fmt.Errorf("graph format %q: want one of %v", format, Formats)
}
