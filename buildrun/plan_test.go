package buildrun_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stx-build/stx-build/buildrun"
	"github.com/stx-build/stx-build/scheduler"
	"github.com/stx-build/stx-build/scheduler/history"
	"github.com/stx-build/stx-build/workspace"
)

func planFor(t *testing.T, dir, cache string, opts buildrun.Options) map[string]scheduler.Item {
	t.Helper()
	ws, err := workspace.Open(workspace.Options{Dir: dir, CacheDir: cache})
	if err != nil {
		t.Fatal(err)
	}
	p, err := buildrun.Plan(context.Background(), ws, opts)
	if err != nil {
		t.Fatal(err)
	}
	items := map[string]scheduler.Item{}
	for _, it := range p.Items {
		items[it.ID] = it
	}
	return items
}

// The plan of the example (local packages): one task per package and
// architecture; a later architecture's build after the first one's;
// Architecture: all only packages just published on arm64; estimates from
// costs, history, the manifest and the source's size.
func TestPlanExample(t *testing.T) {
	dir := copyProject(t, t.TempDir(), false)
	cache := t.TempDir()
	hist := &history.Store{Dir: filepath.Join(cache, "history")}
	if err := hist.Add(history.Record{Package: "stx-hello", Version: "1.0", Arch: "amd64", Seconds: 48, PeakBytes: 300 << 20, OnTmpfs: true}); err != nil {
		t.Fatal(err)
	}
	// Built on disk: the tmpfs estimate is the time / DiskFactor.
	if err := hist.Add(history.Record{Package: "stx-hello", Version: "0.9", Arch: "arm64", Seconds: 24, OnTmpfs: false}); err != nil {
		t.Fatal(err)
	}
	items := planFor(t, dir, cache, buildrun.Options{
		Jobs: 2, Cores: 2, TmpfsBudget: 8 << 30,
		Costs: scheduler.Costs{"stx-tools": {Seconds: 100, PeakBytes: 1 << 30}},
	})
	var ids []string
	for id := range items {
		ids = append(ids, id)
	}
	if len(items) != 10 {
		t.Fatalf("%d tasks: %v", len(items), ids)
	}
	for _, tc := range []struct {
		id, source string
		seconds    float64
	}{
		{"stx-tools:amd64", "costs", 100},
		{"stx-hello:amd64", "history", 48},
		{"stx-hello:arm64", "history of 0.9 arm64", 20},
		{"libstx:amd64", "manifest", 30},
		{"stx-docs:arm64", "publish", 1},
	} {
		it := items[tc.id]
		if it.Source != tc.source || it.Seconds != tc.seconds {
			t.Errorf("%s: estimate %g (%s), want %g (%s)", tc.id, it.Seconds, it.Source, tc.seconds, tc.source)
		}
	}
	if it := items["stx-bootmarker:amd64"]; it.Source != "size" || it.Seconds < 30 || it.Seconds > 31 {
		t.Errorf("stx-bootmarker: %+v, want a size estimate just over 30 s", it)
	}
	for _, name := range []string{"libstx", "stx-hello", "stx-tools", "stx-docs", "stx-bootmarker"} {
		a, b := items[name+":amd64"], items[name+":arm64"]
		if b.Start < a.End {
			t.Errorf("%s:arm64 starts at %g before %s:amd64 ends at %g", name, b.Start, name, a.End)
		}
	}
	if it := items["stx-tools:amd64"]; it.Start < items["stx-hello:amd64"].End || it.Start < items["libstx:amd64"].End {
		t.Errorf("stx-tools before its build-deps: %+v", it)
	}
}

func TestPlanSelectionAndErrors(t *testing.T) {
	dir := copyProject(t, t.TempDir(), false)
	items := planFor(t, dir, t.TempDir(), buildrun.Options{Archs: []string{"arm64"}, Packages: []string{"stx-hello"}, NoTmpfs: true})
	if len(items) != 2 || items["libstx:arm64"].Where != "disk" {
		t.Errorf("arm64 stx-hello plan: %+v", items)
	}
	ws, err := workspace.Open(workspace.Options{Dir: dir, CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := buildrun.Plan(context.Background(), ws, buildrun.Options{Archs: []string{"riscv64"}}); err == nil || !strings.Contains(err.Error(), "architecture riscv64") {
		t.Errorf("unknown arch: %v", err)
	}
}
