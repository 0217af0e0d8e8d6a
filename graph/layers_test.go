package graph_test

import (
	"strings"
	"testing"

	"github.com/stx-build/stx-build/graph"
)

// TestLayerEdges: a source of a higher layer is ordered after the lower
// layer's sources where no build-dependency orders them, never against a
// build-dependency, and not when one already does.
func TestLayerEdges(t *testing.T) {
	pkg := func(name, bd string) graph.Source {
		c := "Source: " + name + "\n"
		if bd != "" {
			c += "Build-Depends: " + bd + "\n"
		}
		return src(t, "1.0", c+"\nPackage: "+name+"\nArchitecture: any\n")
	}
	srcs := []graph.Source{
		pkg("d1", ""),   // distro
		pkg("d2", "f1"), // distro, build-depends on a flock package
		pkg("f1", ""),   // flock
		pkg("f2", "d1"), // flock, already after d1
		pkg("xx", ""),   // no layer
	}
	opts := graph.Options{Arch: "amd64",
		Layers:     map[string]string{"d1": "distro", "d2": "distro", "f1": "flock", "f2": "flock"},
		LayerOrder: []string{"compiler", "distro", "flock"},
	}
	g, err := graph.Compile(srcs, opts)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(edges(g), " ")
	want := "d2->f1/f1 f1->d1/(layer) f2->d1/d1 f2->d2/(layer)"
	if got != want {
		t.Errorf("edges %q, want %q", got, want)
	}
	// Without layers: the build-dependencies only.
	opts.Layers = nil
	if g, err = graph.Compile(srcs, opts); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(edges(g), " "); got != "d2->f1/f1 f2->d1/d1" {
		t.Errorf("without layers: %q", got)
	}
}
