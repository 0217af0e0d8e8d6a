package graph_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/stx-build/stx-build/debsrc"
	"github.com/stx-build/stx-build/graph"
)

// src builds a graph.Source from debian/control text, the way real input arrives.
func src(t *testing.T, ver, control string) graph.Source {
	t.Helper()
	s, err := debsrc.ParseControl("test/control", []byte(strings.TrimLeft(control, "\n")), ver)
	if err != nil {
		t.Fatalf("parse control: %v", err)
	}
	return s
}

func lib(t *testing.T, ver string) graph.Source {
	return src(t, ver, `
Source: libfoo
Build-Depends: debhelper-compat (= 13)

Package: libfoo1
Architecture: any
Multi-Arch: same

Package: libfoo-dev
Architecture: any
Provides: libfoo-headers, foo-api (= 2.0)
`)
}

func app(t *testing.T, bd string) graph.Source {
	return src(t, "1.0", `
Source: app
Build-Depends: `+bd+`

Package: app
Architecture: any
`)
}

func edges(g *graph.Graph) []string {
	var out []string
	for _, e := range g.Edges {
		s := e.From + "->" + e.To + "/" + e.Via
		if e.Native {
			s += "/native"
		}
		out = append(out, s)
	}
	return out
}

func externals(g *graph.Graph) []string {
	var out []string
	for _, x := range g.External {
		s := x.Package + ": " + x.Relation
		if x.Note != "" {
			s += " [" + x.Note + "]"
		}
		out = append(out, s)
	}
	return out
}

func TestBuildDependsFeatures(t *testing.T) {
	tests := []struct {
		name      string
		bd        string
		libVer    string
		opts      graph.Options
		wantEdges []string
		wantExt   []string
	}{
		{
			name:      "plain dependency",
			bd:        "debhelper-compat (= 13), libfoo-dev",
			wantEdges: []string{"app->libfoo/libfoo-dev"},
			wantExt:   []string{"app: debhelper-compat (= 13)"},
		},
		{
			name:      "arch qualifier matches",
			bd:        "libfoo-dev [amd64 arm64]",
			wantEdges: []string{"app->libfoo/libfoo-dev"},
		},
		{
			name: "arch qualifier excludes",
			bd:   "libfoo-dev [arm64]",
		},
		{
			name:      "negated arch qualifier on other arch",
			bd:        "libfoo-dev [!arm64]",
			wantEdges: []string{"app->libfoo/libfoo-dev"},
		},
		{
			name: "negated arch qualifier on this arch",
			bd:   "libfoo-dev [!amd64]",
		},
		{
			name:      "wildcard arch linux-any",
			bd:        "libfoo-dev [linux-any]",
			wantEdges: []string{"app->libfoo/libfoo-dev"},
		},
		{
			name:      "wildcard arch any-arm64 on arm64",
			bd:        "libfoo-dev [any-arm64]",
			opts:      graph.Options{Arch: "arm64"},
			wantEdges: []string{"app->libfoo/libfoo-dev"},
		},
		{
			name:      "profile restriction without the profile",
			bd:        "libfoo-dev <!nocheck>",
			wantEdges: []string{"app->libfoo/libfoo-dev"},
		},
		{
			name: "profile restriction with nocheck",
			bd:   "libfoo-dev <!nocheck>",
			opts: graph.Options{Arch: "amd64", Profiles: []string{"nocheck"}},
		},
		{
			name:      "positive profile with the profile",
			bd:        "libfoo-dev <stage1>",
			opts:      graph.Options{Arch: "amd64", Profiles: []string{"stage1"}},
			wantEdges: []string{"app->libfoo/libfoo-dev"},
		},
		{
			name:      "profile formula OR of sets",
			bd:        "libfoo-dev <!nocheck !nodoc> <cross>",
			opts:      graph.Options{Arch: "amd64", Profiles: []string{"nocheck", "cross"}},
			wantEdges: []string{"app->libfoo/libfoo-dev"},
		},
		{
			name:      "alternative: first not local, second local",
			bd:        "libbar-dev | libfoo-dev",
			wantEdges: []string{"app->libfoo/libfoo-dev"},
		},
		{
			name:    "alternative: none local",
			bd:      "libbar-dev | libbaz-dev (>= 1)",
			wantExt: []string{"app: libbar-dev | libbaz-dev (>= 1)"},
		},
		{
			name:      "alternative with arch restriction on the local one",
			bd:        "libfoo-dev [arm64] | libbar-dev",
			wantExt:   []string{"app: libbar-dev"},
			wantEdges: nil,
		},
		{
			name:      "versioned constraint satisfied by the local version",
			bd:        "libfoo-dev (>= 1.2~)",
			libVer:    "1.2-1",
			wantEdges: []string{"app->libfoo/libfoo-dev"},
		},
		{
			name:    "versioned constraint not satisfied by the local version",
			bd:      "libfoo-dev (>= 2.0)",
			libVer:  "1.2-1",
			wantExt: []string{"app: libfoo-dev (>= 2.0) [local libfoo 1.2-1 does not satisfy libfoo-dev (>= 2.0)]"},
		},
		{
			name:      "epoch makes an older-looking version newer",
			bd:        "libfoo-dev (>> 5.0)",
			libVer:    "1:1.0-1",
			wantEdges: []string{"app->libfoo/libfoo-dev"},
		},
		{
			name:      "strict upper bound",
			bd:        "libfoo-dev (<< 1.0-2)",
			libVer:    "1.0-1",
			wantEdges: []string{"app->libfoo/libfoo-dev"},
		},
		{
			name:      "unversioned Provides",
			bd:        "libfoo-headers",
			wantEdges: []string{"app->libfoo/libfoo-dev"},
		},
		{
			name:    "versioned relation on unversioned Provides",
			bd:      "libfoo-headers (>= 1)",
			wantExt: []string{"app: libfoo-headers (>= 1) [local libfoo (unversioned Provides by libfoo-dev) does not satisfy libfoo-headers (>= 1)]"},
		},
		{
			name:      "versioned Provides",
			bd:        "foo-api (>= 2)",
			wantEdges: []string{"app->libfoo/libfoo-dev"},
		},
		{
			name:      "native qualifier in a cross build",
			bd:        "libfoo-dev:native",
			opts:      graph.Options{Arch: "arm64", BuildArch: "amd64"},
			wantEdges: []string{"app->libfoo/libfoo-dev/native"},
		},
		{
			name:      "native qualifier in a native build",
			bd:        "libfoo-dev:native",
			wantEdges: []string{"app->libfoo/libfoo-dev"},
		},
		{
			name:      "any qualifier",
			bd:        "libfoo-dev:any (>= 1)",
			wantEdges: []string{"app->libfoo/libfoo-dev"},
		},
		{
			name:      "cycle break leaves the relation to the archive",
			bd:        "libfoo-dev",
			opts:      graph.Options{Arch: "amd64", CycleBreaks: []graph.CycleBreak{{Package: "app", Binary: "libfoo-dev"}}},
			wantExt:   []string{"app: libfoo-dev [libfoo-dev taken from the archive (cycle break)]"},
			wantEdges: nil,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.opts.Arch == "" {
				tc.opts.Arch = "amd64"
			}
			if tc.libVer == "" {
				tc.libVer = "1.0-1"
			}
			g, err := graph.Compile([]graph.Source{lib(t, tc.libVer), app(t, tc.bd)}, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if got := edges(g); !reflect.DeepEqual(got, tc.wantEdges) {
				t.Errorf("edges = %q, want %q", got, tc.wantEdges)
			}
			var gotExt []string
			for _, x := range externals(g) {
				if !strings.HasPrefix(x, "libfoo:") { // libfoo's own build-deps are not under test
					gotExt = append(gotExt, x)
				}
			}
			if !reflect.DeepEqual(gotExt, tc.wantExt) {
				t.Errorf("external = %q, want %q", gotExt, tc.wantExt)
			}
		})
	}
}

func TestIndepAndArchBinaries(t *testing.T) {
	docs := src(t, "1.0", `
Source: docs
Build-Depends-Indep: libfoo-dev

Package: foo-doc
Architecture: all
Build-Profiles: <!nodoc>
`)
	archOnly := src(t, "1.0", `
Source: amdonly
Build-Depends-Arch: libfoo-dev

Package: amdonly
Architecture: amd64
`)
	user := app(t, "foo-doc, amdonly")
	srcs := []graph.Source{lib(t, "1.0"), docs, archOnly, user}

	g, err := graph.Compile(srcs, graph.Options{Arch: "amd64", Indep: true})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"amdonly->libfoo/libfoo-dev", "app->amdonly/amdonly", "app->docs/foo-doc", "docs->libfoo/libfoo-dev"}
	if got := edges(g); !reflect.DeepEqual(got, want) {
		t.Errorf("amd64 indep edges = %q, want %q", got, want)
	}
	if !g.Node("docs").BuildsIndep {
		t.Errorf("docs should build arch:all on the indep arch")
	}

	// arm64, not the indep arch: docs' binary still exists (arch:all is
	// shared) but its Build-Depends-Indep do not count; amdonly is absent.
	g, err = graph.Compile(srcs, graph.Options{Arch: "arm64"})
	if err != nil {
		t.Fatal(err)
	}
	want = []string{"app->docs/foo-doc"}
	if got := edges(g); !reflect.DeepEqual(got, want) {
		t.Errorf("arm64 edges = %q, want %q", got, want)
	}
	if g.Node("amdonly") != nil {
		t.Errorf("amdonly must not be in the arm64 graph")
	}
	if got := externals(g); !reflect.DeepEqual(got, []string{"app: amdonly", "libfoo: debhelper-compat (= 13)"}) {
		t.Errorf("arm64 external = %q", got)
	}

	// nodoc drops the doc binary, so the relation on it goes to the archive.
	g, err = graph.Compile(srcs, graph.Options{Arch: "amd64", Indep: true, Profiles: []string{"nodoc"}})
	if err != nil {
		t.Fatal(err)
	}
	if g.Node("docs") != nil {
		t.Errorf("docs builds nothing under nodoc and must not be a node")
	}
	if got := externals(g); !reflect.DeepEqual(got, []string{"app: foo-doc", "libfoo: debhelper-compat (= 13)"}) {
		t.Errorf("nodoc external = %q", got)
	}
}

func TestSourceRestrictions(t *testing.T) {
	a := app(t, "libfoo-dev <!nocheck>")
	a.Architectures = []string{"amd64"}
	a.Profiles = []string{"nocheck"}
	g, err := graph.Compile([]graph.Source{lib(t, "1.0"), a}, graph.Options{Arch: "amd64"})
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Edges) != 0 {
		t.Errorf("per-source nocheck profile should drop the edge, got %q", edges(g))
	}
	g, err = graph.Compile([]graph.Source{lib(t, "1.0"), a}, graph.Options{Arch: "arm64"})
	if err != nil {
		t.Fatal(err)
	}
	if g.Node("app") != nil {
		t.Errorf("app is restricted to amd64")
	}
}

func TestDuplicateSource(t *testing.T) {
	_, err := graph.Compile([]graph.Source{lib(t, "1.0"), lib(t, "2.0")}, graph.Options{Arch: "amd64"})
	if err == nil || !strings.Contains(err.Error(), "libfoo declared twice") {
		t.Fatalf("err = %v", err)
	}
}

func TestAmbiguousProviderWarns(t *testing.T) {
	other := src(t, "1.0", `
Source: other
Build-Depends: debhelper-compat (= 13)

Package: other-dev
Architecture: any
Provides: libfoo-headers
`)
	g, err := graph.Compile([]graph.Source{lib(t, "1.0"), other, app(t, "libfoo-headers")}, graph.Options{Arch: "amd64"})
	if err != nil {
		t.Fatal(err)
	}
	if got := edges(g); !reflect.DeepEqual(got, []string{"app->libfoo/libfoo-dev"}) {
		t.Errorf("edges = %q", got)
	}
	want := "app on amd64: libfoo-headers is provided by several local sources (libfoo, other); using libfoo"
	if !reflect.DeepEqual(g.Warnings, []string{want}) {
		t.Errorf("warnings = %q", g.Warnings)
	}
}

func cyclic(t *testing.T) []graph.Source {
	return []graph.Source{
		src(t, "1", "Source: a\nBuild-Depends: b-dev\n\nPackage: a-dev\nArchitecture: any\n"),
		src(t, "1", "Source: b\nBuild-Depends: c-dev\n\nPackage: b-dev\nArchitecture: any\n"),
		src(t, "1", "Source: c\nBuild-Depends: a-dev (>= 1)\n\nPackage: c-dev\nArchitecture: any\n"),
		src(t, "1", "Source: d\nBuild-Depends: a-dev, d-dev\n\nPackage: d-dev\nArchitecture: any\n"),
		src(t, "1", "Source: e\nBuild-Depends: f-dev\n\nPackage: e-dev\nArchitecture: any\n"),
		src(t, "1", "Source: f\nBuild-Depends: e-dev\n\nPackage: f-dev\nArchitecture: any\n"),
	}
}

func TestCycleNamesTheWholeCycle(t *testing.T) {
	g, err := graph.Compile(cyclic(t), graph.Options{Arch: "amd64"})
	var ce *graph.CycleError
	if !errors.As(err, &ce) {
		t.Fatalf("want CycleError, got %v", err)
	}
	want := `build-dependency cycles (2) on amd64:
  a -> b (via b-dev) -> c (via c-dev) -> a (via a-dev)
  e -> f (via f-dev) -> e (via e-dev)
break every cycle at once with 2 entries (the fewest possible), in stx.yaml:
  cycle-breaks:
    - package: a
      binary: b-dev
      reason: "breaks a -> b (via b-dev) -> c (via c-dev) -> a (via a-dev)"
    - package: e
      binary: f-dev
      reason: "breaks e -> f (via f-dev) -> e (via e-dev)"`
	if err.Error() != want {
		t.Errorf("error:\n%s\nwant:\n%s", err, want)
	}
	if g == nil || len(g.Order) != 0 {
		t.Errorf("a cyclic graph is returned without an order")
	}
}

func TestCycleBreakResolves(t *testing.T) {
	breaks := []graph.CycleBreak{{Package: "c", Binary: "a-dev"}, {Package: "d", Binary: "d-dev"}, {Package: "b", Binary: "zzz"}, {Package: "f", Source: "e"}}
	g, err := graph.Compile(cyclic(t), graph.Options{Arch: "amd64", CycleBreaks: breaks})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"c", "b", "a", "d", "f", "e"}; !reflect.DeepEqual(g.Order, want) {
		t.Errorf("order = %q, want %q", g.Order, want)
	}
	want := []string{"cycle break b -> zzz is not used on amd64: b does not build-depend on a local zzz"}
	if !reflect.DeepEqual(g.Warnings, want) {
		t.Errorf("warnings = %q, want %q", g.Warnings, want)
	}
}

// diamond: base <- {left, right} <- top, plus a lone package.
func diamond(t *testing.T) []graph.Source {
	mk := func(name, bd string, cost float64) graph.Source {
		ctl := "Source: " + name + "\n"
		if bd != "" {
			ctl += "Build-Depends: " + bd + "\n"
		}
		ctl += "\nPackage: " + name + "-dev\nArchitecture: any\n"
		s := src(t, "1.0", ctl)
		s.Cost = cost
		return s
	}
	return []graph.Source{
		mk("top", "left-dev, right-dev", 1),
		mk("left", "base-dev", 10),
		mk("right", "base-dev", 3),
		mk("base", "", 2),
		mk("lone", "", 5),
	}
}

func TestOrderAndCriticalPath(t *testing.T) {
	g, err := graph.Compile(diamond(t), graph.Options{Arch: "amd64"})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"base", "left", "lone", "right", "top"}; !reflect.DeepEqual(g.Order, want) {
		t.Errorf("order = %q, want %q", g.Order, want)
	}
	path, cost := g.CriticalPath()
	if want := []string{"base", "left", "top"}; !reflect.DeepEqual(path, want) || cost != 13 {
		t.Errorf("critical path = %q (%v), want %q (13)", path, cost, want)
	}
	if bl := g.BottomLevel("right"); bl != 4 {
		t.Errorf("bottom level of right = %v, want 4", bl)
	}
}

func TestSelect(t *testing.T) {
	g, err := graph.Compile(diamond(t), graph.Options{Arch: "amd64"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		roots []string
		dir   graph.Direction
		want  []string
	}{
		{[]string{"top"}, graph.Needs, []string{"base", "left", "right", "top"}},
		{[]string{"left"}, graph.Needs, []string{"base", "left"}},
		{[]string{"base"}, graph.Dependents, []string{"base", "left", "right", "top"}},
		{[]string{"right", "lone"}, graph.Dependents, []string{"lone", "right", "top"}},
	}
	for _, tc := range tests {
		s, err := g.Select(tc.roots, tc.dir)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(s.Order, tc.want) {
			t.Errorf("Select(%q, %v) order = %q, want %q", tc.roots, tc.dir, s.Order, tc.want)
		}
		for _, e := range s.Edges {
			if s.Node(e.From) == nil || s.Node(e.To) == nil {
				t.Errorf("edge %v leaves the subgraph", e)
			}
		}
	}
	if _, err := g.Select([]string{"nope"}, graph.Needs); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("unknown root: err = %v", err)
	}
	s, _ := g.Select([]string{"right"}, graph.Needs)
	if path, cost := s.CriticalPath(); !reflect.DeepEqual(path, []string{"base", "right"}) || cost != 5 {
		t.Errorf("subgraph critical path = %q %v", path, cost)
	}
}

func TestWhy(t *testing.T) {
	g, err := graph.Compile(diamond(t), graph.Options{Arch: "amd64"})
	if err != nil {
		t.Fatal(err)
	}
	chain, err := g.Why("top", "base")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range chain {
		got = append(got, e.From+"->"+e.To+"/"+e.Via)
	}
	if want := []string{"top->left/left-dev", "left->base/base-dev"}; !reflect.DeepEqual(got, want) {
		t.Errorf("why = %q, want %q", got, want)
	}
	if _, err := g.Why("base", "top"); err == nil || err.Error() != "base does not build-depend on top on amd64" {
		t.Errorf("reverse why: err = %v", err)
	}
}
