package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/stx-build/stx-build/builders/image"
	"github.com/stx-build/stx-build/buildrun"
)

func newImageCmd(g *globalFlags) *cobra.Command {
	var (
		archs         []string
		out           string
		push          string
		dockerArchive string
		noBuild       bool
		noRootCache   bool
	)
	cmd := &cobra.Command{
		Use:   "image [NAME...]",
		Short: "Build OCI images (images/<name>.yaml) from the project's packages",
		Long: `Build the named images (default: every images/*.yaml of the project) for
each architecture. The project's packages are built first (as by "stx-build
build", into OUT/<arch>/repo); then each image's root filesystem is made by
mmdebstrap from that repository and the archive, and written as OCI layers.
Results: OUT/images/<name>/ (an OCI layout; the image index is tagged
"latest"), OUT/images/<name>-<arch>.spdx.json (SPDX SBOMs, also attached
to the index). SOURCE_DATE_EPOCH, when set, fixes every timestamp;
otherwise it is the newest changelog date of the local packages in the
image.`,
		Example: `  stx-build image -C examples
  stx-build image -C examples --arch amd64 --docker-archive stx-hello.tar stx-hello
  stx-build image -C examples --push 127.0.0.1:5000/stx/stx-hello:1.0 stx-hello`,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stdout := cmd.Context(), cmd.OutOrStdout()
			ws, lock, err := g.openLocked(ctx)
			if err != nil {
				return err
			}
			sel, err := image.Select(ws, args, archs)
			if err != nil {
				return archFlagError(err)
			}
			if (push != "" || dockerArchive != "") && len(sel.Images) != 1 {
				return fmt.Errorf("--push and --docker-archive take one image; name it")
			}
			if out, err = ws.OutDir(out); err != nil {
				return err
			}
			if !noBuild {
				opts := buildrun.Options{Archs: sel.Archs, OutDir: out, Status: stdout, Log: g.log(cmd.ErrOrStderr()), Lock: lock}
				if _, err := buildPackages(ctx, ws, opts, cmd.ErrOrStderr()); err != nil {
					return err
				}
			}
			opts := imageOptions(g, cmd, out)
			if noRootCache {
				opts = append(opts, image.WithRootCache(""), image.WithLayerCache(""))
			}
			results, err := image.BuildProject(ctx, ws, sel, opts...)
			if err != nil || len(results) == 0 {
				return ws.WithLockHint(err)
			}
			if dockerArchive != "" {
				arch, tag, err := image.SaveDockerArchive(results[0], dockerArchive)
				if err != nil {
					return err
				}
				fmt.Fprintf(stdout, "  docker archive (%s, %s): %s\n", arch, tag, dockerArchive)
			}
			if push != "" {
				d, err := image.Push(ctx, results[0].Layout, push)
				if err != nil {
					return err
				}
				fmt.Fprintf(stdout, "  pushed: %s (%s)\n", push, d)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&archs, "arch", nil, "architectures to build (default: the images')")
	f.StringVarP(&out, "out", "o", "", "output directory (default: out/ in the project)")
	f.StringVar(&push, "push", "", "push the image index to this reference (registry/repository:tag)")
	f.StringVar(&dockerArchive, "docker-archive", "", "also write a docker-archive tarball of the image for one architecture (the host's if built) to this file")
	f.BoolVar(&noBuild, "no-build", false, "use the packages already in OUT/<arch>/repo instead of building them first")
	f.BoolVar(&noRootCache, "no-root-cache", false, "use no cached archive roots and layers: make each image from nothing (same result, slower)")
	return cmd
}

// imageOptions are the image builder's options for output directory out:
// progress to standard output, mmdebstrap's output to standard error with
// --verbose.
func imageOptions(g *globalFlags, cmd *cobra.Command, out string) []image.Option {
	opts := []image.Option{image.WithOutDir(out), image.WithStatus(cmd.OutOrStdout())}
	if g.verbose {
		opts = append(opts, image.WithLog(cmd.ErrOrStderr()))
	}
	return opts
}
