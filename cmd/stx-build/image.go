package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/stx-build/stx-build/builders/image"
	"github.com/stx-build/stx-build/distbuild"
	"github.com/stx-build/stx-build/manifests"
	"github.com/stx-build/stx-build/workspace"
)

func newImageCmd(g *globalFlags) *cobra.Command {
	var (
		archs         []string
		out           string
		push          string
		dockerArchive string
		noBuild       bool
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
			ctx := cmd.Context()
			stdout := cmd.OutOrStdout()
			ws, err := g.open()
			if err != nil {
				return err
			}
			p := ws.Project
			images, err := manifests.LoadImages(p)
			if err != nil {
				return err
			}
			if len(images) == 0 {
				return fmt.Errorf("%s: no images (add %s/<name>.yaml)", p.Dir, manifests.ImagesDir)
			}
			names := args
			if len(names) == 0 {
				for _, img := range images {
					names = append(names, img.Name)
				}
			}
			var selected []*manifests.Image
			for _, n := range names {
				img := manifests.ImageByName(images, n)
				if img == nil {
					return fmt.Errorf("no image %q in %s/", n, filepath.Join(p.Dir, manifests.ImagesDir))
				}
				selected = append(selected, img)
			}
			if (push != "" || dockerArchive != "") && len(selected) != 1 {
				return fmt.Errorf("--push and --docker-archive take one image; name it")
			}
			if len(archs) == 0 {
				for _, a := range p.Architectures {
					for _, img := range selected {
						if slices.Contains(img.ImageArchitectures(p), a) && !slices.Contains(archs, a) {
							archs = append(archs, a)
						}
					}
				}
			}
			if out == "" {
				out = filepath.Join(p.Dir, "out")
			}
			if out, err = filepath.Abs(out); err != nil {
				return err
			}
			opts := []image.Option{
				image.WithProject(p, images),
				image.WithOutDir(out),
				image.WithWorkDir(filepath.Join(ws.CacheDir(), "image-work")),
				image.WithStatus(stdout),
			}
			if g.verbose {
				opts = append(opts, image.WithLog(cmd.ErrOrStderr()))
			}
			if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
				n, err := strconv.ParseInt(s, 10, 64)
				if err != nil {
					return fmt.Errorf("SOURCE_DATE_EPOCH=%q: not a number of seconds", s)
				}
				opts = append(opts, image.WithSourceDateEpoch(time.Unix(n, 0)))
			}

			if !noBuild {
				dopts := distbuild.Options{Archs: archs, OutDir: out, Status: stdout}
				if g.verbose {
					dopts.Log = cmd.ErrOrStderr()
				}
				if _, err := distbuild.Run(ctx, ws, dopts); err != nil {
					return err
				}
			}
			prepared, err := ws.Prepare(ctx)
			if err != nil {
				return err
			}
			changelogs := map[string]time.Time{}
			for _, pr := range prepared {
				if !pr.Changelog.Date.IsZero() {
					changelogs[pr.Package.Name] = pr.Changelog.Date
				}
			}
			repos := map[string]string{}
			for _, a := range archs {
				repos[a] = filepath.Join(out, a, "repo")
			}
			opts = append(opts, image.WithChangelogs(changelogs), image.WithLocalRepos(repos))
			b, err := image.New(opts...)
			if err != nil {
				return err
			}

			for _, img := range selected {
				var want []string
				for _, a := range archs {
					if slices.Contains(img.ImageArchitectures(p), a) {
						want = append(want, a)
					}
				}
				if len(want) == 0 {
					fmt.Fprintf(stdout, "image %s: not built for %v, skipped\n", img.Name, archs)
					continue
				}
				res, err := b.Build(ctx, img.Name, want)
				if err != nil {
					return err
				}
				printImage(stdout, res)
				if dockerArchive != "" {
					arch := workspace.HostArch()
					if !slices.Contains(want, arch) {
						arch = want[0]
					}
					tag := "localhost/" + img.Name + ":" + image.LayoutTag
					if err := image.WriteDockerArchive(res.Layout, arch, dockerArchive, tag); err != nil {
						return err
					}
					fmt.Fprintf(stdout, "  docker archive (%s, %s): %s\n", arch, tag, dockerArchive)
				}
				if push != "" {
					d, err := image.Push(ctx, res.Layout, push)
					if err != nil {
						return err
					}
					fmt.Fprintf(stdout, "  pushed: %s (%s)\n", push, d)
				}
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
	return cmd
}

func printImage(w interface{ Write([]byte) (int, error) }, res *image.Result) {
	fmt.Fprintf(w, "image %s: %s in %s\n", res.Name, res.Digest, res.Duration.Round(100*time.Millisecond))
	fmt.Fprintf(w, "  layout: %s (oci:%s:%s)\n", res.Layout, res.Layout, image.LayoutTag)
	for _, pr := range res.Platforms {
		fmt.Fprintf(w, "  %-16s %s  %d packages, %d layer(s), %.1f MiB compressed, %.1f MiB uncompressed, epoch %s\n",
			pr.Platform.String(), pr.Manifest, len(pr.Packages), len(pr.Layers),
			float64(pr.Size)/(1<<20), float64(pr.Uncompressed)/(1<<20), pr.Epoch.Format(time.RFC3339))
		fmt.Fprintf(w, "  %-16s %s  sbom: %s\n", "", pr.SBOMDigest, pr.SBOM)
	}
}
