package workspace

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"testing"
)

// starlingxSample is ../shared/starlingx-sample beside the repository.
func starlingxSample(t testing.TB) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Join(filepath.Dir(file), "..", "..", "shared", "starlingx-sample")
	if _, err := os.Stat(filepath.Join(dir, "cgcs-root", "stx")); err != nil {
		t.Skipf("StarlingX sample tree not found at %s (it lives in ../shared beside the repository)", dir)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

// stxProject writes a project reading the sample for suite.
func stxProject(t *testing.T, suite, extra string) string {
	dir := t.TempDir()
	root, err := filepath.Rel(dir, starlingxSample(t))
	if err != nil {
		t.Fatal(err)
	}
	y := fmt.Sprintf("name: starlingx\nsuite: %s\narchitectures: [amd64]\nstarlingx:\n  root: %s\n  build-type: std\n%s", suite, root, extra)
	if err := os.WriteFile(filepath.Join(dir, "stx.yaml"), []byte(y), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestStarlingXGraphEdges compiles the graph of the sample and compares its
// edges with a plain reading of the control files in the tree: for every
// two packages whose debian/ is in the tree (deb_folder), A -> B when a
// Build-Depends* name of A is a binary B's control declares.
func TestStarlingXGraphEdges(t *testing.T) {
	for _, suite := range []string{"trixie", "bullseye"} {
		t.Run(suite, func(t *testing.T) {
			w, err := Open(Options{Dir: stxProject(t, suite, ""), CacheDir: t.TempDir(), HostArch: "amd64"})
			if err != nil {
				t.Fatal(err)
			}
			g, err := w.Graph(context.Background(), "amd64")
			if err != nil {
				t.Fatal(err)
			}
			if len(g.Nodes)+len(g.Unresolved) != len(w.StarlingX().Packages) {
				t.Errorf("%d nodes + %d unresolved, want the tree's %d packages", len(g.Nodes), len(g.Unresolved), len(w.StarlingX().Packages))
			}
			for _, u := range g.Unresolved {
				if u.Reason == "" {
					t.Errorf("%s: unresolved without a reason", u.Package)
				}
			}
			var got []string
			for _, e := range g.Edges {
				got = append(got, e.From+" -> "+e.To)
			}
			got = uniq(got)
			want := controlEdges(t, w, g.Nodes)
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("edges differ\n got: %q\nwant: %q", got, want)
			}
			t.Logf("%s: %d packages in the graph, %d unresolved, %d edges: %v", suite, len(g.Nodes), len(g.Unresolved), len(got), got)
		})
	}
}

var relationName = regexp.MustCompile(`^\s*([a-z0-9][a-z0-9+.-]*)`)

// controlEdges reads the deb_folder/control of every package whose
// debian/ is in the tree by hand.
func controlEdges(t *testing.T, w *Workspace, nodes any) []string {
	t.Helper()
	type pkg struct {
		deps, indep []string
		binaries    []string
		archAll     bool
	}
	pkgs := map[string]pkg{}
	for name, sp := range w.stx.byName {
		if sp.DebFolder == "" {
			continue
		}
		data, err := os.ReadFile(filepath.Join(sp.DebFolder, "control"))
		if err != nil {
			continue
		}
		var p pkg
		field := ""
		for _, line := range strings.Split(string(data), "\n") {
			if strings.HasPrefix(line, "#") {
				continue
			}
			if line != "" && (line[0] == ' ' || line[0] == '\t') {
				switch field {
				case "deps":
					p.deps = append(p.deps, relations(line)...)
				case "indep":
					p.indep = append(p.indep, relations(line)...)
				}
				continue
			}
			field = ""
			k, v, _ := strings.Cut(line, ":")
			switch strings.ToLower(k) {
			case "build-depends", "build-depends-arch":
				field = "deps"
				p.deps = append(p.deps, relations(v)...)
			case "build-depends-indep":
				field = "indep"
				p.indep = append(p.indep, relations(v)...)
			case "architecture":
				p.archAll = p.archAll || strings.TrimSpace(v) == "all"
			case "package":
				p.binaries = append(p.binaries, strings.TrimSpace(v))
			}
		}
		// Build-Depends-Indep is installed only when arch-independent
		// binaries are built (dpkg-buildpackage -B otherwise). StarlingX's
		// dsc_depend.py keeps it for every package: an ordering it
		// imposes that a build does not need.
		if p.archAll {
			p.deps = append(p.deps, p.indep...)
		}
		pkgs[name] = p
	}
	var edges []string
	for a, pa := range pkgs {
		if w.stxResolved(a) {
			for b, pb := range pkgs {
				if a == b || !w.stxResolved(b) {
					continue
				}
				for _, d := range pa.deps {
					if contains(pb.binaries, d) {
						edges = append(edges, a+" -> "+b)
					}
				}
			}
		}
	}
	return uniq(edges)
}

// relations returns the package names of a relation field's text: every
// alternative, without versions, architectures or profiles.
func relations(v string) []string {
	var out []string
	for _, rel := range strings.Split(v, ",") {
		for _, alt := range strings.Split(rel, "|") {
			if m := relationName.FindStringSubmatch(alt); m != nil {
				out = append(out, m[1])
			}
		}
	}
	return out
}

func contains(xs []string, x string) bool {
	for _, s := range xs {
		if s == x {
			return true
		}
	}
	return false
}

func uniq(xs []string) []string {
	sort.Strings(xs)
	out := xs[:0]
	for i, x := range xs {
		if i == 0 || x != xs[i-1] {
			out = append(out, x)
		}
	}
	return out
}
