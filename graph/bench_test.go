package graph_test

import (
	"fmt"
	"math/rand"
	"strings"
	"testing"

	"github.com/stx-build/stx-build/debsrc"
	"github.com/stx-build/stx-build/graph"
)

// synthControls generates n debian/control files forming a DAG: package i
// build-depends on up to 8 lower-numbered packages (by -dev binary or a
// virtual name), mixed with archive build-deps, arch and profile
// qualifiers and alternatives, like a real distribution.
func synthControls(n int) [][]byte {
	r := rand.New(rand.NewSource(1))
	out := make([][]byte, n)
	for i := 0; i < n; i++ {
		var deps []string
		deps = append(deps, "debhelper-compat (= 13)", "pkgconf")
		if i > 0 {
			k := r.Intn(9)
			for j := 0; j < k; j++ {
				d := r.Intn(i)
				switch r.Intn(6) {
				case 0:
					deps = append(deps, fmt.Sprintf("libp%d-dev (>= 1.0) [amd64 arm64]", d))
				case 1:
					deps = append(deps, fmt.Sprintf("libp%d-dev <!nocheck>", d))
				case 2:
					deps = append(deps, fmt.Sprintf("archive-only%d | libp%d-dev", d, d))
				case 3:
					deps = append(deps, fmt.Sprintf("p%d-api", d))
				default:
					deps = append(deps, fmt.Sprintf("libp%d-dev", d))
				}
			}
		}
		var b strings.Builder
		fmt.Fprintf(&b, "Source: p%d\nBuild-Depends: %s\n\n", i, strings.Join(deps, ",\n "))
		fmt.Fprintf(&b, "Package: libp%d\nArchitecture: any\nMulti-Arch: same\n\n", i)
		fmt.Fprintf(&b, "Package: libp%d-dev\nArchitecture: any\nProvides: p%d-api (= 1.0)\n\n", i, i)
		fmt.Fprintf(&b, "Package: p%d-doc\nArchitecture: all\nBuild-Profiles: <!nodoc>\n", i)
		out[i] = []byte(b.String())
	}
	return out
}

func synthSources(b *testing.B, n int) []graph.Source {
	ctls := synthControls(n)
	srcs := make([]graph.Source, n)
	for i, c := range ctls {
		s, err := debsrc.ParseControl(fmt.Sprintf("p%d/debian/control", i), c, "1.0-1")
		if err != nil {
			b.Fatal(err)
		}
		s.Cost = float64(1 + i%17)
		srcs[i] = s
	}
	return srcs
}

// BenchmarkCompile5000 compiles a synthetic 5,000-source graph from parsed
// control data (target: well under 1 s).
func BenchmarkCompile5000(b *testing.B) {
	srcs := synthSources(b, 5000)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		g, err := graph.Compile(srcs, graph.Options{Arch: "amd64", Indep: true})
		if err != nil {
			b.Fatal(err)
		}
		if len(g.Order) != 5000 {
			b.Fatalf("order has %d nodes", len(g.Order))
		}
	}
}

// BenchmarkParseAndCompile5000 includes parsing the 5,000 control files.
func BenchmarkParseAndCompile5000(b *testing.B) {
	ctls := synthControls(5000)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		srcs := make([]graph.Source, len(ctls))
		for i, c := range ctls {
			s, err := debsrc.ParseControl("control", c, "1.0-1")
			if err != nil {
				b.Fatal(err)
			}
			srcs[i] = s
		}
		if _, err := graph.Compile(srcs, graph.Options{Arch: "amd64", Indep: true}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSelectDependents5000 measures "what must be rebuilt" queries.
func BenchmarkSelectDependents5000(b *testing.B) {
	g, err := graph.Compile(synthSources(b, 5000), graph.Options{Arch: "amd64"})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := g.Select([]string{"p10"}, graph.Dependents); err != nil {
			b.Fatal(err)
		}
	}
}
