package main

import (
	"encoding/json"
	"errors"

	"github.com/spf13/cobra"

	"github.com/stx-build/stx-build/builders/iso"
)

func newISOInspectCmd() *cobra.Command {
	var jsonOut bool
	cmd := &cobra.Command{
		Use:   "inspect ISO",
		Short: "Read an ISO back: volume label, boot catalogue, files",
		Long: `Read a finished ISO with an ISO 9660 reader independent of the tool that
wrote it: the volume label, the El Torito boot catalogue (BIOS and UEFI
entries and the images they point at), the partition tables (MBR and GPT)
and every file with its size. Exits non-zero when the ISO is unreadable or
has no boot catalogue.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			info, err := iso.Inspect(args[0])
			if err != nil {
				return err
			}
			if jsonOut {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(info)
			}
			info.WriteText(cmd.OutOrStdout())
			if len(info.Boot) == 0 {
				return errors.New("no El Torito boot catalogue: the ISO does not boot")
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&jsonOut, "json", false, "print as JSON")
	return cmd
}
