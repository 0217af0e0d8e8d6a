// The import rules of the module, checked with go list so that an import
// against them fails the tests: arrows point down (cmd -> builders ->
// runner/cache/repo/rootfs -> graph/manifests), never up.
package stxbuild_test

import (
	"bufio"
	"bytes"
	"go/build"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/stx-build/stx-build"

// pkgInfo is one package of the module as go list sees it.
type pkgInfo struct {
	path    string   // relative to the module: "graph", "runner/buildkit"
	imports []string // direct imports, full paths
	deps    []string // transitive imports, full paths
}

// listModule runs go list over every package of the module (tests
// excluded: they may reach further than the code they test).
func listModule(t *testing.T) []pkgInfo {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(build.Default.GOROOT, "bin", "go")
	}
	cmd := exec.Command(goBin, "list", "-e", "-f", "{{.ImportPath}}|{{join .Imports \" \"}}|{{join .Deps \" \"}}", "./...")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.Bytes())
	}
	var pkgs []pkgInfo
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		fields := strings.Split(sc.Text(), "|")
		if len(fields) != 3 {
			t.Fatalf("go list: unexpected line %q", sc.Text())
		}
		rel, ok := strings.CutPrefix(fields[0], module)
		if !ok {
			continue
		}
		pkgs = append(pkgs, pkgInfo{
			path:    strings.TrimPrefix(rel, "/"),
			imports: strings.Fields(fields[1]),
			deps:    strings.Fields(fields[2]),
		})
	}
	if len(pkgs) == 0 {
		t.Fatal("go list found no package of the module")
	}
	return pkgs
}

// under reports whether the module-relative path p is dir or below it.
func under(p, dir string) bool { return p == dir || strings.HasPrefix(p, dir+"/") }

// local returns the module-relative path of an import, or ok false for
// another module's or the standard library's package.
func local(imp string) (string, bool) {
	if imp == module {
		return "", true
	}
	rel, ok := strings.CutPrefix(imp, module+"/")
	return rel, ok
}

// standard reports whether imp is a standard library package (no dot in
// its first element).
func standard(imp string) bool {
	first, _, _ := strings.Cut(imp, "/")
	return !strings.Contains(first, ".")
}

// leaves import nothing of the module: anything may use them.
var leaves = []string{"dag", "deb822", "internal/atomicfile", "internal/debfile", "internal/regularfile", "layer", "registry"}

// rules are the import rules, each about a set of packages.
var rules = []struct {
	name string
	// applies selects the packages the rule is about.
	applies func(p pkgInfo) bool
	// direct checks only direct imports (else every transitive one).
	direct bool
	// bad says whether a package may not import imp.
	bad func(imp string) bool
}{{
	name:    "a runner executes builds, it never depends on a builder",
	applies: func(p pkgInfo) bool { return under(p.path, "runner") },
	bad: func(imp string) bool {
		rel, ok := local(imp)
		return ok && under(rel, "builders")
	},
}, {
	name:    "graph is pure: the standard library and pault.ag/go/debian only",
	applies: func(p pkgInfo) bool { return under(p.path, "graph") },
	direct:  true,
	bad: func(imp string) bool {
		if rel, ok := local(imp); ok {
			return !under(rel, "graph") && !under(rel, "dag")
		}
		return !standard(imp) && imp != "pault.ag/go/debian" && !strings.HasPrefix(imp, "pault.ag/go/debian/")
	},
}, {
	name:    "only cmd/ parses command lines (cobra)",
	applies: func(p pkgInfo) bool { return !under(p.path, "cmd") },
	bad: func(imp string) bool {
		return imp == "github.com/spf13/cobra" || strings.HasPrefix(imp, "github.com/spf13/cobra/")
	},
}, {
	name:    "leaf packages import nothing of the module",
	applies: func(p pkgInfo) bool { return slices.Contains(leaves, p.path) },
	direct:  true,
	bad: func(imp string) bool {
		_, ok := local(imp)
		return ok
	},
}}

// violations returns one line per import against a rule, and one per rule
// that applies to no package (a renamed directory would otherwise turn it
// off silently).
func violations(pkgs []pkgInfo) []string {
	var out []string
	for _, r := range rules {
		seen := 0
		for _, p := range pkgs {
			if !r.applies(p) {
				continue
			}
			seen++
			imps := p.deps
			if r.direct {
				imps = p.imports
			}
			for _, imp := range imps {
				if r.bad(imp) {
					out = append(out, p.path+" imports "+imp+": "+r.name)
				}
			}
		}
		if seen == 0 {
			out = append(out, "rule applies to no package: "+r.name)
		}
	}
	return out
}

func TestImports(t *testing.T) {
	for _, v := range violations(listModule(t)) {
		t.Error(v)
	}
}

// Each rule catches what it is about, transitive imports included.
func TestImportRules(t *testing.T) {
	m := func(rel string) string { return module + "/" + rel }
	clean := []pkgInfo{
		{path: "runner", deps: []string{"os", m("internal/mountinfo")}},
		{path: "graph", imports: []string{"sort", "pault.ag/go/debian/version", m("dag")}},
		{path: "cmd/stx-build", deps: []string{"github.com/spf13/cobra"}},
		{path: "layer", imports: []string{"archive/tar", "github.com/google/go-containerregistry/pkg/v1"}},
		{path: "registry", imports: []string{"net"}},
		{path: "dag", imports: []string{"math/bits"}},
	}
	if v := violations(clean); len(v) != 0 {
		t.Fatalf("clean module: %q", v)
	}
	for _, tc := range []struct {
		bad  pkgInfo
		want string
	}{
		{pkgInfo{path: "runner/buildkit", deps: []string{m("layer"), m("builders/image")}}, "runner/buildkit imports " + m("builders/image")},
		{pkgInfo{path: "graph", imports: []string{"gopkg.in/yaml.v3"}}, "graph imports gopkg.in/yaml.v3"},
		{pkgInfo{path: "graph/x", imports: []string{m("manifests")}}, "graph/x imports " + m("manifests")},
		{pkgInfo{path: "workspace", deps: []string{"github.com/spf13/pflag", "github.com/spf13/cobra"}}, "workspace imports github.com/spf13/cobra"},
		{pkgInfo{path: "layer", imports: []string{m("rootfs")}}, "layer imports " + m("rootfs")},
	} {
		v := violations(append(slices.Clone(clean), tc.bad))
		if len(v) != 1 || !strings.HasPrefix(v[0], tc.want+": ") {
			t.Errorf("%s: violations %q, want one starting %q", tc.bad.path, v, tc.want)
		}
	}
}
