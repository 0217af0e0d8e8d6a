package graph_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stx-build/stx-build/debsrc"
	"github.com/stx-build/stx-build/graph"
)

// fuzzSeparator splits one fuzz input into several control files.
const fuzzSeparator = "\n###\n"

// FuzzCompile compiles the sources of fuzzed control files (several per
// input, split at fuzzSeparator) for every kind of build, and checks what
// Compile promises: nodes sorted, every edge between nodes, and an order
// that puts every source after the ones it build-depends on.
func FuzzCompile(f *testing.F) {
	// Small real sources, so that the fuzzer spends its time mutating
	// rather than minimizing: gettext and xz-utils need each other.
	var small [][]byte
	for _, name := range []string{"gettext", "xz-utils", "hello", "tree", "libpng1.6", "zlib", "libxml2", "libtasn1-6"} {
		data, err := os.ReadFile(filepath.Join("testdata", "control", name+".control"))
		if err != nil {
			f.Fatal(err)
		}
		small = append(small, data)
	}
	for i := 0; i+1 < len(small); i += 2 {
		f.Add(bytes.Join(small[i:i+2], []byte(fuzzSeparator)), uint8(i))
	}
	f.Add(bytes.Join(small[:4], []byte(fuzzSeparator)), uint8(3))
	f.Add([]byte("Source: a\nBuild-Depends: b-dev (>= 1), c:native <!nocheck>\n\nPackage: a\nArchitecture: any\n"+fuzzSeparator+
		"Source: b\nBuild-Depends: a\n\nPackage: b-dev\nArchitecture: all\nProvides: c (= 1.0)\n"), uint8(7))
	f.Fuzz(func(t *testing.T, data []byte, mode uint8) {
		if len(data) > 32<<10 {
			return // more of the same: slower, not deeper
		}
		var srcs []graph.Source
		for _, part := range bytes.Split(data, []byte(fuzzSeparator)) {
			s, err := debsrc.ParseControl("control", part, "1.0-1")
			if err == nil {
				srcs = append(srcs, s)
			}
		}
		opts := graph.Options{Arch: []string{"amd64", "arm64"}[mode&1], Indep: mode&2 != 0}
		if mode&4 != 0 {
			opts.BuildArch = "amd64"
			opts.Profiles = []string{"cross", "nocheck"}
		}
		if mode&8 != 0 && len(srcs) > 0 {
			opts.CycleBreaks = []graph.CycleBreak{{Package: srcs[0].Name, Binary: srcs[len(srcs)-1].Name}}
		}
		if mode&16 != 0 {
			opts.Cycles = graph.CyclesArchive
		}
		g, err := graph.Compile(srcs, opts)
		var cycle *graph.CycleError
		switch {
		case err == nil:
			if len(g.Order) != len(g.Nodes) {
				t.Fatalf("order has %d of %d sources", len(g.Order), len(g.Nodes))
			}
		case errors.As(err, &cycle):
			if g == nil || len(g.Order) != 0 {
				t.Fatalf("cycle error with an order: %v", err)
			}
			// The suggested block, applied once, leaves no cycle.
			for _, b := range cycle.Breaks {
				opts.CycleBreaks = append(opts.CycleBreaks, b.CycleBreak())
			}
			if _, err := graph.Compile(srcs, opts); err != nil {
				t.Fatalf("suggested breaks applied: %v", err)
			}
		default:
			return // unusable input, such as a source declared twice
		}
		checkFuzzedGraph(t, g)
	})
}

func checkFuzzedGraph(t *testing.T, g *graph.Graph) {
	t.Helper()
	for i := 1; i < len(g.Nodes); i++ {
		if g.Nodes[i-1].Name >= g.Nodes[i].Name {
			t.Fatalf("nodes not sorted: %q then %q", g.Nodes[i-1].Name, g.Nodes[i].Name)
		}
	}
	for _, e := range g.Edges {
		if g.Node(e.From) == nil || g.Node(e.To) == nil {
			t.Fatalf("edge %s -> %s leaves the graph", e.From, e.To)
		}
	}
	if len(g.Order) == 0 {
		return
	}
	if len(g.Order) != len(g.Nodes) {
		t.Fatalf("order has %d sources, graph %d", len(g.Order), len(g.Nodes))
	}
	pos := map[string]int{}
	for i, name := range g.Order {
		pos[name] = i
	}
	for _, e := range g.Edges {
		if e.From != e.To && pos[e.From] < pos[e.To] {
			t.Fatalf("order builds %s before %s, which it build-depends on", e.From, e.To)
		}
	}
}
