// Command stx-build builds Debian source packages, container images and
// bootable ISOs reproducibly from a project of package manifests.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/sirupsen/logrus"
	"github.com/spf13/cobra"

	"github.com/stx-build/stx-build/runner"
	"github.com/stx-build/stx-build/workspace"
)

// version is set by the Makefile (-X main.version=...).
var version = "dev"

// globalFlags are shared by every command.
type globalFlags struct {
	dir      string
	cacheDir string
	profiles []string
	verbose  bool
	offline  bool
}

func (g *globalFlags) open() (*workspace.Workspace, error) {
	opts := workspace.Options{Dir: g.dir, CacheDir: g.cacheDir, Profiles: g.profiles}
	if g.verbose {
		opts.Log = os.Stderr
	}
	return workspace.Open(opts)
}

func newRoot() *cobra.Command {
	g := &globalFlags{}
	root := &cobra.Command{
		Use:           "stx-build",
		Short:         "Reproducible Debian package, image and ISO builds from a DAG of manifests",
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	pf := root.PersistentFlags()
	pf.StringVarP(&g.dir, "dir", "C", ".", "project directory (holding stx.yaml)")
	pf.StringVar(&g.cacheDir, "cache-dir", "", "cache directory (default $XDG_CACHE_HOME/stx-build)")
	pf.StringSliceVar(&g.profiles, "profile", nil, "extra build profile for every package (repeatable), e.g. nocheck")
	pf.BoolVarP(&g.verbose, "verbose", "v", false, "print progress (fetches, apt updates) to stderr")
	pf.BoolVar(&g.offline, "offline", false, "download no archive package: install stx.lock's packages from the package store only (stx-build fetch fills it)")
	root.AddCommand(newGraphCmd(g), newBuildCmd(g), newImageCmd(g), newCacheCmd(g))
	root.AddCommand(newISOCmd(g), newBootCmd(), newAllCmd(g))
	root.AddCommand(newPlanCmd(g), newDoctorCmd(g), newStarlingXCmd(g))
	root.AddCommand(newLockCmd(g), newFetchCmd(g), newStoreCmd(g))
	root.PersistentPreRunE = func(cmd *cobra.Command, args []string) error {
		return runPreflight(g, cmd, args)
	}
	return root
}

func main() {
	// A build sandbox is this binary re-executed; run its setup and exec.
	runner.MaybeChild()
	// The BuildKit client and containerd's content store log through
	// logrus; their warnings (such as "failed check for fsverity support")
	// are noise on a build's terminal. Errors come back as errors.
	logrus.SetLevel(logrus.ErrorLevel)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRoot().ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "stx-build:", err)
		var ee exitError
		if errors.As(err, &ee) {
			os.Exit(ee.code)
		}
		os.Exit(1)
	}
}

// exitError carries a specific exit status.
type exitError struct {
	code int
	err  error
}

func (e exitError) Error() string { return e.err.Error() }
func (e exitError) Unwrap() error { return e.err }
