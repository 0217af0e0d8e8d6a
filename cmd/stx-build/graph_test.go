package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

// run executes the CLI with args and returns stdout and the error. The
// host checks before commands are off unless the test turns them on
// (TestPreflight): these tests are about the commands' own input checks.
func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	if _, set := os.LookupEnv(noPreflightEnv); !set {
		t.Setenv(noPreflightEnv, "1")
	}
	cmd := newRoot()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(append([]string{"--cache-dir", t.TempDir()}, args...))
	err := cmd.Execute()
	return out.String(), err
}

// localExample copies the example project without the package fetched from
// the archive, so the test needs no network.
func localExample(t *testing.T) string {
	t.Helper()
	dst := t.TempDir()
	src := filepath.Join("..", "..", "examples")
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if strings.HasPrefix(rel, filepath.Join("packages", "hello")) {
			return nil
		}
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	file := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (run: make golden)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (make golden to accept):\n--- got\n%s\n--- want\n%s", file, got, want)
	}
}

func TestGraphGolden(t *testing.T) {
	dir := localExample(t)
	tests := []struct {
		golden string
		args   []string
	}{
		{"graph-text.golden", []string{"graph", "-C", dir}},
		{"graph-amd64-json.golden", []string{"graph", "-C", dir, "--arch", "amd64", "--format", "json"}},
		{"graph-arm64-dot.golden", []string{"graph", "-C", dir, "--arch", "arm64", "--format", "dot"}},
		{"graph-nocheck-text.golden", []string{"graph", "-C", dir, "--arch", "amd64", "--profile", "nocheck"}},
		{"graph-dependents-text.golden", []string{"graph", "-C", dir, "--arch", "amd64", "--dependents", "stx-hello"}},
		{"graph-needs-text.golden", []string{"graph", "-C", dir, "--arch", "arm64", "stx-tools"}},
		{"graph-why.golden", []string{"graph", "-C", dir, "--why", "stx-docs", "libstx"}},
	}
	for _, tc := range tests {
		t.Run(tc.golden, func(t *testing.T) {
			out, err := run(t, tc.args...)
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			golden(t, tc.golden, out)
		})
	}
}

func TestGraphJSONShape(t *testing.T) {
	out, err := run(t, "graph", "-C", localExample(t), "--arch", "amd64", "--format", "json")
	if err != nil {
		t.Fatal(err)
	}
	var g struct {
		Nodes []struct {
			Name     string   `json:"name"`
			Version  string   `json:"version"`
			Binaries []string `json:"binaries"`
		} `json:"nodes"`
		Edges []struct {
			From, To, Via string
		} `json:"edges"`
		Order        []string `json:"order"`
		External     []any    `json:"external"`
		CriticalPath struct {
			Packages []string `json:"packages"`
		} `json:"critical_path"`
	}
	if err := json.Unmarshal([]byte(out), &g); err != nil {
		t.Fatal(err)
	}
	if len(g.Nodes) != 5 || len(g.Order) != 5 || len(g.Edges) == 0 || len(g.External) == 0 || len(g.CriticalPath.Packages) == 0 {
		t.Errorf("unexpected JSON: %s", out)
	}
	pos := map[string]int{}
	for i, n := range g.Order {
		pos[n] = i
	}
	for _, e := range g.Edges {
		if pos[e.From] <= pos[e.To] {
			t.Errorf("order puts %s before its build-dep %s", e.From, e.To)
		}
	}
}

func TestGraphErrors(t *testing.T) {
	dir := localExample(t)
	tests := []struct {
		name string
		args []string
		want string
		code int
	}{
		{"cycle", []string{"graph", "-C", "testdata/cycle"}, "build-dependency cycle on amd64:\n  aa -> bb (via libbb-dev) -> aa (via libaa-dev)", exitCycle},
		{"unknown arch", []string{"graph", "-C", dir, "--arch", "riscv64"}, "--arch riscv64: the project builds [amd64 arm64]", 0},
		{"bad format", []string{"graph", "-C", dir, "--format", "yaml"}, `--format "yaml": want text, dot or json`, 0},
		{"unknown package", []string{"graph", "-C", dir, "--arch", "amd64", "nope"}, "unknown package(s) on amd64: nope", 0},
		{"why needs two", []string{"graph", "-C", dir, "--why", "libstx"}, "--why takes exactly two packages: A B", 0},
		{"why unrelated", []string{"graph", "-C", dir, "--why", "libstx", "stx-tools"}, "libstx does not build-depend on stx-tools on any architecture", 0},
		{"no project", []string{"graph", "-C", t.TempDir()}, "stx.yaml: no such file or directory", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := run(t, tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
			var ee exitError
			if tc.code != 0 && (!errors.As(err, &ee) || ee.code != tc.code) {
				t.Errorf("exit code: %v, want %d", err, tc.code)
			}
		})
	}
}

func TestGraphBadManifestsAllReported(t *testing.T) {
	dir := localExample(t)
	write := func(rel, data string) {
		if err := os.WriteFile(filepath.Join(dir, rel), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("packages/libstx/package.yaml", "name: libstx\nsource:\n  local: src\nbuild:\n  jobs: -1\n")
	write("packages/stx-hello/package.yaml", "name: stx-hello\nsource:\n  local: src\n  debian: stx-hello=1.0\nflavour: x\n")
	_, err := run(t, "graph", "-C", dir)
	if err == nil {
		t.Fatal("want an error")
	}
	msg := err.Error()
	for _, want := range []string{"packages/libstx/package.yaml:5:", "build.jobs", "packages/stx-hello/package.yaml:", "flavour"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error does not mention %q:\n%s", want, msg)
		}
	}
}

// TestGraphExampleWithArchive runs the real example, fetching hello through
// the private apt environment (network: the host's configured mirror).
func TestGraphExampleWithArchive(t *testing.T) {
	if testing.Short() {
		t.Skip("fetches hello from the archive")
	}
	out, err := run(t, "graph", "-C", filepath.Join("..", "..", "examples"), "--arch", "amd64")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(out, "hello 2.10-3") || !strings.Contains(out, "hello: texinfo") {
		t.Errorf("hello and its archive build-deps missing:\n%s", out)
	}
}

// TestGraphCycles: on a cycle, --format json still prints the graph with
// its cycles and the suggested breaks (exit status exitCycle), and with
// cycles: archive the graph is printed with the edge it cut.
func TestGraphCycles(t *testing.T) {
	out, err := run(t, "graph", "-C", "testdata/cycle", "--format", "json")
	var ee exitError
	if !errors.As(err, &ee) || ee.code != exitCycle {
		t.Fatalf("exit: %v, want code %d", err, exitCycle)
	}
	var g struct {
		Cycles []struct {
			Packages []string `json:"packages"`
		} `json:"cycles"`
		Breaks []map[string]string `json:"suggested_breaks"`
	}
	if err := json.Unmarshal([]byte(out[:strings.LastIndex(out, "}")+1]), &g); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	if len(g.Cycles) != 1 || len(g.Breaks) != 1 || g.Breaks[0]["package"] == "" {
		t.Errorf("cycles %v, suggested_breaks %v", g.Cycles, g.Breaks)
	}

	dir := t.TempDir()
	err = filepath.WalkDir("testdata/cycle", func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel("testdata/cycle", p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dir, rel), 0o755)
		}
		data, err := os.ReadFile(p)
		if rel == "stx.yaml" {
			data = append(data, "cycles: archive\n"...)
		}
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, rel), data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	out, err = run(t, "graph", "-C", dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"cycles: archive: 1 cycle-break applied to 1 cycle component (the fewest possible):", "taken from the archive (cycles: archive)"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// plan says which edge it cut.
	out, err = run(t, "plan", "-C", dir, "--no-tmpfs", "--jobs", "2")
	if err != nil {
		t.Fatal(err)
	}
	if want := "taken from the archive: cycles: archive: breaks "; !strings.Contains(out, want) {
		t.Errorf("plan output lacks %q:\n%s", want, out)
	}
}

// TestGraphStarlingXPartial prints the graph of a project reading the
// StarlingX sample: the packages whose debian/ is in the tree are in it,
// the others are listed as unresolved, and the exit status is 4.
func TestGraphStarlingXPartial(t *testing.T) {
	sample, err := filepath.Abs(filepath.Join("..", "..", "..", "shared", "starlingx-sample"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(sample, "cgcs-root", "stx")); err != nil {
		t.Skipf("StarlingX sample tree not found at %s (it lives in ../shared beside the repository)", sample)
	}
	proj := t.TempDir()
	y := "name: starlingx\nsuite: trixie\narchitectures: [amd64]\nstarlingx:\n  root: " + sample + "\n  build-type: std\n"
	if err := os.WriteFile(filepath.Join(proj, "stx.yaml"), []byte(y), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := run(t, "graph", "-C", proj, "--format", "json")
	var ee exitError
	if !errors.As(err, &ee) || ee.code != exitUnresolved {
		t.Fatalf("err = %v, want exit status %d", err, exitUnresolved)
	}
	// Diagnostics go to stderr, which run merges: the JSON starts at a
	// line that is "{".
	var g struct {
		Nodes      []struct{ Name string }
		Edges      []struct{ From, To string }
		Unresolved []struct{ Package, Reason string }
	}
	if err := json.Unmarshal([]byte(out[strings.Index(out, "\n{\n")+1:]), &g); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if len(g.Nodes) != 25 || len(g.Unresolved) != 20 || len(g.Edges) == 0 {
		t.Errorf("%d nodes, %d unresolved, %d edges; want 25, 20 and some", len(g.Nodes), len(g.Unresolved), len(g.Edges))
	}
	if !strings.Contains(out, "deb_name: unknown key") {
		t.Errorf("the tree's diagnostics are not reported:\n%.2000s", out)
	}
	text, err := run(t, "graph", "-C", proj)
	if !errors.As(err, &ee) || ee.code != exitUnresolved || !strings.Contains(text, "unresolved (left out of the graph") {
		t.Errorf("text: err %v, output:\n%s", err, text)
	}
}
