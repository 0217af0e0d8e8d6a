package scheduler_test

import (
	"errors"
	"flag"
	"fmt"
	"hash/fnv"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/stx-build/stx-build/debsrc"
	"github.com/stx-build/stx-build/graph"
	"github.com/stx-build/stx-build/scheduler"
)

// The real-graph benchmark needs the archive's Sources index, which is not
// in git: scripts/bench-sched.sh fetches it (go run
// ./scripts/fetchsources) and runs TestRealGraphTable.
var (
	sourcesFile = flag.String("sources", os.Getenv("STX_BENCH_SOURCES"), "decompressed Sources index for the real-graph benchmark (unset: skipped)")
	realSize    = flag.Int("real-size", 400, "number of source packages in the real graph")
	tableOut    = flag.String("table", "", "also write the real-graph table (markdown) to this file")
)

// realRoots are where the build-dependency closure starts: an init
// system, the Python stack, TLS, and two of the huge packages a StarlingX
// build carries (kernel, ceph).
var realRoots = []string{"systemd", "python3-defaults", "openssl", "linux", "ceph"}

// hugeSources take 2 to 3 hours and 15 to 40 GiB of build tree, when they
// are in the graph.
var hugeSources = []string{"linux", "ceph", "gcc-12", "llvm-toolchain-15", "rustc", "openjdk-17", "qtwebengine-opensource-src"}

type realGraph struct {
	tasks  []scheduler.Task
	dag    *scheduler.DAG
	breaks int
	huge   []string
}

// loadRealGraph builds the benchmark graph: the first n sources of the
// breadth-first build-dependency closure of realRoots, compiled by
// graph.Compile for amd64 with cycles broken as stx.yaml's cycle-breaks
// would (the binary closing each reported cycle taken from the archive),
// and durations from a heavy-tailed model.
func loadRealGraph(tb testing.TB, n int) *realGraph {
	tb.Helper()
	if *sourcesFile == "" {
		tb.Skip("set STX_BENCH_SOURCES or -sources (scripts/bench-sched.sh does)")
	}
	data, err := os.ReadFile(*sourcesFile)
	if errors.Is(err, os.ErrNotExist) {
		tb.Skipf("no Sources index at %s (scripts/bench-sched.sh fetches it)", *sourcesFile)
	}
	if err != nil {
		tb.Fatal(err)
	}
	all, err := debsrc.ParseSources(*sourcesFile, data)
	if err != nil {
		tb.Fatal(err)
	}
	bySource := map[string]*graph.Source{}
	byBinary := map[string]string{}
	for i := range all {
		s := &all[i]
		bySource[s.Name] = s
		for _, b := range s.Binaries {
			if _, ok := byBinary[b.Name]; !ok {
				byBinary[b.Name] = s.Name
			}
		}
	}
	// Breadth-first over build-deps, first alternative that a source builds.
	var picked []graph.Source
	seen := map[string]bool{}
	queue := slices.Clone(realRoots)
	for _, r := range queue {
		seen[r] = true
	}
	for len(queue) > 0 && len(picked) < n {
		name := queue[0]
		queue = queue[1:]
		s, ok := bySource[name]
		if !ok {
			continue
		}
		picked = append(picked, *s)
		rels := slices.Concat(s.BuildDepends.Relations, s.BuildDependsArch.Relations, s.BuildDependsIndep.Relations)
		for _, rel := range rels {
			for _, p := range rel.Possibilities {
				src, ok := byBinary[p.Name]
				if !ok {
					continue
				}
				if !seen[src] {
					seen[src] = true
					queue = append(queue, src)
				}
				break
			}
		}
	}
	opts := graph.Options{Arch: "amd64", Indep: true}
	var g *graph.Graph
	for {
		g, err = graph.Compile(picked, opts)
		var ce *graph.CycleError
		if !errors.As(err, &ce) {
			break
		}
		for _, c := range ce.Cycles {
			last := c[len(c)-1]
			opts.CycleBreaks = append(opts.CycleBreaks, graph.CycleBreak{Package: last.From, Binary: last.Via})
		}
	}
	if err != nil {
		tb.Fatal(err)
	}
	rg := &realGraph{breaks: len(opts.CycleBreaks)}
	for _, node := range g.Nodes {
		t := scheduler.Task{ID: node.Name, Source: "model"}
		for _, d := range node.Deps {
			t.Deps = append(t.Deps, d)
		}
		rng := nameRand(node.Name)
		if slices.Contains(hugeSources, node.Name) {
			t.Seconds = math.Round(7200 + 3600*rng.Float64())
			t.PeakBytes = (15 + rng.Int64N(26)) << 30
			rg.huge = append(rg.huge, node.Name)
		} else {
			// Lognormal: median 2 min, a long tail to about 2 hours.
			t.Seconds = math.Round(min(max(120*math.Exp(1.3*rng.NormFloat64()), 20), 7200))
			// Tree size grows with build time: ~40 MiB per minute, +-40%.
			mib := 200 + 40*t.Seconds/60*math.Exp(0.4*rng.NormFloat64())
			t.PeakBytes = int64(mib) << 20
		}
		rg.tasks = append(rg.tasks, t)
	}
	if rg.dag, err = scheduler.NewDAG(rg.tasks); err != nil {
		tb.Fatal(err)
	}
	return rg
}

func nameRand(name string) *rand.Rand {
	h := fnv.New64a()
	io.WriteString(h, name)
	s := h.Sum64()
	return rand.New(rand.NewPCG(s, s>>7|1))
}

type variant struct {
	name string
	opts scheduler.Options
}

var variants = []variant{
	{"ours: critical path + lookahead", scheduler.Options{}},
	{"(a) dependents count + greedy", scheduler.Options{Priority: scheduler.Dependents, Admission: scheduler.Greedy}},
	{"(b) FIFO topological + greedy", scheduler.Options{Priority: scheduler.FIFO, Admission: scheduler.Greedy}},
	{"critical path + predict", scheduler.Options{Admission: scheduler.Predict}},
	{"critical path + greedy", scheduler.Options{Admission: scheduler.Greedy}},
}

// TestRealGraphTable prints makespan / lower bound of each policy on the
// real graph for 2, 8 and 32 slots and two RAM budgets, with exact
// estimates and with estimates that are off.
func TestRealGraphTable(t *testing.T) {
	if testing.Short() {
		t.Skip("benchmark table")
	}
	rg := loadRealGraph(t, *realSize)
	var b strings.Builder
	var work float64
	for _, tk := range rg.tasks {
		work += tk.Seconds
	}
	edges := 0
	for _, tk := range rg.tasks {
		edges += len(tk.Deps)
	}
	fmt.Fprintf(&b, "Graph: %d source packages from the bookworm Sources index (build-dep closure of %s), %d edges, %d cycle breaks; durations lognormal (median 2 min), huge: %s; total work %.1f h on tmpfs; disk builds 1.2x slower.\n\n",
		len(rg.tasks), strings.Join(realRoots, ", "), edges, rg.breaks, strings.Join(rg.huge, ", "), work/3600)

	budgets := []int64{128 << 30, 64 << 30, 16 << 30}
	slotsList := []int{2, 8, 32}
	for _, noisy := range []bool{false, true} {
		var actual func(int, bool) float64
		dag := rg.dag
		title := "Estimates exact"
		if noisy {
			title = "Estimates off: actual = estimate x lognormal(sigma 0.5), the policy sees only the estimates"
			f := make([]float64, len(rg.tasks))
			for i, tk := range rg.tasks {
				f[i] = math.Exp(0.5 * nameRand(tk.ID+"/noise").NormFloat64())
			}
			actual = func(i int, disk bool) float64 {
				s := rg.tasks[i].Seconds * f[i]
				if disk {
					s *= scheduler.DefaultDiskFactor
				}
				return s
			}
			// The lower bound is over the actual durations.
			real := slices.Clone(rg.tasks)
			for i := range real {
				real[i].Seconds *= f[i]
			}
			var err error
			if dag, err = scheduler.NewDAG(real); err != nil {
				t.Fatal(err)
			}
		}
		fmt.Fprintf(&b, "%s. Makespan / lower bound (lower bound = max(critical path, work / slots)):\n\n", title)
		fmt.Fprintf(&b, "| slots | tmpfs budget | lower bound |")
		for _, v := range variants {
			fmt.Fprintf(&b, " %s |", v.name)
		}
		fmt.Fprintf(&b, "\n|---|---|---|%s\n", strings.Repeat("---|", len(variants)))
		for _, slots := range slotsList {
			for _, budget := range budgets {
				bound := scheduler.Simulate(dag, scheduler.Options{Slots: slots, Budget: budget}).LowerBound
				fmt.Fprintf(&b, "| %d | %d GiB | %.2f h |", slots, budget>>30, bound/3600)
				var ours float64
				for k, v := range variants {
					o := v.opts
					o.Slots, o.Budget = slots, budget
					p := scheduler.SimulateActual(rg.dag, o, actual)
					r := p.Makespan / bound
					if k == 0 {
						ours = r
						fmt.Fprintf(&b, " **%.3f** |", r)
					} else {
						fmt.Fprintf(&b, " %.3f |", r)
					}
					// With 64 GiB the bound cannot be reached: two huge trees
					// on the critical path (ceph, gcc-12) cannot share tmpfs
					// (docs/scheduling.md); 1.060 is the best of the choices.
					limit := 1.05
					if budget == 64<<30 {
						limit = 1.07
					}
					if k == 0 && r > limit {
						t.Errorf("%d slots, %d GiB: ours at %.3f of the lower bound, want <= %g", slots, budget>>30, r, limit)
					}
					if k > 0 && k < 3 && r < ours-1e-9 {
						t.Errorf("%d slots, %d GiB: %s (%.3f) beats ours (%.3f)", slots, budget>>30, v.name, r, ours)
					}
				}
				fmt.Fprintln(&b)
			}
		}
		fmt.Fprintln(&b)
	}
	t.Log("\n" + b.String())
	if *tableOut != "" {
		if err := os.WriteFile(*tableOut, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// BenchmarkSimulateRealGraph measures planning the real graph (8 slots).
func BenchmarkSimulateRealGraph(b *testing.B) {
	rg := loadRealGraph(b, *realSize)
	for b.Loop() {
		scheduler.Simulate(rg.dag, scheduler.Options{Slots: 8, Cores: 32, Budget: 64 << 30})
	}
}
