package workspace

import (
	"context"
	"errors"

	"github.com/stx-build/stx-build/graph"
)

// Graphs compiles the graph of each of archs, in order (see Graph). With
// sel, each graph is cut down to those packages and what they need (dir
// graph.Needs) or what needs them (graph.Dependents).
//
// A build-dependency cycle ends it with the *graph.CycleError, unless
// keepCycles is set and sel is empty: then the cyclic graph, which carries
// the cycles and the suggested breaks, is kept, the other architectures are
// compiled too, and every graph is returned with the cycle error (of the
// last cyclic architecture).
func (w *Workspace) Graphs(ctx context.Context, archs, sel []string, dir graph.Direction, keepCycles bool) ([]*graph.Graph, error) {
	var gs []*graph.Graph
	var cycle error
	for _, a := range archs {
		g, err := w.Graph(ctx, a)
		var ce *graph.CycleError
		if errors.As(err, &ce) && keepCycles && len(sel) == 0 {
			gs, cycle = append(gs, g), err
			continue
		}
		if err != nil {
			return nil, err
		}
		if len(sel) > 0 {
			if g, err = g.Select(sel, dir); err != nil {
				return nil, err
			}
		}
		gs = append(gs, g)
	}
	return gs, cycle
}
