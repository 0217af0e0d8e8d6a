package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/stx-build/stx-build/builders/deb"
	"github.com/stx-build/stx-build/cache"
	"github.com/stx-build/stx-build/cache/buildkey"
	"github.com/stx-build/stx-build/cache/filehash"
	"github.com/stx-build/stx-build/cache/oci"
	"github.com/stx-build/stx-build/ramdisk"
	"github.com/stx-build/stx-build/rootfs"
	"github.com/stx-build/stx-build/workspace"
)

// cacheFlags are the artifact cache options of the commands that use the
// cache (build, cache keys, cache explain).
type cacheFlags struct {
	from     []string
	to       string
	insecure bool
}

// addCacheFlags adds --cache-from, --cache-insecure and, with push,
// --cache-to to f.
func addCacheFlags(f *pflag.FlagSet, push bool) *cacheFlags {
	cf := &cacheFlags{}
	f.StringSliceVar(&cf.from, "cache-from", nil, "OCI registry repository to pull build artifacts from on a local miss (repeatable), e.g. 127.0.0.1:5000/stx/cache")
	if push {
		f.StringVar(&cf.to, "cache-to", "", "OCI registry repository to push build artifacts to")
	}
	f.BoolVar(&cf.insecure, "cache-insecure", false, "talk plain HTTP to the cache registries (always allowed for localhost and 127.0.0.1)")
	return cf
}

// open opens the artifact cache in cacheDir with the remotes the flags
// name; log receives remote problems.
func (cf *cacheFlags) open(cacheDir string, log io.Writer) (*cache.Cache, *filehash.Hasher, error) {
	from, to, err := oci.Remotes(cf.from, cf.to, oci.Options{Insecure: cf.insecure})
	if err != nil {
		return nil, nil, err
	}
	h := filehash.New(filepath.Join(cacheDir, cache.StatCacheDir))
	c, err := cache.Open(cache.Options{
		Dir: filepath.Join(cacheDir, cache.ArtifactsDir), From: from, To: to, Hasher: h, Log: log,
	})
	return c, h, err
}

func newCacheCmd(g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cache",
		Short: "Inspect and maintain the build artifact cache",
		Long: `The artifact cache keeps every package build's results by its build key (a
digest of everything that decides what the build produces), under
CACHE/artifacts, and optionally in an OCI registry (--cache-from,
--cache-to). See docs/cache.md.`,
	}
	cmd.AddCommand(newCacheStatsCmd(g), newCachePruneCmd(g), newCacheVerifyCmd(g), newCacheKeysCmd(g), newCacheExplainCmd(g))
	return cmd
}

func (g *globalFlags) cacheRoot() string {
	if g.cacheDir != "" {
		return g.cacheDir
	}
	return workspace.DefaultCacheDir()
}

func (g *globalFlags) openLocal() (*cache.Local, error) {
	return cache.OpenLocal(filepath.Join(g.cacheRoot(), cache.ArtifactsDir))
}

func newCacheStatsCmd(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "stats",
		Short: "Count the cached entries and their size",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			l, err := g.openLocal()
			if err != nil {
				return err
			}
			st, err := l.Stats(cmd.Context())
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "store:    %s\n", l.Dir())
			fmt.Fprintf(w, "entries:  %d (%d package/architecture pairs), %s\n", st.Entries, st.Packages, ramdisk.FormatSize(st.Bytes))
			archs := make([]string, 0, len(st.PerArch))
			for a := range st.PerArch {
				archs = append(archs, a)
			}
			slices.Sort(archs)
			for _, a := range archs {
				fmt.Fprintf(w, "  %-8s%d\n", a+":", st.PerArch[a])
			}
			if st.Entries > 0 {
				fmt.Fprintf(w, "used:     %s .. %s\n", st.Oldest.UTC().Format(time.RFC3339), st.Newest.UTC().Format(time.RFC3339))
			}
			if st.Unreadable > 0 {
				fmt.Fprintf(w, "unreadable entries: %d (stx-build cache verify removes them)\n", st.Unreadable)
			}
			return nil
		},
	}
}

func newCachePruneCmd(g *globalFlags) *cobra.Command {
	var (
		keep      int
		olderThan string
		dryRun    bool
	)
	cmd := &cobra.Command{
		Use:   "prune [--keep N | --older-than D]",
		Short: "Remove old cache entries",
		Long: `Remove the entries beyond the N most recently used of each package and
architecture (--keep), and those not used for longer than D (--older-than:
a Go duration or a number of days, e.g. 72h or 30d). Both may be given.
Entries without a readable manifest and leftovers of interrupted runs are
always removed. Concurrent builds on the same cache wait while it runs.`,
		Example: `  stx-build cache prune --keep 3
  stx-build cache prune --older-than 30d --dry-run`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts := cache.PruneOptions{Keep: keep, DryRun: dryRun}
			if olderThan != "" {
				d, err := parseAge(olderThan)
				if err != nil {
					return fmt.Errorf("--older-than: %w", err)
				}
				opts.OlderThan = d
			}
			if keep == 0 && olderThan == "" {
				return fmt.Errorf("say what to keep: --keep N and/or --older-than D")
			}
			l, err := g.openLocal()
			if err != nil {
				return err
			}
			removed, err := l.Prune(cmd.Context(), opts)
			verb := "removed"
			if dryRun {
				verb = "would remove"
			}
			printRemoved(cmd.OutOrStdout(), verb, removed)
			return err
		},
	}
	f := cmd.Flags()
	f.IntVar(&keep, "keep", 0, "entries to keep per package and architecture (most recently used)")
	f.StringVar(&olderThan, "older-than", "", "remove entries not used for this long (e.g. 72h, 30d)")
	f.BoolVar(&dryRun, "dry-run", false, "only print what would be removed")
	return cmd
}

// parseAge parses a Go duration or a whole number of days ("30d").
func parseAge(s string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil || days <= 0 {
			return 0, fmt.Errorf("%q: want a positive number of days or a duration like 72h", s)
		}
		return time.Duration(days) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%q: want a positive duration like 72h, or days like 30d", s)
	}
	return d, nil
}

func printRemoved(w io.Writer, verb string, removed []cache.Removed) {
	var total int64
	for _, r := range removed {
		what := r.Build
		if what == "" {
			what = r.Key.Short()
		}
		fmt.Fprintf(w, "%s %s: %s\n", verb, what, r.Reason)
		total += r.Bytes
	}
	fmt.Fprintf(w, "%s %d entries, %s\n", verb, len(removed), ramdisk.FormatSize(total))
}

func newCacheVerifyCmd(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "verify",
		Short: "Re-hash every cached file and remove corrupted entries",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			l, err := g.openLocal()
			if err != nil {
				return err
			}
			res, err := l.Verify(cmd.Context())
			if res != nil {
				w := cmd.OutOrStdout()
				fmt.Fprintf(w, "checked %d entries, %s intact\n", res.Checked, ramdisk.FormatSize(res.Bytes))
				if len(res.Removed) > 0 {
					printRemoved(w, "removed", res.Removed)
				}
			}
			return err
		},
	}
}

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
	ws, err := g.open()
	if err != nil {
		return err
	}
	if len(archs) == 0 {
		archs = ws.Project.Architectures
	}
	for _, a := range archs {
		if !slices.Contains(ws.Project.Architectures, a) {
			return fmt.Errorf("--arch %s: the project builds %v", a, ws.Project.Architectures)
		}
	}
	for _, p := range pkgs {
		if ws.Project.Package(p) == nil {
			return fmt.Errorf("no package %s in the project", p)
		}
	}
	c, h, err := flags.open(ws.CacheDir(), cmd.ErrOrStderr())
	if err != nil {
		return err
	}
	base, err := madeBase(ctx, ws)
	if err != nil {
		return err
	}
	plan, err := buildkey.New(ctx, ws, buildkey.Options{Builder: deb.Version, Base: base, Hasher: h})
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
				fmt.Fprintf(w, "%s (%s): nothing is built on %s (Architecture: all binaries are built on %s)\n", p, a, a, ws.Project.Architectures[0])
			}
		}
	}
	return tw.Flush()
}

// madeBase returns the key inputs of the base root the build would use,
// which must have been made already (by stx-build build).
func madeBase(ctx context.Context, ws *workspace.Workspace) (buildkey.Base, error) {
	spec, err := ws.BaseSpec()
	if err != nil {
		return buildkey.Base{}, err
	}
	b, err := ws.BaseStore().Find(ctx, spec)
	if errors.Is(err, rootfs.ErrNotMade) {
		return buildkey.Base{}, fmt.Errorf("the base root %s is not made yet (stx-build build makes it): every package would be built", b.Key[:12])
	}
	if err != nil {
		return buildkey.Base{}, err
	}
	return buildkey.ReadBase(b)
}
