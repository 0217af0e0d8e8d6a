package main

import (
	"fmt"
	"path/filepath"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/stx-build/stx-build/cache"
	"github.com/stx-build/stx-build/cache/oci"
	"github.com/stx-build/stx-build/ramdisk"
	"github.com/stx-build/stx-build/workspace"
)

func newCacheCmd(g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cache",
		Short: "Inspect and maintain the build artifact cache",
		Long: `The artifact cache keeps every package build's results by its build key (a
digest of everything that decides what the build produces), under
CACHE/artifacts, and optionally in an OCI registry (--cache-from,
--cache-to). See docs/cache.md.`,
	}
	cmd.AddCommand(newCacheStatsCmd(g), newCachePruneCmd(g), newCacheVerifyCmd(g), newCacheKeysCmd(g), newCacheExplainCmd(g), newCacheKeygenCmd())
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

func newCacheKeygenCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "keygen PREFIX",
		Short: "Make a key pair that signs cache registry entries (PREFIX.key, PREFIX.pub)",
		Long: `Writes a new ed25519 key pair: PREFIX.key (private, mode 0600) for the
machines that push (--cache-sign-key) and PREFIX.pub for everyone who pulls
(--cache-trust). The files are PEM, as openssl genpkey -algorithm ed25519
writes them. See docs/cache.md.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := oci.GenerateKey(args[0]+".key", args[0]+".pub")
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "key %s: private %s.key, public %s.pub\n", id, args[0], args[0])
			return nil
		},
	}
}
