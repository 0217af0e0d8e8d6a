package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/stx-build/stx-build/buildrun"
	"github.com/stx-build/stx-build/manifests"
	"github.com/stx-build/stx-build/report"
)

// exitInterrupted is the exit status after Ctrl-C (128 + SIGINT), as a
// shell reports it.
const exitInterrupted = 130

func newBuildCmd(g *globalFlags) *cobra.Command {
	var (
		archs       []string
		out         string
		jobs        int
		cores       int
		budget      string
		noTmpfs     bool
		refreshBase bool
		keepGoing   bool
		output      string
		noCache     bool
		explain     []string
		cf          *cacheFlags
		wf          workerFlags
	)
	cmd := &cobra.Command{
		Use:   "build [PKG...]",
		Short: "Build packages (and what they need) into the local apt repositories",
		Long: `Build the named packages and every local package they build-depend on, for
each architecture, up to --jobs at a time: ready packages start in order of
the longest chain of estimated work they head (critical path first), within
the tmpfs RAM budget. Each build runs in a sandbox with no network: the base
root (mmdebstrap), a cached layer holding exactly its build-dependencies,
and its build tree on tmpfs when it fits the budget (or on disk when that
is predicted to finish sooner than waiting for RAM).

Results go to OUT/<arch>/debs/, logs to OUT/<arch>/logs/, and every .deb is
published into OUT/<arch>/repo, the apt repository later builds use. The
report (timeline, summary, links to logs) is OUT/report/index.html. What
each build took is kept in the cache and estimates the next run.

A failed build stops new starts (running builds finish) unless
--keep-going, which builds everything that does not need a failed package.
With --buildkit, package builds also run on BuildKit daemons (docs/workers.md):
each worker takes as many builds at once as its slot count, ready packages go
to whichever place has a free slot in the same critical-path order, and a
worker that goes away has its builds run again elsewhere.

The exit status is 1 if any build failed, 130 when interrupted.`,
		Example: `  stx-build build -C examples
  stx-build build -C examples -j 2 --keep-going
  stx-build build -C examples --arch arm64 stx-hello
  stx-build build -C examples --output json > events.jsonl
  stx-build build -C examples --buildkit unix:///run/buildkit/buildkitd.sock=2 --buildkit tcp://builder2:1234`,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts := buildrun.Options{
				Archs: archs, Packages: args, OutDir: out, Jobs: jobs, Cores: cores,
				NoTmpfs: noTmpfs, RefreshBase: refreshBase, KeepGoing: keepGoing,
			}
			if budget != "" {
				n, err := manifests.ParseSize(budget)
				if err != nil {
					return fmt.Errorf("--tmpfs-budget: %w", err)
				}
				opts.TmpfsBudget = n
			}
			events, done, err := progressSink(cmd.OutOrStdout(), output)
			if err != nil {
				return err
			}
			defer done()
			opts.Events = events
			if g.verbose {
				opts.Log = cmd.ErrOrStderr()
			}
			if err := wf.apply(&opts); err != nil {
				return err
			}
			ws, lock, err := g.openLocked(cmd.Context())
			if err != nil {
				return err
			}
			opts.Explain, opts.Lock = explain, lock
			if !noCache {
				c, err := cf.open(ws.CacheDir(), cmd.ErrOrStderr())
				if err != nil {
					return err
				}
				opts.Cache = c
			}
			_, err = buildrun.Run(cmd.Context(), ws, opts)
			err = ws.WithLockHint(err)
			if errors.Is(err, context.Canceled) {
				return exitError{code: exitInterrupted, err: err}
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&archs, "arch", nil, "architectures to build (default: the project's)")
	f.StringVarP(&out, "out", "o", "", "output directory (default: out/ in the project)")
	f.IntVarP(&jobs, "jobs", "j", 0, "builds to run at once (default: number of CPUs)")
	f.IntVar(&cores, "cores", 0, "CPUs shared by the builds' make parallelism (default: number of CPUs)")
	f.StringVar(&budget, "tmpfs-budget", "", "RAM for tmpfs build trees, e.g. 8GiB (default: half of MemAvailable)")
	f.BoolVar(&noTmpfs, "no-tmpfs", false, "build on disk only")
	f.BoolVar(&refreshBase, "refresh-base", false, "remake the base root filesystem even when cached")
	f.BoolVarP(&keepGoing, "keep-going", "k", false, "after a failure, build everything that does not need a failed package")
	f.StringVar(&output, "output", "text", "progress: text (a live view on a terminal) or json (one event per line)")
	f.BoolVar(&noCache, "no-cache", false, "build everything; neither restore from nor store into the artifact cache")
	f.StringSliceVar(&explain, "explain", nil, "say why PKG is (not) rebuilt (repeatable)")
	cf = addCacheFlags(f, true)
	wf.add(f)
	return cmd
}

// progressSink is where --output sends a build's progress: JSON lines, or
// text (a live view on a terminal); done ends the live view.
func progressSink(stdout io.Writer, output string) (events report.Sink, done func(), err error) {
	switch output {
	case "json":
		return report.JSON(stdout), func() {}, nil
	case "text":
		if f, ok := stdout.(*os.File); ok && report.IsTerminal(f) {
			live := report.Live(f)
			return live, func() { live.Close() }, nil
		}
		return report.Text(stdout), func() {}, nil
	}
	return nil, nil, fmt.Errorf("--output %q: want text or json", output)
}
