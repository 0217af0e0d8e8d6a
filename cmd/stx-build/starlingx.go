package main

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/stx-build/stx-build/graph"
	"github.com/stx-build/stx-build/manifests/starlingx"
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

func newStarlingXCmd(g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "starlingx",
		Short: "Show what the project reads from its StarlingX tree",
		Long: `Show what the project reads from the StarlingX tree its stx.yaml names
(starlingx: root, build-type): the packages discovered with StarlingX's rules
and every problem found in the tree, or the container image definitions.
See docs/starlingx.md.`,
	}
	cmd.AddCommand(newStarlingXPackagesCmd(g), newStarlingXImagesCmd(g))
	return cmd
}

// openStarlingX opens the project and returns its tree.
func openStarlingX(g *globalFlags) (*starlingx.Tree, error) {
	ws, err := g.open()
	if err != nil {
		return nil, err
	}
	tr := ws.StarlingX()
	if tr == nil {
		return nil, fmt.Errorf("%s names no StarlingX tree (starlingx: root)", ws.Project.File)
	}
	return tr, nil
}

func newStarlingXPackagesCmd(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:     "packages",
		Short:   "List the tree's packages for the project's suite and build type, and the problems found",
		Args:    cobra.NoArgs,
		Example: "  stx-build starlingx packages -C starlingx-trixie",
		RunE: func(cmd *cobra.Command, args []string) error {
			tr, err := openStarlingX(g)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintf(tw, "SOURCE\tVERSION\tKIND\tLAYER\tDIRECTORY\n")
			for _, p := range tr.Packages {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", p.Name, p.Meta.DebVer, p.Kind, p.Layer, p.RelDir)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			fmt.Fprintf(out, "\n%d packages (%s, %s)\n", len(tr.Packages), tr.Codename, tr.BuildType)
			for _, d := range tr.Diagnostics {
				fmt.Fprintf(out, "%s\n", d)
			}
			if n := len(tr.Diagnostics.Errors()); n > 0 {
				return fmt.Errorf("%d error(s) in the tree: those packages are left out", n)
			}
			return nil
		},
	}
}

func newStarlingXImagesCmd(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:     "images",
		Short:   "List the tree's container image definitions and how they map onto images/*.yaml",
		Args:    cobra.NoArgs,
		Example: "  stx-build starlingx images -C starlingx-trixie",
		RunE: func(cmd *cobra.Command, args []string) error {
			tr, err := openStarlingX(g)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			for _, im := range tr.Images() {
				maps, carries, lost := im.Mapping()
				verdict := "no equivalent"
				if maps {
					verdict = "maps onto images/" + im.Label() + ".yaml"
				}
				name := im.Label()
				if name == "" {
					name = im.Dir
				}
				fmt.Fprintf(out, "%s (%s:%d, builder %s): %s\n", name, im.List, im.Line, orNone(im.Builder()), verdict)
				for _, c := range carries {
					fmt.Fprintf(out, "  + %s\n", c)
				}
				for _, l := range lost {
					fmt.Fprintf(out, "  - %s\n", l)
				}
			}
			return nil
		},
	}
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
