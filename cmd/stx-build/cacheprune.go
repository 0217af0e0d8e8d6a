package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/stx-build/stx-build/cache"
	"github.com/stx-build/stx-build/ramdisk"
)

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
