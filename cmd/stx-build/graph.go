package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/stx-build/stx-build/graph"
)

// exitCycle is the exit status for a build-dependency cycle, so CI can tell
// it from other failures.
const exitCycle = 3

// exitUnresolved is the exit status of a graph printed without some of
// the project's packages (their sources could not be read here).
const exitUnresolved = 4

func newGraphCmd(g *globalFlags) *cobra.Command {
	var (
		arch       string
		format     string
		why        bool
		dependents bool
	)
	cmd := &cobra.Command{
		Use:   "graph [PKG...]",
		Short: "Print the build-dependency graph of the project",
		Long: `Compile the project's package manifests into the build-dependency DAG and print it.

Packages of a StarlingX tree whose sources cannot be read here are left
out, listed as unresolved with the reason (exit status 4).

With PKG arguments, only those packages and everything they need (or, with
--dependents, everything that needs them) are shown. With --why A B, the
chain of build-dependencies by which A needs B is printed.`,
		Example: `  stx-build graph -C examples
  stx-build graph -C examples --arch arm64 --format json
  stx-build graph -C examples --dependents libstx
  stx-build graph -C examples --why stx-tools libstx`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if why && len(args) != 2 {
				return fmt.Errorf("--why takes exactly two packages: A B")
			}
			write, ok := graphWriters[format]
			if !ok {
				return fmt.Errorf("--format %q: want text, dot or json", format)
			}
			ws, err := g.open()
			if err != nil {
				return err
			}
			printStarlingXDiagnostics(cmd.ErrOrStderr(), ws)
			var want []string
			if arch != "" {
				want = []string{arch}
			}
			archs, err := ws.Archs(want)
			if err != nil {
				return archFlagError(err)
			}
			out := cmd.OutOrStdout()
			var graphs []*graph.Graph
			var cycleErr error
			found := false
			for _, a := range archs {
				gr, err := ws.Graph(cmd.Context(), a)
				var ce *graph.CycleError
				if errors.As(err, &ce) {
					if format != "json" || why || len(args) > 0 {
						return exitError{code: exitCycle, err: err}
					}
					// JSON carries the cycles and the suggested breaks.
					graphs = append(graphs, gr)
					cycleErr = exitError{code: exitCycle, err: err}
					continue
				}
				if err != nil {
					return err
				}
				if why {
					chain, err := gr.Why(args[0], args[1])
					if len(archs) > 1 {
						fmt.Fprintf(out, "%s:\n", a)
					}
					if err != nil {
						// On one architecture of several, "does not build-depend" is an answer.
						if len(archs) == 1 {
							return err
						}
						fmt.Fprintf(out, "  %v\n", err)
						continue
					}
					found = true
					if err := graph.WriteWhy(out, chain); err != nil {
						return err
					}
					continue
				}
				if len(args) > 0 {
					dir := graph.Needs
					if dependents {
						dir = graph.Dependents
					}
					if gr, err = gr.Select(args, dir); err != nil {
						return err
					}
				}
				graphs = append(graphs, gr)
			}
			if why && !found {
				return fmt.Errorf("%s does not build-depend on %s on any architecture", args[0], args[1])
			}
			if why {
				return nil
			}
			if err := write(out, graphs); err != nil {
				return err
			}
			if cycleErr != nil {
				return cycleErr
			}
			return unresolvedError(graphs)
		},
	}
	f := cmd.Flags()
	f.StringVar(&arch, "arch", "", "architecture (default: every architecture of the project)")
	f.StringVar(&format, "format", "text", "output format: text, dot or json")
	f.BoolVar(&why, "why", false, "print the build-dependency chain from the first package to the second")
	f.BoolVar(&dependents, "dependents", false, "with PKG: select what depends on PKG instead of what PKG needs")
	return cmd
}

var graphWriters = map[string]func(io.Writer, []*graph.Graph) error{
	"text": func(w io.Writer, gs []*graph.Graph) error {
		for i, g := range gs {
			if i > 0 {
				fmt.Fprintln(w)
			}
			if err := graph.WriteText(w, g); err != nil {
				return err
			}
		}
		return nil
	},
	"dot": func(w io.Writer, gs []*graph.Graph) error {
		for _, g := range gs {
			if err := graph.WriteDot(w, g); err != nil {
				return err
			}
		}
		return nil
	},
	// JSON is one object for one architecture, an array for several, so a
	// consumer that passes --arch always gets an object.
	"json": func(w io.Writer, gs []*graph.Graph) error { return graph.WriteJSON(w, gs...) },
}
