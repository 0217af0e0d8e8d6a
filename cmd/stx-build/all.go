package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/stx-build/stx-build/distbuild"
	"github.com/stx-build/stx-build/manifests"
)

func newAllCmd(g *globalFlags) *cobra.Command {
	f := &isoFlags{}
	var archs []string
	var wf workerFlags
	cmd := &cobra.Command{
		Use:   "all",
		Short: "Build everything: packages, images and ISOs, for every architecture",
		Long: `Build every package for the selected architectures (default: the
project's) into OUT/<arch>/repo, then the project's images (images/*.yaml,
with stx-build image) and its live ISO (iso.yaml, with stx-build iso) from
those repositories. Steps whose manifests the project does not have are
skipped.`,
		Example: `  stx-build all -C examples
  stx-build all -C examples --arch amd64 --sign-key release@example.org`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			stdout := cmd.OutOrStdout()
			ws, err := g.open()
			if err != nil {
				return err
			}
			p := ws.Project
			for _, a := range archs {
				if !slices.Contains(p.Architectures, a) {
					return fmt.Errorf("--arch %s: the project builds %v", a, p.Architectures)
				}
			}
			if len(archs) == 0 {
				archs = slices.Clone(p.Architectures)
			}
			out := f.outDir
			if out == "" {
				out = filepath.Join(p.Dir, "out")
			}
			if out, err = filepath.Abs(out); err != nil {
				return err
			}
			f.outDir = out

			fmt.Fprintf(stdout, "== packages (%s)\n", strings.Join(archs, ", "))
			dopts := distbuild.Options{Archs: archs, OutDir: out, Status: stdout}
			if g.verbose {
				dopts.Log = cmd.ErrOrStderr()
			}
			if err := wf.apply(&dopts); err != nil {
				return err
			}
			res, err := distbuild.Run(ctx, ws, dopts)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "built %d package(s)\n", len(res.Builds))

			// Images, through the image command when this build has one.
			if fi, err := os.Stat(filepath.Join(p.Dir, "images")); err == nil && fi.IsDir() {
				img, _, err := cmd.Root().Find([]string{"image"})
				if err != nil || img == cmd.Root() || img.RunE == nil {
					fmt.Fprintln(stdout, "== images: skipped (this stx-build has no image command)")
				} else {
					fmt.Fprintln(stdout, "== images")
					iargs := []string{"--no-build", "--out", out, "--arch", strings.Join(archs, ",")}
					if err := img.ParseFlags(iargs); err != nil {
						return err
					}
					img.SetContext(ctx)
					img.SetOut(stdout)
					img.SetErr(cmd.ErrOrStderr())
					if err := img.RunE(img, img.Flags().Args()); err != nil {
						return err
					}
				}
			}

			m, err := manifests.LoadISO(p)
			if err != nil {
				return err
			}
			if m == nil {
				fmt.Fprintf(stdout, "== iso: skipped (no %s)\n", manifests.ISOFile)
				return nil
			}
			f.noBuild = true
			f.archs = nil
			for _, a := range m.EffectiveArchitectures(p) {
				if slices.Contains(archs, a) {
					f.archs = append(f.archs, a)
				}
			}
			if len(f.archs) == 0 {
				fmt.Fprintf(stdout, "== iso: skipped (%s builds none of %v)\n", m.Display, archs)
				return nil
			}
			fmt.Fprintf(stdout, "== iso (%s)\n", strings.Join(f.archs, ", "))
			_, err = runISO(ctx, g, ws, f, stdout, cmd.ErrOrStderr())
			return err
		},
	}
	addISOFlags(cmd, f)
	cmd.Flags().StringSliceVar(&archs, "arch", nil, "architectures (default: the project's)")
	wf.add(cmd.Flags())
	return cmd
}
