package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/stx-build/stx-build/store"
	"github.com/stx-build/stx-build/workspace"
)

func newFetchCmd(g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "fetch",
		Short: "Download every package stx.lock names into the package store",
		Long: `Download every archive package stx.lock names into the package store
(CACHE/store, by sha256), each checked against the lock's size and sha256;
packages already there are not fetched again. With --offline nothing is
downloaded (the global --offline): the command fails listing what the
store lacks, so a build that must run without network can be checked
first. The files are fetched by their path in the archive from the
project's mirror or the host's apt sources.`,
		Example: `  stx-build fetch -C examples
  stx-build fetch -C examples --offline`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			lock, err := g.needLock()
			if err != nil {
				return err
			}
			ws, err := g.open()
			if err != nil {
				return err
			}
			st, err := ws.PackageStore()
			if err != nil {
				return err
			}
			items := lock.Items()
			missing := st.Missing(items)
			w := cmd.OutOrStdout()
			if g.offline {
				if len(missing) > 0 {
					return &workspace.MissingError{Store: st.Dir, Missing: missing, Total: len(items), Fetch: "stx-build fetch" + ws.DirFlag()}
				}
				fmt.Fprintf(w, "all %d packages of %s are in %s\n", len(items), store.LockFile, st.Dir)
				return nil
			}
			if _, err := st.FetchAll(cmd.Context(), items); err != nil {
				if errors.Is(err, store.ErrNotOnMirror) {
					return fmt.Errorf("%w\nthe archive dropped locked versions the store does not have: stx-build lock --update%s resolves again (review the diff)", err, ws.DirFlag())
				}
				return err
			}
			fmt.Fprintf(w, "%d packages in %s (%d fetched)\n", len(items), st.Dir, len(missing))
			return nil
		},
	}
	return cmd
}
