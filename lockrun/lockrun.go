// Package lockrun records a project's stx.lock: it resolves everything
// the project installs from the archive, against the archive as it is
// now, by building and assembling it once (docs/lock.md):
//
//  1. every package for every architecture, without the artifact cache
//     (the project's own packages must exist for the ones that
//     build-depend on them to resolve), recording each resolved
//     build-dependency set (buildrun.Options.OnResolved);
//  2. the base root's installed packages, for every architecture built
//     (cross builds run on the same base);
//  3. each image root and ISO live root, assembled from the archive
//     without the cache of archive roots, recording what each installed.
//
// Run returns the lock; writing it is the caller's (nothing is written on
// failure).
package lockrun

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/stx-build/stx-build/builders/image"
	"github.com/stx-build/stx-build/builders/iso"
	"github.com/stx-build/stx-build/buildrun"
	"github.com/stx-build/stx-build/store"
	"github.com/stx-build/stx-build/workspace"
)

// Options say what to lock.
type Options struct {
	// Archs are the architectures whose packages to lock (none: the
	// project's).
	Archs []string
	// OutDir keeps the builds' output ("": a temporary directory in the
	// cache, removed at the end).
	OutDir string
	// NoImages and NoISO leave the image and ISO roots out;
	// ImageArchs and ISOArchs narrow them (none: the manifests').
	NoImages, NoISO      bool
	ImageArchs, ISOArchs []string
	// NoBuild resolves the build environments by simulation instead of
	// building (buildrun.Simulate): seconds instead of a build of every
	// package, with the project's packages stood in for by what their
	// debian/control declares. Image and ISO roots need the packages
	// built, so a project with any must leave them out.
	NoBuild bool
	// Status gets one line per step; Log the tools' output (nil: none).
	Status, Log io.Writer
}

// Run resolves ws (opened without a lock: the archive as it is now) and
// returns its lock.
func Run(ctx context.Context, ws *workspace.Workspace, opts Options) (*store.Lock, error) {
	archs, err := ws.Archs(opts.Archs)
	if err != nil {
		return nil, err
	}
	if opts.Status == nil {
		opts.Status = io.Discard
	}
	if opts.NoBuild {
		if err := rootsWithoutBuild(ws, opts); err != nil {
			return nil, err
		}
	}
	out := opts.OutDir
	if out == "" {
		// The builds are how the sets are found, not results.
		tmp, err := os.MkdirTemp(ws.CacheDir(), "lock-out-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(tmp)
		out = tmp
	}
	rec := store.NewRecorder(ws.Project.Suite)
	if err := packages(ctx, ws, rec, archs, out, opts); err != nil {
		return nil, err
	}
	if !opts.NoImages {
		if err := images(ctx, ws, rec, out, opts); err != nil {
			return nil, fmt.Errorf("images: %w", err)
		}
	}
	if !opts.NoISO {
		if err := isos(ctx, ws, rec, out, opts); err != nil {
			return nil, fmt.Errorf("iso: %w", err)
		}
	}
	return rec.Lock(), nil
}

// packages builds the packages unlocked, recording every build-dependency
// set, then the base root's packages for every architecture built.
func packages(ctx context.Context, ws *workspace.Workspace, rec *store.Recorder, archs []string, out string, opts Options) error {
	bo := buildrun.Options{Archs: archs, OutDir: out, KeepGoing: true, OnResolved: rec.AddSet, Status: opts.Status, Log: opts.Log}
	if opts.NoBuild {
		if err := buildrun.Simulate(ctx, ws, bo); err != nil {
			return err
		}
	} else if _, err := buildrun.Run(ctx, ws, bo); err != nil {
		return err
	}
	spec, err := ws.BaseSpec()
	if err != nil {
		return err
	}
	base, err := ws.BaseStore().Find(ctx, spec)
	if err != nil {
		return err
	}
	return rec.AddRoot(base.Dir, archs...)
}

// rootsWithoutBuild refuses --no-build for a project with image or ISO
// roots to lock: assembling them installs the project's packages.
func rootsWithoutBuild(ws *workspace.Workspace, opts Options) error {
	const why = "lock --no-build resolves the base root and the build environments only; image and ISO roots are locked by assembling them from the built packages"
	if !opts.NoImages {
		_, err := image.Select(ws, nil, opts.ImageArchs)
		if err == nil {
			return fmt.Errorf("%s: add --no-images (or drop --no-build)", why)
		}
		if !errors.Is(err, image.ErrNoImages) {
			return err
		}
	}
	if !opts.NoISO {
		_, err := iso.Select(ws, opts.ISOArchs)
		if err == nil {
			return fmt.Errorf("%s: add --no-iso (or drop --no-build)", why)
		}
		if !errors.Is(err, iso.ErrNoManifest) {
			return err
		}
	}
	return nil
}

// images assembles the image roots from the archive, recording each.
func images(ctx context.Context, ws *workspace.Workspace, rec *store.Recorder, out string, opts Options) error {
	sel, err := image.Select(ws, nil, opts.ImageArchs)
	if errors.Is(err, image.ErrNoImages) {
		return nil
	}
	if err != nil {
		return err
	}
	imgOpts := []image.Option{image.WithOutDir(out), image.WithStatus(opts.Status), image.WithRootCache(""),
		image.WithRootRecorder(func(arch, root string) error { return rec.AddRoot(root, arch) })}
	if opts.Log != nil {
		imgOpts = append(imgOpts, image.WithLog(opts.Log))
	}
	_, err = image.BuildProject(ctx, ws, sel, imgOpts...)
	return err
}

// isos assembles the ISO live roots from the archive, recording each,
// and the boot packages each ISO takes.
func isos(ctx context.Context, ws *workspace.Workspace, rec *store.Recorder, out string, opts Options) error {
	sel, err := iso.Select(ws, opts.ISOArchs)
	if errors.Is(err, iso.ErrNoManifest) {
		return nil
	}
	if err != nil {
		return err
	}
	_, err = iso.BuildProject(ctx, ws, sel, iso.ProjectOptions{
		OutDir: out, NoRootCache: true, Status: opts.Status, Log: opts.Log,
		RecordRoot: func(arch, root string) error { return rec.AddRoot(root, arch) },
		RecordBoot: func(arch string, pkgs []store.LockedPackage) error { rec.AddPackages(arch, pkgs); return nil },
	})
	return err
}
