package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/stx-build/stx-build/store"
	storeoci "github.com/stx-build/stx-build/store/oci"
)

func newStoreCmd(g *globalFlags) *cobra.Command {
	var opts storeoci.Options
	cmd := &cobra.Command{
		Use:   "store",
		Short: "Push the package store's locked files to an OCI registry, or pull them",
		Long: `The package store (CACHE/store) keeps the archive packages stx.lock names,
by sha256. "store push REF" uploads the files the project's stx.lock names
as one OCI artifact (the lock as its config, one layer per file; blobs the
registry has are not uploaded again); "store pull REF" downloads the ones
the store lacks, each checked against the local stx.lock's size and sha256.
So a CI farm or a release archive keeps the exact inputs of a release, and
a build can then run --offline. Credentials come from the docker config;
registries on localhost are reached over plain HTTP. See docs/lock.md.`,
		Example: `  stx-build fetch -C examples && stx-build store push -C examples localhost:5000/stx/store:release-1
  stx-build store pull -C examples localhost:5000/stx/store:release-1 && stx-build all -C examples --offline`,
	}
	cmd.PersistentFlags().BoolVar(&opts.Insecure, "insecure", false, "talk plain HTTP to the registry (always allowed for localhost and 127.0.0.1)")
	push := &cobra.Command{
		Use:   "push REF",
		Short: "Upload the files stx.lock names from the package store as one OCI artifact",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			text, err := os.ReadFile(g.lockPath())
			if err != nil {
				return fmt.Errorf("%w (stx-build lock writes it)", err)
			}
			st, err := storeOf(g)
			if err != nil {
				return err
			}
			d, err := storeoci.Push(cmd.Context(), args[0], st, text, opts)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "pushed %s@%s\n", args[0], d)
			return nil
		},
	}
	pull := &cobra.Command{
		Use:   "pull REF",
		Short: "Download the files stx.lock names that the package store lacks from an OCI artifact",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			lock, err := g.needLock()
			if err != nil {
				return err
			}
			st, err := storeOf(g)
			if err != nil {
				return err
			}
			res, err := storeoci.Pull(cmd.Context(), args[0], st, lock, opts)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%d packages in %s (%d pulled, %d bytes)\n", res.Present+res.Fetched, st.Dir, res.Fetched, res.Bytes)
			return nil
		},
	}
	cmd.AddCommand(push, pull)
	return cmd
}

// storeOf is the project's package store.
func storeOf(g *globalFlags) (*store.Store, error) {
	ws, err := g.open()
	if err != nil {
		return nil, err
	}
	return ws.PackageStore()
}
