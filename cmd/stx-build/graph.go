package main

import (
	"errors"
	"fmt"
	"io"
	"slices"

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
			if !slices.Contains(graph.Formats, format) {
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
			if why {
				gs, err := ws.Graphs(cmd.Context(), archs, nil, graph.Needs, false)
				if err != nil {
					return cycleExit(err)
				}
				return printWhy(out, gs, args[0], args[1])
			}
			dir := graph.Needs
			if dependents {
				dir = graph.Dependents
			}
			// JSON carries the cycles and the suggested breaks.
			gs, err := ws.Graphs(cmd.Context(), archs, args, dir, format == "json")
			if err != nil && gs == nil {
				return cycleExit(err)
			}
			if werr := graph.Write(out, format, gs); werr != nil {
				return werr
			}
			if err != nil {
				return cycleExit(err)
			}
			return unresolvedError(gs)
		},
	}
	f := cmd.Flags()
	f.StringVar(&arch, "arch", "", "architecture (default: every architecture of the project)")
	f.StringVar(&format, "format", "text", "output format: text, dot or json")
	f.BoolVar(&why, "why", false, "print the build-dependency chain from the first package to the second")
	f.BoolVar(&dependents, "dependents", false, "with PKG: select what depends on PKG instead of what PKG needs")
	return cmd
}

// cycleExit gives a build-dependency cycle its exit status.
func cycleExit(err error) error {
	var ce *graph.CycleError
	if errors.As(err, &ce) {
		return exitError{code: exitCycle, err: err}
	}
	return err
}

// printWhy prints the chain by which a needs b on each graph. On one
// architecture of several, "does not build-depend" is an answer; on none,
// an error.
func printWhy(out io.Writer, gs []*graph.Graph, a, b string) error {
	found := false
	for _, gr := range gs {
		chain, err := gr.Why(a, b)
		if len(gs) > 1 {
			fmt.Fprintf(out, "%s:\n", gr.Arch)
		}
		if err != nil {
			if len(gs) == 1 {
				return err
			}
			fmt.Fprintf(out, "  %v\n", err)
			continue
		}
		found = true
		if err := graph.WriteWhy(out, chain); err != nil {
			return err
		}
	}
	if !found {
		return fmt.Errorf("%s does not build-depend on %s on any architecture", a, b)
	}
	return nil
}
