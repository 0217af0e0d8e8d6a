package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/stx-build/stx-build/builders/image"
	"github.com/stx-build/stx-build/builders/iso"
	"github.com/stx-build/stx-build/buildrun"
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
as stx-build image does) and its live ISO (iso.yaml, as stx-build iso
does) from those repositories. Steps whose manifests the project does not
have are skipped.`,
		Example: `  stx-build all -C examples
  stx-build all -C examples --arch amd64 --sign-key release@example.org`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stdout := cmd.Context(), cmd.OutOrStdout()
			ws, lock, err := g.openLocked(ctx)
			if err != nil {
				return err
			}
			if archs, err = ws.Archs(archs); err != nil {
				return archFlagError(err)
			}
			out, err := ws.OutDir(f.outDir)
			if err != nil {
				return err
			}

			fmt.Fprintf(stdout, "== packages (%s)\n", strings.Join(archs, ", "))
			dopts := buildrun.Options{Archs: archs, OutDir: out, Status: stdout, Log: g.log(cmd.ErrOrStderr()), Lock: lock}
			if err := wf.apply(&dopts); err != nil {
				return err
			}
			res, err := buildPackages(ctx, ws, dopts, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "built %d package(s)\n", len(res.Builds))

			images, err := image.Select(ws, nil, archs)
			switch {
			case errors.Is(err, image.ErrNoImages):
				fmt.Fprintf(stdout, "== images: skipped (no %s/)\n", manifests.ImagesDir)
			case err != nil:
				return err
			default:
				fmt.Fprintln(stdout, "== images")
				if _, err := image.BuildProject(ctx, ws, images, imageOptions(g, cmd, out)...); err != nil {
					return ws.WithLockHint(err)
				}
			}

			sel, err := iso.Select(ws, nil)
			if errors.Is(err, iso.ErrNoManifest) {
				fmt.Fprintf(stdout, "== iso: skipped (no %s)\n", manifests.ISOFile)
				return nil
			}
			if err != nil {
				return err
			}
			if sel = sel.Only(archs); len(sel.Archs) == 0 {
				fmt.Fprintf(stdout, "== iso: skipped (%s builds none of %v)\n", sel.Manifest.Display, archs)
				return nil
			}
			fmt.Fprintf(stdout, "== iso (%s)\n", strings.Join(sel.Archs, ", "))
			_, err = iso.BuildProject(ctx, ws, sel, f.options(g, out, stdout, cmd.ErrOrStderr()))
			return ws.WithLockHint(err)
		},
	}
	addISOFlags(cmd, f)
	cmd.Flags().StringSliceVar(&archs, "arch", nil, "architectures (default: the project's)")
	wf.add(cmd.Flags())
	return cmd
}
