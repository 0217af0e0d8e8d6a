package deb

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/stx-build/stx-build/debsrc"
	"github.com/stx-build/stx-build/ramdisk"
	"github.com/stx-build/stx-build/rootfs"
	"github.com/stx-build/stx-build/runner/buildkit"
)

// Remote runs the environment and dpkg-buildpackage steps of a Builder's
// builds on a BuildKit worker instead of the local sandbox. Unpacking the
// source and resolving the build-dependency set stay local (they are
// quick and decide the environment's key); the worker installs exactly
// that set on the base image (with network; BuildKit caches the step by
// its definition, so a set seen before is not installed again) and runs
// dpkg-buildpackage as the build user with no network and the build tree
// on a tmpfs of the size the scheduler chose (or the worker's disk). The
// artifacts come back into OutDir as from a local build.
type Remote struct {
	Worker *buildkit.Worker
	// Base is the Builder's base root as an image (buildkit.ExportBase).
	Base buildkit.BaseImage
	// CacheRef, when set, is a registry repository BuildKit exports the
	// environment step's cache to and imports it from.
	CacheRef string
	// InsecureRegistry allows plain HTTP to CacheRef's registry.
	InsecureRegistry bool
}

// Remote build paths, the same as the local sandbox's where they reach
// the build (the source tree is at /build/<name>-<upstream> either way).
const (
	remoteLocalDebs = "/stx/local"
	remoteSource    = "/stx/src"
	remoteOut       = "/stx/out"
	remoteSizeFile  = ".stx-build-size"
)

// buildRemote is Build on b.Remote: the local part in a disk slot, the
// rest on the worker, once more with the tree on the worker's disk when
// tmpfs ran out of space.
func (b *Builder) buildRemote(ctx context.Context, req Request, res *Result, log io.Writer) ([]string, error) {
	p := req.Package
	fail := func(step string, err error) error {
		return &Error{Package: p.Name, Arch: req.Arch, Step: step, Err: err}
	}
	if p.Kernel != nil {
		return nil, fail("build", errors.New("kernel packages build on the local machine only"))
	}
	name := p.Name + "_" + noEpoch(p.Version) + "_" + req.Arch
	slot, err := b.Slots.Acquire(ctx, ramdisk.Request{Name: name, Disk: true})
	if err != nil {
		return nil, err
	}
	defer slot.Release()
	t0 := time.Now()
	fmt.Fprintf(log, "stx-build: %s %s for %s on buildkit worker %s (local part in %s)\n", p.Name, p.Version, req.Arch, b.Remote.Worker, slot.Dir)
	srcDirName := p.Name + "-" + upstreamVersion(p.Version)
	buildDir := filepath.Join(slot.Dir, "build")
	if err := os.MkdirAll(buildDir, 0o755); err != nil {
		return nil, err
	}
	if err := os.Chown(buildDir, rootfs.BuildUID, rootfs.BuildGID); err != nil {
		return nil, err
	}
	if err := b.unpack(ctx, slot, req, srcDirName, log); err != nil {
		return nil, fail("unpack", err)
	}
	clFile := filepath.Join(buildDir, srcDirName, "debian", "changelog")
	clData, err := os.ReadFile(clFile)
	if err != nil {
		return nil, fail("unpack", err)
	}
	cl, err := debsrc.ParseChangelog(clFile, clData)
	if err != nil {
		return nil, fail("unpack", err)
	}
	if cl.Version != p.Version {
		return nil, fail("unpack", fmt.Errorf("debian/changelog says version %s, expected %s", cl.Version, p.Version))
	}
	ds, err := b.resolveDeps(ctx, slot, req, srcDirName, log)
	if err != nil {
		return nil, fail("build-deps", err)
	}
	res.LayerKey = ds.Key
	debDir := ""
	if len(ds.Local) > 0 {
		// Only the local packages of the set travel to the worker, so the
		// environment step's inputs are the set itself.
		debDir = filepath.Join(slot.Dir, "local-debs")
		if err := os.MkdirAll(debDir, 0o755); err != nil {
			return nil, err
		}
		seen := map[string]bool{}
		for _, f := range ds.Local {
			// An arch:all package sits in every architecture's repository:
			// one copy (they are the same file).
			if seen[filepath.Base(f)] {
				continue
			}
			seen[filepath.Base(f)] = true
			if err := os.Link(f, filepath.Join(debDir, filepath.Base(f))); err != nil {
				if err := copyFile(f, filepath.Join(debDir, filepath.Base(f)), 0o644); err != nil {
					return nil, err
				}
			}
		}
	}
	local := time.Since(t0)

	spec := b.buildSpecFor(slot.Dir, req, "", "", srcDirName, cl.Date.Unix())
	job := &buildkit.Job{
		Name:       fmt.Sprintf("%s %s %s", p.Name, p.Version, req.Arch),
		Base:       b.Remote.Base,
		Env:        baseEnv(0),
		Hostname:   runnerHostname,
		DepsScript: remoteDepsScript(ds, debDir != ""),
		DepsDir:    debDir, DepsMount: remoteLocalDebs,
		SourceDir: buildDir, SourceMount: remoteSource,
		BuildScript: remoteBuildScript(srcDirName, spec.Dir, spec.Env, spec.Args),
		BuildMount:  "/build",
		OutMount:    remoteOut,
		CacheRef:    b.Remote.CacheRef, CacheTag: "env-" + ds.Key[:32],
		InsecureRegistry: b.Remote.InsecureRegistry,
	}
	if !p.Disk {
		job.Tmpfs = b.Slots.PaddedSize(p.TmpfsHint)
	}
	for attempt := 1; ; attempt++ {
		out := filepath.Join(slot.Dir, fmt.Sprintf("out-%d", attempt))
		tail := &tailBuffer{max: 64 << 10}
		job.OutDir, job.Log = out, io.MultiWriter(log, tail)
		where := "the worker's disk"
		if job.Tmpfs > 0 {
			where = "tmpfs of " + ramdisk.FormatSize(job.Tmpfs)
		}
		fmt.Fprintf(log, "stx-build: build tree on %s\n", where)
		tm, err := b.Remote.Worker.Run(ctx, job)
		if tm != nil {
			res.LayerCached = tm.EnvCached
			res.Setup = local + tm.Setup
			res.Build = tm.Build
		}
		if err != nil {
			if job.Tmpfs > 0 && ramdisk.LogSaysNoSpace(tail.Bytes()) && !errors.Is(err, buildkit.ErrUnavailable) && ctx.Err() == nil {
				fmt.Fprintf(log, "stx-build: tmpfs ran out of space; building again on the worker's disk\n")
				res.Retried = true
				job.Tmpfs = 0
				continue
			}
			if errors.Is(err, buildkit.ErrUnavailable) || ctx.Err() != nil {
				return nil, err // not the package's failure: the caller may run it elsewhere
			}
			if ramdisk.LogSaysNoSpace(tail.Bytes()) {
				err = fmt.Errorf("%w (%w)", err, syscall.ENOSPC)
			}
			return nil, fail("dpkg-buildpackage", err)
		}
		res.OnTmpfs = job.Tmpfs > 0
		if data, err := os.ReadFile(filepath.Join(out, remoteSizeFile)); err == nil {
			res.PeakBytes, _ = strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64)
		}
		files, err := b.collect(out, req)
		if err != nil {
			return nil, fail("collect", err)
		}
		return files, nil
	}
}

// runnerHostname is the local sandbox's host name, used on workers too.
const runnerHostname = "stx-build"

// remoteDepsScript installs exactly the resolved set: the archive's
// packages by name and version from the base's package lists (the ones
// the set was resolved against), the local ones from their files.
func remoteDepsScript(ds *depSet, haveLocal bool) string {
	var b strings.Builder
	b.WriteString("export DEBIAN_FRONTEND=noninteractive\n")
	if len(ds.Archive) > 0 || haveLocal {
		b.WriteString("apt-get -q -y --no-install-recommends install")
		for _, a := range ds.Archive {
			b.WriteString(" " + shellQuote(a))
		}
		if haveLocal {
			b.WriteString(" " + remoteLocalDebs + "/*.deb")
		}
		b.WriteString("\n")
	}
	b.WriteString(cleanAfterInstall + "\n")
	return b.String()
}

// remoteBuildScript copies the source tree into the build tree, runs the
// build command as the build user with exactly env (as the local sandbox
// does), and copies the artifacts and the tree's size to the out mount.
func remoteBuildScript(srcDir, dir string, env, args []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "cp -a %s/%s /build/\n", remoteSource, shellQuote(srcDir))
	fmt.Fprintf(&b, "chown -R %d:%d /build\nchmod 0755 /build\n", rootfs.BuildUID, rootfs.BuildGID)
	fmt.Fprintf(&b, "cd %s\n", shellQuote(dir))
	fmt.Fprintf(&b, "echo 'stx-build: $ %s'\n", strings.ReplaceAll(strings.Join(args, " "), "'", ""))
	fmt.Fprintf(&b, "rc=0\nsetpriv --reuid=%d --regid=%d --clear-groups -- env -i %s %s || rc=$?\n",
		rootfs.BuildUID, rootfs.BuildGID, shellQuoteAll(env), shellQuoteAll(args))
	fmt.Fprintf(&b, "du -sxb /build | cut -f1 > %s/%s\n", remoteOut, remoteSizeFile)
	fmt.Fprintf(&b, "for f in /build/*; do case \"$f\" in *%s) cp \"$f\" %s/;; esac; done\n",
		strings.Join(artifactExt, "|*"), remoteOut)
	b.WriteString("exit $rc\n")
	return b.String()
}
