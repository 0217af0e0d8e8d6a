package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/stx-build/stx-build/buildrun"
	"github.com/stx-build/stx-build/manifests"
	"github.com/stx-build/stx-build/scheduler"
)

func newPlanCmd(g *globalFlags) *cobra.Command {
	var (
		archs     []string
		jobs      int
		cores     int
		budget    string
		noTmpfs   bool
		costsFile string
		format    string
		noCache   bool
		out       string
		cf        *cacheFlags
		wf        workerFlags
	)
	cmd := &cobra.Command{
		Use:   "plan [PKG...]",
		Short: "Print the schedule a build would run, without building",
		Long: `Simulate the scheduler on the project's graph and print the schedule: when
each build would start and end, on which slot, on tmpfs or on disk, with how
many make jobs; the predicted makespan; and its lower bound, max(critical
path, total work / slots).

Estimates come from the history of past builds in the cache, else the
manifest (build.estimate, build.tmpfs), else the source's size. A package
whose build the artifact cache holds (the key build would compute) costs
its restore, as in a build; --no-cache plans every package built. A build
reads its output directory's repositories; plan a build -o DIR with the same
-o DIR, or the cached resolutions it will use are not counted. --costs FILE
overrides them: a JSON object {"<package>[:<arch>]": {"seconds": S,
"peak_bytes": B}}, so plans can be studied for any durations.`,
		Example: `  stx-build plan -C examples
  stx-build plan -C examples --jobs 4 --tmpfs-budget 8GiB --format json
  stx-build plan -C examples --costs costs.json`,
		RunE: func(cmd *cobra.Command, args []string) error {
			write := scheduler.WriteText
			switch format {
			case "text":
			case "json":
				write = scheduler.WriteJSON
			default:
				return fmt.Errorf("--format %q: want text or json", format)
			}
			opts := buildrun.Options{Archs: archs, Packages: args, OutDir: out, Jobs: jobs, Cores: cores, NoTmpfs: noTmpfs}
			if budget != "" {
				n, err := manifests.ParseSize(budget)
				if err != nil {
					return fmt.Errorf("--tmpfs-budget: %w", err)
				}
				opts.TmpfsBudget = n
			}
			if costsFile != "" {
				data, err := os.ReadFile(costsFile)
				if err != nil {
					return fmt.Errorf("--costs: %w", err)
				}
				if opts.Costs, err = scheduler.ParseCosts(costsFile, data); err != nil {
					return fmt.Errorf("--costs: %w", err)
				}
			}
			if err := wf.apply(&opts); err != nil {
				return err
			}
			// A locked project's keys are those of its locked base.
			ws, _, err := g.openLocked(cmd.Context())
			if err != nil {
				return err
			}
			if !noCache {
				c, err := cf.open(ws.CacheDir(), cmd.ErrOrStderr())
				if err != nil {
					return err
				}
				opts.Cache = c
			}
			p, err := buildrun.Plan(cmd.Context(), ws, opts)
			if err != nil {
				return err
			}
			return write(cmd.OutOrStdout(), p)
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&archs, "arch", nil, "architectures (default: the project's)")
	f.StringVarP(&out, "out", "o", "", "the output directory a build would use: its repositories decide which cached resolutions apply (default: out/ in the project)")
	f.IntVarP(&jobs, "jobs", "j", 0, "builds to run at once (default: number of CPUs)")
	f.IntVar(&cores, "cores", 0, "CPUs shared by the builds' make parallelism (default: number of CPUs)")
	f.StringVar(&budget, "tmpfs-budget", "", "RAM for tmpfs build trees, e.g. 8GiB (default: half of MemAvailable)")
	f.BoolVar(&noTmpfs, "no-tmpfs", false, "plan every build on disk")
	f.StringVar(&costsFile, "costs", "", `JSON file of estimates overriding history: {"pkg": {"seconds": S, "peak_bytes": B}}`)
	f.StringVar(&format, "format", "text", "output format: text or json")
	f.BoolVar(&noCache, "no-cache", false, "plan every package built, whatever the artifact cache holds")
	cf = addCacheFlags(f, false)
	wf.add(f)
	return cmd
}
