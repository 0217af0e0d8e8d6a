package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/stx-build/stx-build/builders/iso"
	"github.com/stx-build/stx-build/distbuild"
	"github.com/stx-build/stx-build/manifests"
	"github.com/stx-build/stx-build/workspace"
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
			ws, err := g.open()
			if err != nil {
				return err
			}
			_, err = runISO(cmd.Context(), g, ws, f, cmd.OutOrStdout(), cmd.ErrOrStderr())
			return err
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
}

// isoEpoch is SOURCE_DATE_EPOCH from the environment, else the project's.
func isoEpoch(p *manifests.Project) (int64, error) {
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("SOURCE_DATE_EPOCH=%q: want seconds since 1970", s)
		}
		return n, nil
	}
	return iso.ProjectEpoch(p)
}

// runISO builds the ISOs: packages first unless f.noBuild, then one ISO
// per architecture, then SHA256SUMS (and its signature).
func runISO(ctx context.Context, g *globalFlags, ws *workspace.Workspace, f *isoFlags, stdout, stderr io.Writer) ([]*iso.Result, error) {
	p := ws.Project
	m, err := manifests.LoadISO(p)
	if err != nil {
		return nil, err
	}
	if m == nil {
		return nil, fmt.Errorf("%s has no %s", p.Dir, manifests.ISOFile)
	}
	archs := m.EffectiveArchitectures(p)
	if len(f.archs) > 0 {
		for _, a := range f.archs {
			if !slices.Contains(archs, a) {
				return nil, fmt.Errorf("--arch %s: %s builds %v", a, m.Display, archs)
			}
		}
		archs = f.archs
	}
	if f.output != "" && len(archs) != 1 {
		return nil, fmt.Errorf("-o names one ISO file: choose one architecture with --arch (%v)", archs)
	}
	outDir := f.outDir
	if outDir == "" {
		outDir = filepath.Join(p.Dir, "out")
	}
	if outDir, err = filepath.Abs(outDir); err != nil {
		return nil, err
	}
	status := stdout
	if f.jsonOut {
		status = stderr
	}
	var log io.Writer
	if g.verbose {
		log = stderr
	}
	if !f.noBuild {
		// The first architecture builds the Architecture: all packages the
		// others take.
		build := []string{p.Architectures[0]}
		for _, a := range archs {
			if !slices.Contains(build, a) {
				build = append(build, a)
			}
		}
		res, err := distbuild.Run(ctx, ws, distbuild.Options{Archs: build, OutDir: outDir, Status: status, Log: log})
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(status, "built %d package(s)\n", len(res.Builds))
	}
	env, err := ws.AptEnv(ctx)
	if err != nil {
		return nil, err
	}
	epoch, err := isoEpoch(p)
	if err != nil {
		return nil, err
	}
	workDir := f.workDir
	if workDir == "" {
		workDir = filepath.Join(ws.CacheDir(), "iso-work")
	}
	var results []*iso.Result
	sums := map[string]map[string]string{} // dir -> name -> sum
	for _, a := range archs {
		out := f.output
		if out == "" {
			out = filepath.Join(outDir, "iso", m.EffectiveName(p)+"-"+a+".iso")
		}
		if out, err = filepath.Abs(out); err != nil {
			return nil, err
		}
		res, err := iso.Build(ctx, iso.Options{
			Project: p, Manifest: m, Arch: a,
			LocalRepo: filepath.Join(outDir, a, "repo"),
			Output:    out, WorkDir: workDir, Epoch: epoch,
			Boot:   iso.AptDownloader{Env: env},
			Status: status, Log: log, KeepWork: f.keepWork,
		})
		if err != nil {
			return nil, err
		}
		results = append(results, res)
		fmt.Fprintf(status, "iso %s: %s (%s, %s) sha256 %s in %s\n", a, res.ISO, mib(res.Size), res.KernelPackage+" "+res.KernelVersion, res.SHA256, res.Total().Round(time.Second))
		dir := filepath.Dir(res.ISO)
		if sums[dir] == nil {
			sums[dir] = map[string]string{}
		}
		sums[dir][filepath.Base(res.ISO)] = res.SHA256
	}
	dirs := make([]string, 0, len(sums))
	for d := range sums {
		dirs = append(dirs, d)
	}
	slices.Sort(dirs)
	for _, d := range dirs {
		file, err := iso.UpdateSums(d, sums[d])
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(status, "checksums: %s\n", file)
		if f.signKey != "" {
			sig, err := iso.Sign(ctx, file, f.signKey)
			if err != nil {
				return nil, err
			}
			fmt.Fprintf(status, "signature: %s\n", sig)
		}
	}
	if f.jsonOut {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(results); err != nil {
			return nil, err
		}
	}
	return results, nil
}

func mib(n int64) string {
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}

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
