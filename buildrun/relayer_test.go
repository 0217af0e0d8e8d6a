package buildrun

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stx-build/stx-build/scheduler/history"
	"github.com/stx-build/stx-build/workspace"
)

// TestRelayer: after stx-hello changed, the plan takes libstx from the
// cache; stx-hello's build takes its resolution and layer from the cache
// (libstx is as it was), while stx-docs and stx-tools, which build-depend
// on the new stx-hello, make new layers; stx-tools resolves again too,
// its record being of other repositories. Each estimate follows from the
// history of the build before, which made everything.
func TestRelayer(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "project")
	if err := os.CopyFS(dir, os.DirFS(filepath.Join("..", "examples"))); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(dir, "packages", "hello")); err != nil {
		t.Fatal(err)
	}
	cache := t.TempDir()
	ws, err := workspace.Open(workspace.Options{Dir: dir, CacheDir: cache})
	if err != nil {
		t.Fatal(err)
	}
	hist := &history.Store{Dir: historyDir(ws)}
	for _, name := range []string{"libstx", "stx-hello", "stx-docs", "stx-tools", "stx-bootmarker"} {
		// stx-tools resolved against other repositories than there are now.
		view := "v1"
		if name == "stx-tools" {
			view = "v0"
		}
		if err := hist.Add(history.Record{Package: name, Version: "1.0", Arch: "amd64", Seconds: 62, OnTmpfs: true, ReposView: view, Phases: []history.Phase{
			{Name: "unpack", Seconds: 1}, {Name: history.PhaseResolve, Seconds: 20}, {Name: history.PhaseEnvironment, Seconds: 10},
			{Name: "build", Seconds: 30}, {Name: "collect", Seconds: 1},
		}}); err != nil {
			t.Fatal(err)
		}
	}
	js, dag, err := jobs(context.Background(), ws, []string{"amd64"}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i, j := range js {
		j.est.view = "v1" // the output tree's repositories
		estimateAgain(js, dag, i)
	}
	for i, j := range js {
		if j.node.Name == "libstx" || j.node.Name == "stx-bootmarker" {
			dag.Tasks[i] = cachedTask(dag.Tasks[i], 1000)
			j.task = dag.Tasks[i]
		}
	}
	relayer(js, dag)
	relayer(js, dag) // once is all it does
	cached := 2 * history.CachedPhaseSeconds
	want := map[string]float64{
		"libstx:amd64":    restoreSeconds + 1000/restoreBytesPerSec,
		"stx-hello:amd64": 62 - 30 + cached,
		"stx-docs:amd64":  62 - 20 + cached/2,
		"stx-tools:amd64": 62,
	}
	for i, tk := range dag.Tasks {
		w, ok := want[tk.ID]
		if !ok {
			continue
		}
		if math.Abs(tk.Seconds-w) > 1e-9 || js[i].task.Seconds != tk.Seconds || !strings.HasPrefix(tk.Source, "history") && tk.Source != "cached" {
			t.Errorf("%s: %v s (%s), want %v", tk.ID, tk.Seconds, tk.Source, w)
		}
	}
}
