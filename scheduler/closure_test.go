package scheduler_test

import (
	"compress/gzip"
	"io"
	"math"
	"os"
	"testing"

	"github.com/stx-build/stx-build/debsrc"
	"github.com/stx-build/stx-build/graph"
	"github.com/stx-build/stx-build/scheduler"
)

// closureFile is the graph package's real closure: 600 bookworm sources
// with 4 cycle components (see graph/closure_test.go).
const closureFile = "../graph/testdata/bookworm-closure.sources.gz"

// BenchmarkPlanRealClosure is what stx-build plan does on the real closure
// once the sources are read: compile the graph with cycles: archive (the
// suggested breaks computed and cut), make the DAG of its build jobs and
// simulate the schedule on 8 slots (target: well under 1 s).
func BenchmarkPlanRealClosure(b *testing.B) {
	f, err := os.Open(closureFile)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		b.Fatal(err)
	}
	data, err := io.ReadAll(zr)
	if err != nil {
		b.Fatal(err)
	}
	srcs, err := debsrc.ParseSources(closureFile, data)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		g, err := graph.Compile(srcs, graph.Options{Arch: "amd64", Indep: true, Cycles: graph.CyclesArchive})
		if err != nil {
			b.Fatal(err)
		}
		tasks := make([]scheduler.Task, 0, len(g.Nodes))
		for _, n := range g.Nodes {
			rng := nameRand(n.Name)
			secs := math.Round(min(max(120*math.Exp(1.3*rng.NormFloat64()), 20), 7200))
			tasks = append(tasks, scheduler.Task{ID: n.Name, Deps: n.Deps, Seconds: secs, PeakBytes: int64(200+40*secs/60) << 20})
		}
		dag, err := scheduler.NewDAG(tasks)
		if err != nil {
			b.Fatal(err)
		}
		p := scheduler.Simulate(dag, scheduler.Options{Slots: 8, Budget: 64 << 30})
		if len(p.Items) != len(tasks) {
			b.Fatalf("plan has %d of %d builds", len(p.Items), len(tasks))
		}
	}
}
