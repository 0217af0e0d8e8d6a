package workspace

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"testing"

	"github.com/stx-build/stx-build/graph"
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
			layerEdges := 0
			for _, e := range g.Edges {
				if e.Via == graph.ViaLayer {
					layerEdges++
					continue
				}
				got = append(got, e.From+" -> "+e.To)
			}
			got = uniq(got)
			want := controlEdges(t, w, g.Nodes)
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("edges differ\n got: %q\nwant: %q", got, want)
			}
			if layerEdges == 0 {
				t.Error("no layer ordering edges (distro before flock)")
			}
			t.Logf("%s: %d packages in the graph, %d unresolved, %d Build-Depends edges: %v; %d layer edges", suite, len(g.Nodes), len(g.Unresolved), len(got), got, layerEdges)
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
		// StarlingX installs Build-Depends-Indep for every package (sbuild
		// builds arch-all too), and so does stx-build for tree packages
		// (mergeIndepControl): it always counts.
		p.deps = append(p.deps, p.indep...)
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

// TestStarlingXPrepare assembles a src_path package from a small tree and
// checks that a package stx-build cannot prepare (its dl_hook script is
// missing) stops Prepare, before anything is fetched, until it is excluded.
func TestStarlingXPrepare(t *testing.T) {
	root := t.TempDir()
	repo := filepath.Join(root, "cgcs-root", "stx", "r")
	files := map[string]string{
		"debian_trixie_pkg_dirs_std":               "tool\nhooked\n",
		"tool/debian/all/meta_data.yaml":           "debver: 1.0-1\nsrc_path: src\nsrc_files:\n  - extra.conf\nrevision:\n  dist: $STX_DIST\n  PKG_GITREVCOUNT: true\n  stx_patch: 2\n",
		"tool/src/main.sh":                         "echo hi\n",
		"tool/extra.conf":                          "x=1\n",
		"tool/debian/all/files/README":             "readme\n",
		"tool/debian/all/deb_folder/control":       "Source: tool\nBuild-Depends: debhelper-compat (= 13)\nXS-Build-Size: 2GB\n\nPackage: tool@KERNEL_TYPE@\nArchitecture: all\nDescription: t\n x\n",
		"tool/debian/all/deb_folder/changelog":     "tool (1.0-1) unstable; urgency=medium\n\n  * x\n\n -- A <a@b.c>  Thu, 16 Apr 2026 13:49:15 -0400\n",
		"tool/debian/all/deb_folder/source/format": "3.0 (native)\n",
		"hooked/debian/all/meta_data.yaml":         "debname: hooked\ndebver: 2.0\ndl_hook: dl_hook\n",
	}
	for name, content := range files {
		write(t, filepath.Join(repo, name), content)
	}
	proj := t.TempDir()
	y := "name: s\nsuite: trixie\narchitectures: [amd64]\nstarlingx:\n  root: " + root + "\n"
	write(t, filepath.Join(proj, "stx.yaml"), y)
	w, err := Open(Options{Dir: proj, CacheDir: t.TempDir(), HostArch: "amd64"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = w.Prepare(context.Background())
	var ue *UnresolvedError
	if !errors.As(err, &ue) || len(ue.Packages) != 1 || ue.Packages[0].Package != "hooked" {
		t.Fatalf("Prepare: %v, want hooked unresolved", err)
	}
	if !strings.Contains(err.Error(), "dl_hook: cgcs-root/stx/r/hooked/debian/all/dl_hook is not in the tree") || !strings.Contains(err.Error(), "starlingx.exclude") {
		t.Errorf("error does not say why or what to do: %v", err)
	}

	write(t, filepath.Join(proj, "stx.yaml"), y+"  exclude: [hooked]\n")
	w, err = Open(Options{Dir: proj, CacheDir: t.TempDir(), HostArch: "amd64"})
	if err != nil {
		t.Fatal(err)
	}
	prepared, err := w.Prepare(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(prepared) != 1 {
		t.Fatalf("%d packages prepared, want 1", len(prepared))
	}
	pr := prepared[0]
	dir := pr.Fetched.Dir
	for name, want := range map[string]string{
		"main.sh":          "echo hi\n",
		"extra.conf":       "x=1\n",
		"README":           "readme\n",
		"debian/control":   strings.ReplaceAll(files["tool/debian/all/deb_folder/control"], "@KERNEL_TYPE@", ""),
		"debian/changelog": "tool (1.0-1.stx.2) stable; urgency=medium\n\n  * Built from the StarlingX tree by stx-build.\n\n -- A <a@b.c>  Thu, 16 Apr 2026 13:49:15 -0400\n\n" + files["tool/debian/all/deb_folder/changelog"],
	} {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || string(got) != want {
			t.Errorf("%s: %q (%v), want %q", name, got, err, want)
		}
	}
	if pr.Source.Version != "1.0-1.stx.2" {
		t.Errorf("version %s, want 1.0-1.stx.2 (not a git checkout: stx_patch only)", pr.Source.Version)
	}
	if pr.Package.Build.Tmpfs != "2GB" || !pr.Package.Build.Nocheck {
		t.Errorf("build options %+v: want tmpfs 2GB (XS-Build-Size) and nocheck", pr.Package.Build)
	}
}

func write(t *testing.T, file, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestStarlingXCircularDeps checks that circular_dep.conf's build order
// resolves a cycle: the edge pointing backwards in the order is taken from
// the archive; without the entry the cycle is an error. A package named
// twice in the order is built once, at its first place, as build-pkgs
// does (it skips a package already built in the round).
func TestStarlingXCircularDeps(t *testing.T) {
	for _, c := range []struct {
		conf     string // BUILD ORDER; "" for no circular_dep.conf
		order    string
		from, to string // the one edge left
	}{
		{"pb pa", "pb pa", "pa", "pb"},
		{"pb pa pb", "pb pa", "pa", "pb"},
		{"pa pb pa", "pa pb", "pb", "pa"},
		{"", "", "", ""},
	} {
		withConf := c.conf != ""
		root := t.TempDir()
		repo := filepath.Join(root, "cgcs-root", "stx", "r")
		write(t, filepath.Join(repo, "debian_trixie_pkg_dirs_std"), "pa\npb\n")
		for _, p := range []struct{ name, dep string }{{"pa", "libpb-dev"}, {"pb", "libpa-dev"}} {
			d := filepath.Join(repo, p.name, "debian", "all")
			write(t, filepath.Join(d, "meta_data.yaml"), "debver: 1.0-1\nsrc_path: src\n")
			write(t, filepath.Join(d, "deb_folder", "control"), "Source: "+p.name+"\nBuild-Depends: "+p.dep+"\n\nPackage: lib"+p.name+"-dev\nArchitecture: any\nDescription: x\n y\n")
			write(t, filepath.Join(d, "deb_folder", "changelog"), p.name+" (1.0-1) unstable; urgency=medium\n\n  * x\n\n -- A <a@b.c>  Thu, 16 Apr 2026 13:49:15 -0400\n")
		}
		if withConf {
			write(t, filepath.Join(root, "cgcs-root", "build-tools", "stx", "circular_dep.conf"), "# groups\nSRC SET: pa pb\nBUILD ORDER: "+c.conf+"\n")
		}
		proj := t.TempDir()
		write(t, filepath.Join(proj, "stx.yaml"), "name: s\nsuite: trixie\narchitectures: [amd64]\nstarlingx:\n  root: "+root+"\n")
		w, err := Open(Options{Dir: proj, CacheDir: t.TempDir(), HostArch: "amd64"})
		if err != nil {
			t.Fatal(err)
		}
		g, err := w.Graph(context.Background(), "amd64")
		if !withConf {
			var ce *graph.CycleError
			if !errors.As(err, &ce) {
				t.Errorf("without circular_dep.conf: %v, want a cycle error", err)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if len(g.Unresolved) > 0 {
			t.Fatalf("unresolved: %+v", g.Unresolved)
		}
		if got := strings.Join(g.Order, " "); got != c.order {
			t.Errorf("BUILD ORDER %s: order %q, want %q", c.conf, got, c.order)
		}
		// The first built takes the other's binary from the archive; the
		// edge of the second to the first stays.
		if len(g.Edges) != 1 || g.Edges[0].From != c.from || g.Edges[0].To != c.to {
			t.Errorf("BUILD ORDER %s: edges %+v, want only %s -> %s", c.conf, g.Edges, c.from, c.to)
		}
	}
}

// TestStarlingXSignBuildType: a sign project discovers its packages (for
// stx-build starlingx packages and graph) but Prepare refuses each, before
// fetching or running anything, saying why and what to do instead.
func TestStarlingXSignBuildType(t *testing.T) {
	root := t.TempDir()
	repo := filepath.Join(root, "cgcs-root", "stx", "kernel")
	write(t, filepath.Join(repo, "debian_trixie_pkg_dirs_sign"), "kernel-signed/kernel-std-signed\n")
	write(t, filepath.Join(repo, "debian_trixie_pkg_dirs_std"), "kernel-std\n")
	d := filepath.Join(repo, "kernel-signed", "kernel-std-signed", "debian", "all")
	write(t, filepath.Join(d, "meta_data.yaml"), "debver: 6.12.57\ndebname: kernel-std-signed\ndl_hook: dl_hook\n")
	if err := os.WriteFile(filepath.Join(d, "dl_hook"), []byte("#!/bin/sh\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(repo, "kernel-std", "debian", "all", "meta_data.yaml"), "debver: 6.12.57\ndebname: linux\nsrc_path: .\n")
	proj := t.TempDir()
	write(t, filepath.Join(proj, "stx.yaml"), "name: s\nsuite: trixie\narchitectures: [amd64]\nstarlingx:\n  root: "+root+"\n  build-type: sign\n")
	w, err := Open(Options{Dir: proj, CacheDir: t.TempDir(), HostArch: "amd64"})
	if err != nil {
		t.Fatal(err)
	}
	if names := w.StarlingX().Packages; len(names) != 1 || names[0].Name != "kernel-std-signed" {
		t.Fatalf("sign packages %+v, want kernel-std-signed alone", names)
	}
	_, err = w.Prepare(context.Background())
	var ue *UnresolvedError
	if !errors.As(err, &ue) || len(ue.Packages) != 1 || !strings.Contains(ue.Packages[0].Reason, "build type sign") || !strings.Contains(ue.Packages[0].Reason, "build-type std or rt") {
		t.Fatalf("Prepare: %v, want kernel-std-signed refused for build type sign", err)
	}
}
