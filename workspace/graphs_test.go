package workspace

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/stx-build/stx-build/graph"
)

func TestGraphs(t *testing.T) {
	ctx := context.Background()
	ws := openExample(t, "amd64")
	gs, err := ws.Graphs(ctx, []string{"amd64", "arm64"}, nil, graph.Needs, false)
	if err != nil || len(gs) != 2 || gs[0].Arch != "amd64" || gs[1].Arch != "arm64" {
		t.Fatalf("graphs %v, %v", gs, err)
	}
	full := len(gs[0].Nodes)
	// libstx needs nothing of the project; nothing needs stx-tools.
	for _, tc := range []struct {
		pkg string
		dir graph.Direction
	}{{"libstx", graph.Needs}, {"stx-tools", graph.Dependents}} {
		gs, err := ws.Graphs(ctx, []string{"amd64"}, []string{tc.pkg}, tc.dir, false)
		if err != nil || len(gs) != 1 || len(gs[0].Nodes) != 1 || full <= 1 {
			t.Errorf("%s (direction %d): %v, %v", tc.pkg, tc.dir, gs, err)
		}
	}
	if _, err := ws.Graphs(ctx, []string{"amd64"}, []string{"nope"}, graph.Needs, false); err == nil {
		t.Error("an unknown package selected")
	}

	cyc, err := Open(Options{Dir: filepath.Join("..", "cmd", "stx-build", "testdata", "cycle"), CacheDir: t.TempDir(), HostArch: "amd64"})
	if err != nil {
		t.Fatal(err)
	}
	var ce *graph.CycleError
	if gs, err := cyc.Graphs(ctx, []string{"amd64"}, nil, graph.Needs, false); !errors.As(err, &ce) || gs != nil {
		t.Errorf("cycle: %v, %v", gs, err)
	}
	if gs, err := cyc.Graphs(ctx, []string{"amd64"}, nil, graph.Needs, true); !errors.As(err, &ce) || len(gs) != 1 || gs[0].Cycles == nil || len(gs[0].Cycles.Shown) == 0 {
		t.Errorf("cycle kept: %v, %v", gs, err)
	}
	if gs, err := cyc.Graphs(ctx, []string{"amd64"}, []string{"aa"}, graph.Needs, true); !errors.As(err, &ce) || gs != nil {
		t.Errorf("cycle with a selection: %v, %v", gs, err)
	}
}
