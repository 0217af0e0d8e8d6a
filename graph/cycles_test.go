package graph_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand"
	"reflect"
	"strings"
	"testing"

	"github.com/stx-build/stx-build/graph"
)

// gpsd builds python3-gps and build-depends on it (for its tests), as the
// real gpsd does; bd replaces its Build-Depends.
func gpsd(t *testing.T, bd string) graph.Source {
	return src(t, "3.22-4", `
Source: gpsd
Build-Depends: `+bd+`

Package: gpsd
Architecture: any

Package: python3-gps
Architecture: any
Provides: python3-gps-api (= 3.22)
`)
}

func cuts(g *graph.Graph) []string {
	var out []string
	for _, c := range g.Cut {
		out = append(out, c.From+"->"+c.To+"/"+c.Via+": "+c.Reason)
	}
	return out
}

func TestSelfBuildDepends(t *testing.T) {
	const selfNote = "python3-gps is built by gpsd itself: taken from the archive (self build-dependency)"
	const selfCut = "gpsd->gpsd/python3-gps: self build-dependency: gpsd builds python3-gps itself; the archive's is used"
	tests := []struct {
		name      string
		bd        string
		wantEdges []string
		wantExt   []string
		wantCut   []string
	}{
		{
			name:    "own binary",
			bd:      "python3-gps",
			wantExt: []string{"gpsd: python3-gps [" + selfNote + "]"},
			wantCut: []string{selfCut},
		},
		{
			name:    "own binary, versioned",
			bd:      "python3-gps (>= 3.20)",
			wantExt: []string{"gpsd: python3-gps (>= 3.20) [" + selfNote + "]"},
			wantCut: []string{selfCut},
		},
		{
			name:    "own binary too old for the relation: nothing local satisfies it",
			bd:      "python3-gps (>= 4)",
			wantExt: []string{"gpsd: python3-gps (>= 4) [local gpsd 3.22-4 does not satisfy python3-gps (>= 4)]"},
		},
		{
			name:    "own virtual package",
			bd:      "python3-gps-api (>= 3)",
			wantExt: []string{"gpsd: python3-gps-api (>= 3) [" + selfNote + "]"},
			wantCut: []string{selfCut},
		},
		{
			name:    "own binary first among local alternatives: from the archive",
			bd:      "python3-gps | libfoo-dev",
			wantExt: []string{"gpsd: python3-gps | libfoo-dev [" + selfNote + "]"},
			wantCut: []string{"gpsd->gpsd/python3-gps: self build-dependency: gpsd builds python3-gps itself; the archive's is used"},
		},
		{
			name:      "another local source first",
			bd:        "libfoo-dev | python3-gps",
			wantEdges: []string{"gpsd->libfoo/libfoo-dev"},
		},
		{
			name:      "virtual package another source provides too",
			bd:        "foo-api",
			wantEdges: []string{"gpsd->libfoo/libfoo-dev"},
		},
		{
			name:      "self and real build-deps together",
			bd:        "libfoo-dev, python3-gps <!nocheck>",
			wantEdges: []string{"gpsd->libfoo/libfoo-dev"},
			wantExt:   []string{"gpsd: python3-gps [" + selfNote + "]"},
			wantCut:   []string{selfCut},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g, err := graph.Compile([]graph.Source{lib(t, "2.0-1"), gpsd(t, tc.bd)}, graph.Options{Arch: "amd64"})
			if err != nil {
				t.Fatalf("a self build-dependency is no cycle: %v", err)
			}
			if got := edges(g); !reflect.DeepEqual(got, tc.wantEdges) {
				t.Errorf("edges = %q, want %q", got, tc.wantEdges)
			}
			var ext []string
			for _, x := range externals(g) {
				if strings.HasPrefix(x, "gpsd:") {
					ext = append(ext, x)
				}
			}
			if !reflect.DeepEqual(ext, tc.wantExt) {
				t.Errorf("external = %q, want %q", ext, tc.wantExt)
			}
			if got := cuts(g); !reflect.DeepEqual(got, tc.wantCut) {
				t.Errorf("cut = %q, want %q", got, tc.wantCut)
			}
			if len(g.Order) != 2 {
				t.Errorf("order = %q", g.Order)
			}
		})
	}
}

// TestSelfBuildDependsOutput: the note is in the text output and the JSON.
func TestSelfBuildDependsOutput(t *testing.T) {
	g, err := graph.Compile([]graph.Source{gpsd(t, "python3-gps")}, graph.Options{Arch: "amd64"})
	if err != nil {
		t.Fatal(err)
	}
	var text bytes.Buffer
	if err := graph.WriteText(&text, g); err != nil {
		t.Fatal(err)
	}
	want := "note: gpsd: self build-dependency: gpsd builds python3-gps itself; the archive's is used\n"
	if !strings.Contains(text.String(), want) {
		t.Errorf("text output lacks %q:\n%s", want, text.String())
	}
	var js struct {
		Cut []map[string]any `json:"cut_edges"`
	}
	var buf bytes.Buffer
	if err := graph.WriteJSON(&buf, g); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(buf.Bytes(), &js); err != nil {
		t.Fatal(err)
	}
	wantJS := []map[string]any{{"from": "gpsd", "to": "gpsd", "via": "python3-gps", "relation": "python3-gps", "reason": "self build-dependency: gpsd builds python3-gps itself; the archive's is used"}}
	if !reflect.DeepEqual(js.Cut, wantJS) {
		t.Errorf("cut_edges = %v, want %v", js.Cut, wantJS)
	}
}

// libbar builds two binaries app needs; app's own binary is needed by
// libbar's tests: a cycle through two edges of one pair of sources.
func libbarCycle(t *testing.T, appBD string) []graph.Source {
	return []graph.Source{
		src(t, "1.0-1", `
Source: libbar
Build-Depends: app-tools <!nocheck>

Package: libbar-dev
Architecture: any
Provides: bar-api

Package: bar-tools
Architecture: all
`),
		src(t, "1.0", `
Source: app
Build-Depends: `+appBD+`

Package: app-tools
Architecture: any
`),
	}
}

func TestSourceCycleBreaks(t *testing.T) {
	tests := []struct {
		name      string
		appBD     string
		breaks    []graph.CycleBreak
		wantEdges []string
		wantExt   []string
		wantWarn  []string
		wantErr   string
	}{
		{
			name:      "source break takes every binary of the source",
			appBD:     "libbar-dev, bar-tools",
			breaks:    []graph.CycleBreak{{Package: "app", Source: "libbar"}},
			wantEdges: []string{"libbar->app/app-tools"},
			wantExt: []string{
				"app: bar-tools [bar-tools taken from the archive (cycle break: source libbar)]",
				"app: libbar-dev [libbar-dev taken from the archive (cycle break: source libbar)]",
			},
		},
		{
			name:      "source break covers virtual packages the source provides",
			appBD:     "bar-api",
			breaks:    []graph.CycleBreak{{Package: "app", Source: "libbar"}},
			wantEdges: []string{"libbar->app/app-tools"},
			wantExt:   []string{"app: bar-api [bar-api taken from the archive (cycle break: source libbar)]"},
		},
		{
			name:      "binary break names the binary behind a virtual package",
			appBD:     "bar-api",
			breaks:    []graph.CycleBreak{{Package: "app", Binary: "libbar-dev"}},
			wantEdges: []string{"libbar->app/app-tools"},
			wantExt:   []string{"app: bar-api [bar-api (from libbar-dev) taken from the archive (cycle break)]"},
		},
		{
			name:      "one binary break leaves the other edge: still a cycle",
			appBD:     "libbar-dev, bar-tools",
			breaks:    []graph.CycleBreak{{Package: "app", Binary: "libbar-dev"}},
			wantErr:   "build-dependency cycle on amd64",
			wantEdges: []string{"app->libbar/bar-tools", "libbar->app/app-tools"},
			wantExt:   []string{"app: libbar-dev [libbar-dev taken from the archive (cycle break)]"},
		},
		{
			name:      "unused source break warns",
			appBD:     "libbar-dev",
			breaks:    []graph.CycleBreak{{Package: "libbar", Source: "app"}, {Package: "libbar", Source: "zlib"}},
			wantEdges: []string{"app->libbar/libbar-dev"},
			wantExt:   []string{"libbar: app-tools [app-tools taken from the archive (cycle break: source app)]"},
			wantWarn:  []string{"cycle break libbar -> source zlib is not used on amd64: libbar does not build-depend on a binary of the local source zlib"},
		},
		{
			name:    "binary and source in one break",
			appBD:   "libbar-dev",
			breaks:  []graph.CycleBreak{{Package: "app", Binary: "libbar-dev", Source: "libbar"}},
			wantErr: "graph: cycle break for app: give exactly one of binary and source",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g, err := graph.Compile(libbarCycle(t, tc.appBD), graph.Options{Arch: "amd64", Indep: true, CycleBreaks: tc.breaks})
			if tc.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if g == nil {
				return
			}
			if got := edges(g); !reflect.DeepEqual(got, tc.wantEdges) {
				t.Errorf("edges = %q, want %q", got, tc.wantEdges)
			}
			if got := externals(g); !reflect.DeepEqual(got, tc.wantExt) {
				t.Errorf("external = %q, want %q", got, tc.wantExt)
			}
			if !reflect.DeepEqual(g.Warnings, tc.wantWarn) {
				t.Errorf("warnings = %q, want %q", g.Warnings, tc.wantWarn)
			}
		})
	}
}

// TestSuggestedSourceBreak: the edge only the tests need is cut first; two
// edges between one pair of sources are cut by one source: entry; the block
// in the error applies as it is.
func TestSuggestedSourceBreak(t *testing.T) {
	srcs := libbarCycle(t, "libbar-dev, bar-tools")
	ce := cycleError(t, srcs, graph.Options{Arch: "amd64", Indep: true})
	want := `build-dependency cycle on amd64:
  app -> libbar (via bar-tools) -> app (via app-tools)
break every cycle at once with 1 entry (the fewest possible), in stx.yaml:
  cycle-breaks:
    - package: libbar
      binary: app-tools
      reason: "breaks libbar -> app (via app-tools) -> libbar (via bar-tools); only the tests need it (<!nocheck>)"`
	if ce.Error() != want {
		t.Errorf("error:\n%s\nwant:\n%s", ce, want)
	}
	// With libbar's edge not cuttable (the archive lacks app-tools), the
	// two edges of app are cut with one source: entry.
	opts := graph.Options{Arch: "amd64", Indep: true, Archive: map[string]string{"libbar-dev": "1.0-1", "bar-tools": "1.0-1"}}
	ce = cycleError(t, srcs, opts)
	var got []string
	for _, b := range ce.Breaks {
		got = append(got, b.CycleBreak().String()+": "+b.Reason)
	}
	wantBreaks := []string{"app -> source libbar: app build-depends on bar-tools, libbar-dev of libbar; breaks app -> libbar (via bar-tools) -> app (via app-tools)"}
	if !reflect.DeepEqual(got, wantBreaks) {
		t.Errorf("breaks = %q\nwant %q", got, wantBreaks)
	}
	if _, err := graph.Compile(srcs, withBreaks(opts, ce.Breaks)); err != nil {
		t.Errorf("suggested breaks applied: %v", err)
	}
}

// TestArchivePreference: the break avoids an edge whose relation the archive
// cannot satisfy, even when cutting elsewhere takes more entries.
func TestArchivePreference(t *testing.T) {
	// a needs b and c; b and c both need a: cutting a's two edges would
	// break both cycles with 2 entries, as would cutting b's and c's.
	srcs := []graph.Source{
		src(t, "1", "Source: a\nBuild-Depends: b-dev, c-dev\n\nPackage: a-dev\nArchitecture: any\n"),
		src(t, "1", "Source: b\nBuild-Depends: a-dev (>= 1)\n\nPackage: b-dev\nArchitecture: any\n"),
		src(t, "1", "Source: c\nBuild-Depends: a-dev (>= 1)\n\nPackage: c-dev\nArchitecture: any\n"),
	}
	tests := []struct {
		name    string
		archive map[string]string
		want    []string
	}{
		{"nothing known", nil, []string{"a -> b-dev", "a -> c-dev"}},
		{"archive has the binaries a needs", map[string]string{"b-dev": "1", "c-dev": "1", "a-dev": "0.9"}, []string{"a -> b-dev", "a -> c-dev"}},
		{"archive's a-dev is too old for b and c", map[string]string{"b-dev": "1", "c-dev": "1", "a-dev": "0.9"}, nil},
		{"archive lacks b-dev", map[string]string{"c-dev": "1", "a-dev": "1"}, []string{"a -> c-dev", "b -> a-dev"}},
	}
	tests[2].want = []string{"a -> b-dev", "a -> c-dev"}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ce := cycleError(t, srcs, graph.Options{Arch: "amd64", Archive: tc.archive})
			var got []string
			for _, b := range ce.Breaks {
				got = append(got, b.CycleBreak().String())
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("breaks = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestCyclesArchivePolicy: with cycles: archive the suggested breaks are
// cut, listed with their reason, and the graph has an order.
func TestCyclesArchivePolicy(t *testing.T) {
	g, err := graph.Compile(cyclic(t), graph.Options{Arch: "amd64", Cycles: graph.CyclesArchive})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"a", "c", "b", "d", "e", "f"}; !reflect.DeepEqual(g.Order, want) {
		t.Errorf("order = %q, want %q", g.Order, want)
	}
	wantCut := []string{
		"a->b/b-dev: cycles: archive: breaks a -> b (via b-dev) -> c (via c-dev) -> a (via a-dev)",
		"d->d/d-dev: self build-dependency: d builds d-dev itself; the archive's is used",
		"e->f/f-dev: cycles: archive: breaks e -> f (via f-dev) -> e (via e-dev)",
	}
	if got := cuts(g); !reflect.DeepEqual(got, wantCut) {
		t.Errorf("cut = %q, want %q", got, wantCut)
	}
	wantExt := []string{
		"a: b-dev [b-dev taken from the archive (cycles: archive)]",
		"d: d-dev [d-dev is built by d itself: taken from the archive (self build-dependency)]",
		"e: f-dev [f-dev taken from the archive (cycles: archive)]",
	}
	if got := externals(g); !reflect.DeepEqual(got, wantExt) {
		t.Errorf("external = %q, want %q", got, wantExt)
	}
	var text bytes.Buffer
	if err := graph.WriteText(&text, g); err != nil {
		t.Fatal(err)
	}
	want := `
cycles: archive: 2 cycle-breaks applied to 2 cycle components (the fewest possible):
  a -> b (via b-dev): breaks a -> b (via b-dev) -> c (via c-dev) -> a (via a-dev)
  e -> f (via f-dev): breaks e -> f (via f-dev) -> e (via e-dev)
`
	if !strings.Contains(text.String(), want) {
		t.Errorf("text output lacks %q:\n%s", want, text.String())
	}
}

// TestCycleJSON: the JSON of a cyclic graph carries its cycles and the
// suggested breaks.
func TestCycleJSON(t *testing.T) {
	g, err := graph.Compile(cyclic(t), graph.Options{Arch: "amd64"})
	var ce *graph.CycleError
	if !errors.As(err, &ce) {
		t.Fatalf("want a cycle error, got %v", err)
	}
	var buf bytes.Buffer
	if err := graph.WriteJSON(&buf, g); err != nil {
		t.Fatal(err)
	}
	var js struct {
		Cycles []struct {
			Packages []string     `json:"packages"`
			Cycle    []graph.Edge `json:"cycle"`
		} `json:"cycles"`
		Breaks     []map[string]string `json:"suggested_breaks"`
		LowerBound int                 `json:"breaks_lower_bound"`
		Order      []string            `json:"order"`
	}
	if err := json.Unmarshal(buf.Bytes(), &js); err != nil {
		t.Fatal(err)
	}
	if len(js.Cycles) != 2 || !reflect.DeepEqual(js.Cycles[0].Packages, []string{"a", "b", "c"}) || len(js.Cycles[0].Cycle) != 3 {
		t.Errorf("cycles = %+v", js.Cycles)
	}
	wantBreaks := []map[string]string{
		{"package": "a", "binary": "b-dev", "reason": "breaks a -> b (via b-dev) -> c (via c-dev) -> a (via a-dev)"},
		{"package": "e", "binary": "f-dev", "reason": "breaks e -> f (via f-dev) -> e (via e-dev)"},
	}
	if !reflect.DeepEqual(js.Breaks, wantBreaks) || js.LowerBound != 2 || len(js.Order) != 0 {
		t.Errorf("suggested_breaks = %v, lower bound %d, order %q", js.Breaks, js.LowerBound, js.Order)
	}
}

// randomCyclic makes n sources with random build-deps among them, some via
// a second binary or a virtual package, so they have many cycles.
func randomCyclic(t *testing.T, seed int64, n, deg int) []graph.Source {
	r := rand.New(rand.NewSource(seed))
	var srcs []graph.Source
	for i := 0; i < n; i++ {
		var bd []string
		for k := r.Intn(deg + 1); k > 0; k-- {
			j := r.Intn(n)
			switch r.Intn(4) {
			case 0:
				bd = append(bd, fmt.Sprintf("s%d-tools", j))
			case 1:
				bd = append(bd, fmt.Sprintf("s%d-api", j))
			case 2:
				bd = append(bd, fmt.Sprintf("nothere%d | s%d-dev", j, j))
			default:
				bd = append(bd, fmt.Sprintf("s%d-dev", j))
			}
		}
		ctl := fmt.Sprintf("Source: s%d\n", i)
		if len(bd) > 0 {
			ctl += "Build-Depends: " + strings.Join(bd, ", ") + "\n"
		}
		ctl += fmt.Sprintf("\nPackage: s%d-dev\nArchitecture: any\nProvides: s%d-api\n\nPackage: s%d-tools\nArchitecture: all\n", i, i, i)
		srcs = append(srcs, src(t, "1", ctl))
	}
	return srcs
}

// TestSuggestedBreaksComplete: on random graphs full of cycles, the
// suggested set applied once leaves no cycle, every entry is needed (it is
// minimal), it is no smaller than the lower bound, and it is the same on
// every run.
func TestSuggestedBreaksComplete(t *testing.T) {
	for seed := int64(1); seed <= 30; seed++ {
		srcs := randomCyclic(t, seed, 10+int(seed)*3, 1+int(seed%5))
		opts := graph.Options{Arch: "amd64", Indep: true}
		_, err := graph.Compile(srcs, opts)
		var ce *graph.CycleError
		if !errors.As(err, &ce) {
			continue
		}
		if ce.Bound.Entries != len(ce.Breaks) || ce.Bound.LowerBound > ce.Bound.Entries || ce.Bound.LowerBound < len(ce.Cycles) {
			t.Errorf("seed %d: bound %+v with %d breaks and %d components", seed, ce.Bound, len(ce.Breaks), len(ce.Cycles))
		}
		if _, err := graph.Compile(srcs, withBreaks(opts, ce.Breaks)); err != nil {
			t.Fatalf("seed %d: the suggested breaks applied once: %v", seed, err)
		}
		for i := range ce.Breaks {
			fewer := append(append([]graph.SuggestedBreak(nil), ce.Breaks[:i]...), ce.Breaks[i+1:]...)
			if _, err := graph.Compile(srcs, withBreaks(opts, fewer)); err == nil {
				t.Errorf("seed %d: break %s is not needed", seed, ce.Breaks[i].CycleBreak())
			}
		}
		again := cycleError(t, srcs, opts)
		if !reflect.DeepEqual(again.Error(), ce.Error()) {
			t.Errorf("seed %d: two runs differ", seed)
		}
		policy, err := graph.Compile(srcs, graph.Options{Arch: "amd64", Indep: true, Cycles: graph.CyclesArchive})
		if err != nil || len(policy.Order) != len(policy.Nodes) {
			t.Fatalf("seed %d: cycles: archive: %v", seed, err)
		}
	}
}

// TestSelectKeepsCuts: a subgraph keeps the cut edges of its packages.
func TestSelectKeepsCuts(t *testing.T) {
	g, err := graph.Compile(cyclic(t), graph.Options{Arch: "amd64", Cycles: graph.CyclesArchive})
	if err != nil {
		t.Fatal(err)
	}
	s, err := g.Select([]string{"d"}, graph.Needs)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"a->b/b-dev: cycles: archive: breaks a -> b (via b-dev) -> c (via c-dev) -> a (via a-dev)",
		"d->d/d-dev: self build-dependency: d builds d-dev itself; the archive's is used",
	}
	if got := cuts(s); !reflect.DeepEqual(got, want) || s.Cycles == nil {
		t.Errorf("cut = %q, want %q", got, want)
	}
}
