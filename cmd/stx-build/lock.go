package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/stx-build/stx-build/internal/atomicfile"
	"github.com/stx-build/stx-build/lockrun"
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

// needLock is readLock for commands that need a lock: none is an error.
func (g *globalFlags) needLock() (*store.Lock, error) {
	lock, err := g.readLock()
	if err == nil && lock == nil {
		err = fmt.Errorf("%s: no lock (stx-build lock writes it)", g.lockPath())
	}
	return lock, err
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
		update bool
		opts   lockrun.Options
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
--no-build resolves the build environments by simulation instead (apt-get
build-dep --print-uris on the base root, the project's packages stood in
for by their debian/control): seconds instead of a build of everything,
for projects without images and ISOs or with --no-images --no-iso.
Format and workflow: docs/lock.md.`,
		Example: `  stx-build lock -C examples
  stx-build lock -C myproject --no-build --no-images --no-iso
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
			if opts.Archs, err = ws.Archs(opts.Archs); err != nil {
				return archFlagError(err)
			}
			opts.Status, opts.Log = cmd.OutOrStdout(), g.log(cmd.ErrOrStderr())
			lock, err := lockrun.Run(cmd.Context(), ws, opts)
			if err != nil {
				return fmt.Errorf("lock: %w (nothing written)", err)
			}
			if err := atomicfile.Write(path, lock.Marshal(), 0o644); err != nil {
				return err
			}
			n := 0
			for _, s := range lock.Sets {
				n += len(s.Packages)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s: %d packages in %d sets (%d files)\n", path, n, len(lock.Sets), len(lock.Items()))
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVar(&update, "update", false, "resolve again and rewrite an existing stx.lock")
	f.StringSliceVar(&opts.Archs, "arch", nil, "architectures whose packages to lock (default: the project's)")
	f.StringVarP(&opts.OutDir, "out", "o", "", "keep the builds' output here (default: a temporary directory)")
	f.BoolVar(&opts.NoBuild, "no-build", false, "resolve the build environments by simulation, without building (needs --no-images --no-iso when the project has any)")
	f.BoolVar(&opts.NoImages, "no-images", false, "do not lock the image roots")
	f.BoolVar(&opts.NoISO, "no-iso", false, "do not lock the ISO roots")
	f.StringSliceVar(&opts.ImageArchs, "image-arch", nil, "architectures whose image roots to lock (default: the images')")
	f.StringSliceVar(&opts.ISOArchs, "iso-arch", nil, "architectures whose ISO roots to lock (default: the ISO's)")
	return cmd
}
