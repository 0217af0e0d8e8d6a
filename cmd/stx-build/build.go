package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/stx-build/stx-build/distbuild"
	"github.com/stx-build/stx-build/manifests"
)

func newBuildCmd(g *globalFlags) *cobra.Command {
	var (
		archs       []string
		out         string
		jobs        int
		budget      string
		noTmpfs     bool
		refreshBase bool
	)
	cmd := &cobra.Command{
		Use:   "build [PKG...]",
		Short: "Build packages (and what they need) into the local apt repositories",
		Long: `Build the named packages and every local package they build-depend on, in
dependency order, for each architecture. Each build runs in a sandbox with
no network: the base root (mmdebstrap), a cached layer holding exactly its
build-dependencies, and its build tree on tmpfs when it fits the RAM budget.
Results go to OUT/<arch>/debs/, logs to OUT/<arch>/logs/, and every .deb is
published into OUT/<arch>/repo, the apt repository later builds use.`,
		Example: `  stx-build build -C examples
  stx-build build -C examples --arch arm64 stx-hello`,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts := distbuild.Options{
				Archs: archs, Packages: args, OutDir: out, Jobs: jobs,
				NoTmpfs: noTmpfs, RefreshBase: refreshBase,
				Status: cmd.OutOrStdout(),
			}
			if budget != "" {
				n, err := manifests.ParseSize(budget)
				if err != nil {
					return fmt.Errorf("--tmpfs-budget: %w", err)
				}
				opts.TmpfsBudget = n
			}
			if g.verbose {
				opts.Log = cmd.ErrOrStderr()
			}
			ws, err := g.open()
			if err != nil {
				return err
			}
			res, err := distbuild.Run(cmd.Context(), ws, opts)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "built %d package(s)\n", len(res.Builds))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&archs, "arch", nil, "architectures to build (default: the project's)")
	f.StringVarP(&out, "out", "o", "", "output directory (default: out/ in the project)")
	f.IntVarP(&jobs, "jobs", "j", 0, "make parallelism inside a build (default: number of CPUs)")
	f.StringVar(&budget, "tmpfs-budget", "", "RAM for tmpfs build trees, e.g. 8GiB (default: half of MemAvailable)")
	f.BoolVar(&noTmpfs, "no-tmpfs", false, "build on disk only")
	f.BoolVar(&refreshBase, "refresh-base", false, "remake the base root filesystem even when cached")
	return cmd
}
