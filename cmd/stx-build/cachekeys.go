package main

import (
	"fmt"
	"slices"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/stx-build/stx-build/buildrun"
)

func newCacheKeysCmd(g *globalFlags) *cobra.Command {
	var archs []string
	var cf *cacheFlags
	cmd := &cobra.Command{
		Use:   "keys [PKG...]",
		Short: "Print the build key of every package and where it is cached",
		Long: `Compute the build key of every package (or the named ones) on every
architecture, as stx-build build does, and say which store holds it: local,
a --cache-from registry, or - (it would be built). Needs the base root made
by an earlier stx-build build.`,
		Example: `  stx-build cache keys -C examples
  stx-build cache keys -C examples --arch arm64 --cache-from 127.0.0.1:5000/stx/cache`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runCacheKeys(cmd, g, cf, archs, args, false)
		},
	}
	cmd.Flags().StringSliceVar(&archs, "arch", nil, "architectures (default: the project's)")
	cf = addCacheFlags(cmd.Flags(), false)
	return cmd
}

func newCacheExplainCmd(g *globalFlags) *cobra.Command {
	var archs []string
	var cf *cacheFlags
	cmd := &cobra.Command{
		Use:   "explain PKG...",
		Short: "Say why packages are (not) rebuilt: which inputs changed",
		Long: `Compare each named package's build key inputs with those of its last build
or restore, and say what changed (source files, patches, manifest settings,
build-dependencies, the base root or the archive state); for a changed
build-dependency, say in turn why it changed.`,
		Example: `  stx-build cache explain -C examples stx-tools
  stx-build cache explain -C examples --arch arm64 stx-hello`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runCacheKeys(cmd, g, cf, archs, args, true)
		},
	}
	cmd.Flags().StringSliceVar(&archs, "arch", nil, "architectures (default: the project's)")
	cf = addCacheFlags(cmd.Flags(), false)
	return cmd
}

func runCacheKeys(cmd *cobra.Command, g *globalFlags, flags *cacheFlags, archs, pkgs []string, explain bool) error {
	ctx := cmd.Context()
	// A locked project's keys are those of its locked base.
	ws, _, err := g.openLocked(ctx)
	if err != nil {
		return err
	}
	if archs, err = ws.Archs(archs); err != nil {
		return archFlagError(err)
	}
	for _, p := range pkgs {
		if ws.Project.Package(p) == nil {
			return fmt.Errorf("no package %s in the project", p)
		}
	}
	c, err := flags.open(ws.CacheDir(), cmd.ErrOrStderr())
	if err != nil {
		return err
	}
	plan, err := buildrun.BuildKeys(ctx, ws, c)
	if err != nil {
		return err
	}
	w := cmd.OutOrStdout()
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, b := range plan.Builds() {
		if !slices.Contains(archs, b.Arch) || (len(pkgs) > 0 && !slices.Contains(pkgs, b.Package)) {
			continue
		}
		if explain {
			x, err := c.Explain(ctx, b, plan.Current)
			if err != nil {
				return err
			}
			if err := x.Write(w); err != nil {
				return err
			}
			continue
		}
		where := c.Where(ctx, b.Key)
		if where == "" {
			where = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", b.Package, b.Version, b.Arch, b.Key, where)
	}
	for _, p := range pkgs {
		for _, a := range archs {
			if _, ok := plan.Build(p, a); !ok && ws.Project.Package(p).ArchEnabled(a) {
				fmt.Fprintf(w, "%s (%s): nothing is built on %s (Architecture: all binaries are built on %s)\n", p, a, a, ws.IndepArch())
			}
		}
	}
	return tw.Flush()
}
