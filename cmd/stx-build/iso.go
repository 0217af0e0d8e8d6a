package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/stx-build/stx-build/builders/iso"
	"github.com/stx-build/stx-build/buildrun"
)

// isoFlags are the flags of stx-build iso (and of stx-build all's ISO step).
type isoFlags struct {
	archs    []string
	output   string
	outDir   string
	noBuild  bool
	signKey  string
	workDir  string
	keepWork bool
	jsonOut  bool
	noCache  bool
}

func newISOCmd(g *globalFlags) *cobra.Command {
	f := &isoFlags{}
	cmd := &cobra.Command{
		Use:   "iso",
		Short: "Build the project's bootable live ISO (iso.yaml) for each architecture",
		Long: `Build the live ISO described by iso.yaml: the project's packages are built
first (as stx-build build does), then for each architecture a root file
system is made from the packages iso.yaml lists (the local repository and
the archive), packed as a squashfs with the kernel, a small initramfs and
GRUB (BIOS and UEFI on amd64, UEFI on arm64) into a hybrid ISO that boots
as a CD and from a USB stick. The ISO is reproducible: every date in it is
SOURCE_DATE_EPOCH (from the environment, else the newest changelog of the
project's local packages). SHA256SUMS is written beside the ISOs and, with
--sign-key, its detached signature SHA256SUMS.sign.`,
		Example: `  stx-build iso -C examples
  stx-build iso -C examples --arch arm64 -o /tmp/example-arm64.iso
  stx-build iso inspect out/iso/example-amd64.iso`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runISO(cmd, g, f)
		},
	}
	addISOFlags(cmd, f)
	cmd.Flags().StringVarP(&f.output, "output", "o", "", "ISO file to write (one architecture only; default OUT/iso/<name>-<arch>.iso)")
	cmd.Flags().BoolVar(&f.noBuild, "no-build", false, "do not build packages first: use the repositories in OUT as they are")
	cmd.Flags().StringSliceVar(&f.archs, "arch", nil, "architectures (default: iso.yaml's, else the project's)")
	cmd.Flags().BoolVar(&f.jsonOut, "json", false, "print the build results as JSON")
	cmd.AddCommand(newISOInspectCmd())
	return cmd
}

func addISOFlags(cmd *cobra.Command, f *isoFlags) {
	fl := cmd.Flags()
	fl.StringVar(&f.outDir, "out", "", "output directory: repositories, and ISOs under iso/ (default: out/ in the project)")
	fl.StringVar(&f.signKey, "sign-key", "", "sign SHA256SUMS with this gpg key (detached, SHA256SUMS.sign)")
	fl.StringVar(&f.workDir, "work-dir", "", "where the live roots are made (default: the cache directory)")
	fl.BoolVar(&f.keepWork, "keep-work", false, "keep the working directory (for debugging)")
	fl.BoolVar(&f.noCache, "no-root-cache", false, "make the live root in one mmdebstrap run instead of on a cached archive root (same result, slower)")
}

// options are the library options the flags give; status receives the
// progress lines.
func (f *isoFlags) options(g *globalFlags, out string, status, stderr io.Writer) iso.ProjectOptions {
	return iso.ProjectOptions{
		OutDir: out, Output: f.output, WorkDir: f.workDir, SignKey: f.signKey,
		KeepWork: f.keepWork, Status: status, Log: g.log(stderr),
		NoRootCache: f.noCache,
	}
}

// runISO is stx-build iso: the packages (unless --no-build), then the ISOs.
func runISO(cmd *cobra.Command, g *globalFlags, f *isoFlags) error {
	ctx, stdout, stderr := cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr()
	ws, lock, err := g.openLocked(ctx)
	if err != nil {
		return err
	}
	sel, err := iso.Select(ws, f.archs)
	if err != nil {
		return archFlagError(err)
	}
	if f.output != "" && len(sel.Archs) != 1 {
		return fmt.Errorf("-o names one ISO file: choose one architecture with --arch (%v)", sel.Archs)
	}
	out, err := ws.OutDir(f.outDir)
	if err != nil {
		return err
	}
	status := stdout
	if f.jsonOut {
		status = stderr
	}
	if !f.noBuild {
		opts := buildrun.Options{Archs: sel.PackageArchs(), OutDir: out, Status: status, Log: g.log(stderr), Lock: lock}
		res, err := buildPackages(ctx, ws, opts, stderr)
		if err != nil {
			return err
		}
		fmt.Fprintf(status, "built %d package(s)\n", len(res.Builds))
	}
	results, err := iso.BuildProject(ctx, ws, sel, f.options(g, out, status, stderr))
	if err != nil || !f.jsonOut {
		return ws.WithLockHint(err)
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(results)
}
