package main

import (
	"fmt"
	"io"

	"github.com/stx-build/stx-build/graph"
	"github.com/stx-build/stx-build/workspace"
)

// printStarlingXDiagnostics writes what was found wrong in the project's
// StarlingX tree, if it reads one, one diagnostic a line.
func printStarlingXDiagnostics(w io.Writer, ws *workspace.Workspace) {
	tr := ws.StarlingX()
	if tr == nil {
		return
	}
	for _, d := range tr.Diagnostics {
		fmt.Fprintf(w, "%s\n", d)
	}
}

// unresolvedError is the exit status 4 error when a graph left packages
// out (they are listed in the graph output).
func unresolvedError(gs []*graph.Graph) error {
	seen := map[string]bool{}
	for _, g := range gs {
		for _, u := range g.Unresolved {
			seen[u.Package] = true
		}
	}
	if len(seen) == 0 {
		return nil
	}
	return exitError{code: exitUnresolved, err: fmt.Errorf("%d package(s) unresolved: the graph is partial (see the unresolved list)", len(seen))}
}
