package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/stx-build/stx-build/builders/image"
	"github.com/stx-build/stx-build/builders/iso"
	"github.com/stx-build/stx-build/buildrun"
	"github.com/stx-build/stx-build/internal/atomicfile"
	"github.com/stx-build/stx-build/store"
	"github.com/stx-build/stx-build/workspace"
)

// lockPath is the project's stx.lock.
func (g *globalFlags) lockPath() string {
	dir := g.dir
	if dir == "" {
		dir = "."
	}
	return filepath.Join(dir, store.LockFile)
}

// readLock reads the project's stx.lock; none: nil.
func (g *globalFlags) readLock() (*store.Lock, error) {
	return store.ReadLockFile(g.lockPath())
}

// openLocked opens the project and, when it has a stx.lock, makes it
// build from the locked packages (workspace.UseLock; --offline: from the
// store only). The lock is returned for buildrun.Options.Lock.
func (g *globalFlags) openLocked(ctx context.Context) (*workspace.Workspace, *store.Lock, error) {
	ws, err := g.open()
	if err != nil {
		return nil, nil, err
	}
	lock, err := g.readLock()
	if err != nil {
		return nil, nil, err
	}
	if lock == nil {
		if g.offline {
			return nil, nil, fmt.Errorf("--offline needs %s (stx-build lock writes it, stx-build fetch downloads its packages)", g.lockPath())
		}
		return ws, nil, nil
	}
	if err := ws.UseLock(ctx, lock, g.offline); err != nil {
		return nil, nil, err
	}
	return ws, lock, nil
}

func newLockCmd(g *globalFlags) *cobra.Command {
	var (
		update     bool
		archs      []string
		out        string
		noImages   bool
		noISO      bool
		isoArchs   []string
		imageArchs []string
	)
	cmd := &cobra.Command{
		Use:   "lock",
		Short: "Pin every archive package the builds install in stx.lock",
		Long: `Resolve everything the project installs from the archive, against the
archive as it is now, and write stx.lock beside stx.yaml: the base root
(mmdebstrap), the build-dependency environment of every package for every
architecture (building the project's packages, which later ones may need,
without the artifact cache), and the image and ISO roots (assembled once,
without the cache of archive roots). Per suite and architecture it lists
each archive package (name, version, architecture, size, sha256, path in
the archive) and the digests of the archive's Release files. With
stx.lock present, builds, images and ISOs install from the locked
packages only. An existing lock is only rewritten with --update.
Format and workflow: docs/lock.md.`,
		Example: `  stx-build lock -C examples
  stx-build lock -C examples --update && git diff examples/stx.lock`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			path := g.lockPath()
			if _, err := os.Stat(path); err == nil && !update {
				return fmt.Errorf("%s exists: stx-build lock --update resolves again and rewrites it", path)
			}
			if g.offline {
				return fmt.Errorf("stx-build lock resolves against the archive: it cannot run --offline")
			}
			ws, err := g.open() // not locked: the archive as it is now
			if err != nil {
				return err
			}
			if archs, err = ws.Archs(archs); err != nil {
				return archFlagError(err)
			}
			if out == "" {
				// The builds are how the sets are found, not results.
				tmp, err := os.MkdirTemp(ws.CacheDir(), "lock-out-")
				if err != nil {
					return err
				}
				defer os.RemoveAll(tmp)
				out = tmp
			}
			rec := store.NewRecorder(ws.Project.Suite)
			if err := lockPackages(cmd, g, ws, rec, archs, out); err != nil {
				return fmt.Errorf("lock: %w (nothing written)", err)
			}
			if !noImages {
				if err := lockImages(cmd, g, ws, rec, imageArchs, out); err != nil {
					return fmt.Errorf("lock: images: %w (nothing written)", err)
				}
			}
			if !noISO {
				if err := lockISOs(cmd, g, ws, rec, isoArchs, out); err != nil {
					return fmt.Errorf("lock: iso: %w (nothing written)", err)
				}
			}
			if err := atomicfile.Write(path, rec.Lock().Marshal(), 0o644); err != nil {
				return err
			}
			n := 0
			for _, s := range rec.Lock().Sets {
				n += len(s.Packages)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s: %d packages in %d sets\n", path, n, len(rec.Lock().Sets))
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVar(&update, "update", false, "resolve again and rewrite an existing stx.lock")
	f.StringSliceVar(&archs, "arch", nil, "architectures whose packages to lock (default: the project's)")
	f.StringVarP(&out, "out", "o", "", "keep the builds' output here (default: a temporary directory)")
	f.BoolVar(&noImages, "no-images", false, "do not lock the image roots")
	f.BoolVar(&noISO, "no-iso", false, "do not lock the ISO roots")
	f.StringSliceVar(&imageArchs, "image-arch", nil, "architectures whose image roots to lock (default: the images')")
	f.StringSliceVar(&isoArchs, "iso-arch", nil, "architectures whose ISO roots to lock (default: the ISO's)")
	return cmd
}

// lockPackages builds the packages unlocked, recording every
// build-dependency set, then the base root's packages for every
// architecture built (cross builds run on the same base).
func lockPackages(cmd *cobra.Command, g *globalFlags, ws *workspace.Workspace, rec *store.Recorder, archs []string, out string) error {
	opts := buildrun.Options{Archs: archs, OutDir: out, KeepGoing: true, OnResolved: rec.AddSet,
		Status: cmd.OutOrStdout(), Log: g.log(cmd.ErrOrStderr())}
	if _, err := buildrun.Run(cmd.Context(), ws, opts); err != nil {
		return err
	}
	spec, err := ws.BaseSpec()
	if err != nil {
		return err
	}
	base, err := ws.BaseStore().Find(cmd.Context(), spec)
	if err != nil {
		return err
	}
	return rec.AddRoot(base.Dir, archs...)
}

// lockImages assembles the image roots from the archive, recording each.
func lockImages(cmd *cobra.Command, g *globalFlags, ws *workspace.Workspace, rec *store.Recorder, archs []string, out string) error {
	sel, err := image.Select(ws, nil, archs)
	if errors.Is(err, image.ErrNoImages) {
		return nil
	}
	if err != nil {
		return err
	}
	opts := append(imageOptions(g, cmd, out), image.WithRootCache(""),
		image.WithRootRecorder(func(arch, root string) error { return rec.AddRoot(root, arch) }))
	_, err = image.BuildProject(cmd.Context(), ws, sel, opts...)
	return err
}

// lockISOs assembles the ISO live roots from the archive, recording each.
func lockISOs(cmd *cobra.Command, g *globalFlags, ws *workspace.Workspace, rec *store.Recorder, archs []string, out string) error {
	sel, err := iso.Select(ws, archs)
	if errors.Is(err, iso.ErrNoManifest) {
		return nil
	}
	if err != nil {
		return err
	}
	_, err = iso.BuildProject(cmd.Context(), ws, sel, iso.ProjectOptions{
		OutDir: out, NoRootCache: true, Status: cmd.OutOrStdout(), Log: g.log(cmd.ErrOrStderr()),
		RecordRoot: func(arch, root string) error { return rec.AddRoot(root, arch) },
	})
	return err
}

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
			lock, err := g.readLock()
			if err != nil {
				return err
			}
			if lock == nil {
				return fmt.Errorf("%s: no lock (stx-build lock writes it)", g.lockPath())
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
					return &workspace.MissingError{Store: st.Dir, Missing: missing, Total: len(items), Fetch: "stx-build fetch" + dirFlag(g)}
				}
				fmt.Fprintf(w, "all %d packages of %s are in %s\n", len(items), store.LockFile, st.Dir)
				return nil
			}
			if _, err := st.FetchAll(cmd.Context(), items); err != nil {
				if errors.Is(err, store.ErrNotOnMirror) {
					return fmt.Errorf("%w\nthe archive dropped locked versions the store does not have: stx-build lock --update%s resolves again (review the diff)", err, dirFlag(g))
				}
				return err
			}
			fmt.Fprintf(w, "%d packages in %s (%d fetched)\n", len(items), st.Dir, len(missing))
			return nil
		},
	}
	return cmd
}

// dirFlag is " -C DIR" for commands named in messages, unless the project
// is the working directory.
func dirFlag(g *globalFlags) string {
	if g.dir == "" || g.dir == "." {
		return ""
	}
	return " -C " + g.dir
}
