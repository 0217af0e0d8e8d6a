// Package deb builds one Debian source package for one architecture in a
// hermetic sandbox: the base root, a cached layer holding exactly the
// package's build-dependencies, and a writable layer on tmpfs (or disk),
// with no network during the build.
package deb

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"pault.ag/go/debian/version"

	"github.com/stx-build/stx-build/debsrc"
	"github.com/stx-build/stx-build/ramdisk"
	"github.com/stx-build/stx-build/repo"
	"github.com/stx-build/stx-build/rootfs"
	"github.com/stx-build/stx-build/runner"
)

// Version is the builder recipe version; part of layer keys.
const Version = "1"

// Package is one source package to build.
type Package struct {
	Name    string
	Version string
	// Local is an unpacked source tree (with debian/); DSC a .dsc whose
	// files sit beside it. Exactly one is set.
	Local string
	DSC   string
	// Patches are applied in order with patch -p1 after unpacking.
	Patches []string
	// Profiles are the package's build profiles (nocheck included when the
	// manifest says so).
	Profiles []string
	// Jobs is the make parallelism (parallel=N); 0 means Builder.Jobs.
	Jobs int
	// TmpfsHint is the predicted peak size of the build (0: unknown);
	// Disk forces a build on disk.
	TmpfsHint int64
	Disk      bool
	// Kernel, when set, builds a Linux kernel from a tarball with make
	// bindeb-pkg (kbuild.go); Local and DSC are then empty.
	Kernel *Kernel
}

// Request asks for one build.
type Request struct {
	Package Package
	// Arch is the host architecture to build for.
	Arch string
	// Parts says which binaries to build: "any" (-B), "all" (-A) or
	// "both" (-b).
	Parts string
	// Repos are the local repositories build-deps may come from, by
	// architecture; results are published into Repos[Arch] (and arch:all
	// ones also into the others, by the caller).
	Repos map[string]*repo.Repo
	// ReleaseDate is the Date of the repositories' Release files.
	ReleaseDate time.Time
}

// Result describes a finished build.
type Result struct {
	Package, Version, Arch string
	// Files are the produced .deb/.udeb/.buildinfo/.changes, in OutDir.
	Files []string
	// Log is the full build log.
	Log string
	// OnTmpfs says where the build tree was; Retried says a tmpfs build ran
	// out of space and was run again on disk.
	OnTmpfs, Retried bool
	// PeakBytes is the peak size of the build tree.
	PeakBytes int64
	// LayerKey names the build-dependency layer; LayerCached says it was reused.
	LayerKey    string
	LayerCached bool
	// Setup is the time to the start of dpkg-buildpackage (unpack, build-dep
	// layer); Build the dpkg-buildpackage run; Total all of it.
	Setup, Build, Total time.Duration
}

// Builder builds packages. Its fields are shared by concurrent builds.
type Builder struct {
	Runner runner.Runner
	Slots  *ramdisk.Manager
	Base   *rootfs.Base
	// HostArch is the build machine's architecture.
	HostArch string
	// LayerDir holds cached build-dependency layers.
	LayerDir string
	// OutDir receives results: OutDir/<arch>/debs/<name>_<version>/ and
	// OutDir/<arch>/logs/<name>_<version>.log.
	OutDir string
	// Jobs is the default make parallelism.
	Jobs int
	// Remote, when set, runs the builds on a BuildKit worker (remote.go).
	Remote *Remote
}

// Error is a failed build, with the log to look at.
type Error struct {
	Package, Arch, Step, Log string
	Err                      error
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s (%s): %s: %v (log: %s)", e.Package, e.Arch, e.Step, e.Err, e.Log)
}

func (e *Error) Unwrap() error { return e.Err }

// Build builds req. The build runs on tmpfs when its predicted size fits
// the RAM budget and is retried once on disk when tmpfs runs out of space.
// Results are moved into OutDir only when the build succeeded; a failed or
// interrupted build leaves earlier outputs as they were.
func (b *Builder) Build(ctx context.Context, req Request) (*Result, error) {
	start := time.Now()
	p := req.Package
	res := &Result{Package: p.Name, Version: p.Version, Arch: req.Arch}
	base := p.Name + "_" + noEpoch(p.Version)
	logDir := filepath.Join(b.OutDir, req.Arch, "logs")
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return nil, err
	}
	res.Log = filepath.Join(logDir, base+".log")
	partial := res.Log + ".partial"
	logf, err := os.Create(partial)
	if err != nil {
		return nil, err
	}
	defer logf.Close()

	r := ramdisk.Request{Name: base + "_" + req.Arch, Size: p.TmpfsHint, Disk: p.Disk}
	var files []string
	var out ramdisk.Result
	if b.Remote != nil {
		files, err = b.buildRemote(ctx, req, res, logf)
	} else {
		out, err = ramdisk.RetryOnDisk(ctx, b.Slots, r, func(slot *ramdisk.Slot) error {
			fmt.Fprintf(logf, "stx-build: %s %s for %s in %s (tmpfs: %v)\n", p.Name, p.Version, req.Arch, slot.Dir, slot.OnTmpfs)
			tail := &tailBuffer{max: 64 << 10}
			var err error
			files, err = b.buildIn(ctx, slot, req, res, io.MultiWriter(logf, tail))
			if err != nil && ramdisk.LogSaysNoSpace(tail.Bytes()) {
				// Let the retry logic see it: the build ran out of space.
				err = fmt.Errorf("%w (%w)", err, syscall.ENOSPC)
			}
			return err
		})
		res.Retried = len(out.Attempts) > 1
		res.OnTmpfs = out.OnTmpfs()
		res.PeakBytes = out.Peak
	}
	res.Total = time.Since(start)
	status := "ok"
	if err != nil {
		status = "FAILED: " + err.Error()
		var be *Error
		if errors.As(err, &be) {
			status = fmt.Sprintf("FAILED in %s: %v", be.Step, be.Err)
		}
	}
	fmt.Fprintf(logf, "stx-build: %s after %s (setup %s, build %s), peak %s\n",
		status, res.Total.Round(time.Millisecond), res.Setup.Round(time.Millisecond), res.Build.Round(time.Millisecond), ramdisk.FormatSize(res.PeakBytes))
	logf.Close()
	if rerr := os.Rename(partial, res.Log); rerr != nil && err == nil {
		err = rerr
	}
	if err != nil {
		var be *Error
		if !errors.As(err, &be) {
			err = &Error{Package: p.Name, Arch: req.Arch, Step: "build", Err: err}
		}
		errors.As(err, &be)
		be.Log = res.Log
		return res, err
	}
	res.Files = files
	return res, nil
}

// buildIn runs the whole build in one slot and moves the results to OutDir.
func (b *Builder) buildIn(ctx context.Context, slot *ramdisk.Slot, req Request, res *Result, log io.Writer) ([]string, error) {
	p := req.Package
	if p.Kernel != nil {
		return b.buildKernelIn(ctx, slot, req, res, log)
	}
	t0 := time.Now()
	srcDirName := p.Name + "-" + upstreamVersion(p.Version)
	buildDir := filepath.Join(slot.Dir, "build")
	if err := os.MkdirAll(buildDir, 0o755); err != nil {
		return nil, err
	}
	if err := os.Chown(buildDir, rootfs.BuildUID, rootfs.BuildGID); err != nil {
		return nil, err
	}
	fail := func(step string, err error) error {
		return &Error{Package: p.Name, Arch: req.Arch, Step: step, Err: err}
	}

	// 1. Source tree at the fixed path /build/<name>-<upstream>.
	if err := b.unpack(ctx, slot, req, srcDirName, log); err != nil {
		return nil, fail("unpack", err)
	}
	srcTree := filepath.Join(buildDir, srcDirName)
	clData, err := os.ReadFile(filepath.Join(srcTree, "debian", "changelog"))
	if err != nil {
		return nil, fail("unpack", err)
	}
	cl, err := debsrc.ParseChangelog(filepath.Join(srcTree, "debian", "changelog"), clData)
	if err != nil {
		return nil, fail("unpack", err)
	}
	if cl.Version != p.Version {
		return nil, fail("unpack", fmt.Errorf("debian/changelog says version %s, expected %s", cl.Version, p.Version))
	}

	// 2. The build-dependency layer.
	layer, cached, err := b.depsLayer(ctx, slot, req, srcDirName, log)
	if err != nil {
		return nil, fail("build-deps", err)
	}
	res.LayerKey, res.LayerCached = filepath.Base(layer), cached
	res.Setup = time.Since(t0)

	// 3. dpkg-buildpackage, no network, as the build user.
	t1 := time.Now()
	spec := b.buildSpecFor(slot.Dir, req, layer, b.Base.Dir, srcDirName, cl.Date.Unix())
	spec.Stdout, spec.Stderr = log, log
	fmt.Fprintf(log, "stx-build: $ %s\n", strings.Join(spec.Args, " "))
	if err := b.Runner.Run(ctx, spec); err != nil {
		return nil, fail("dpkg-buildpackage", err)
	}
	res.Build = time.Since(t1)

	// 4. Results: move into OutDir atomically, then publish.
	files, err := b.collect(buildDir, req)
	if err != nil {
		return nil, fail("collect", err)
	}
	return files, nil
}

// unpack puts the source tree at slot/build/<dir>: a local tree is copied
// with normalized modes; a .dsc is unpacked by dpkg-source inside the
// sandbox (the base's dpkg, not the host's). Patches are applied after.
func (b *Builder) unpack(ctx context.Context, slot *ramdisk.Slot, req Request, dir string, log io.Writer) error {
	p := req.Package
	dst := filepath.Join(slot.Dir, "build", dir)
	var script []string
	mounts := []runner.Mount{{Source: filepath.Join(slot.Dir, "build"), Target: "/build"}}
	if p.Local != "" {
		clFile := filepath.Join(p.Local, "debian", "changelog")
		data, err := os.ReadFile(clFile)
		if err != nil {
			return err
		}
		cl, err := debsrc.ParseChangelog(clFile, data)
		if err != nil {
			return err
		}
		if err := copyTree(p.Local, dst, cl.Date); err != nil {
			return err
		}
		if err := chownTree(dst, rootfs.BuildUID, rootfs.BuildGID); err != nil {
			return err
		}
	} else {
		mounts = append(mounts, runner.Mount{Source: filepath.Dir(p.DSC), Target: "/stx/src", ReadOnly: true})
		// Hashes were verified when fetching; dpkg-source has no keyring here.
		script = append(script, "dpkg-source --no-check --no-copy -x /stx/src/"+shellQuote(filepath.Base(p.DSC))+" /build/"+shellQuote(dir))
	}
	if len(p.Patches) > 0 {
		pdir := filepath.Join(slot.Dir, "patches")
		if err := os.MkdirAll(pdir, 0o755); err != nil {
			return err
		}
		for i, patch := range p.Patches {
			data, err := os.ReadFile(patch)
			if err != nil {
				return err
			}
			name := fmt.Sprintf("%03d.patch", i)
			if err := os.WriteFile(filepath.Join(pdir, name), data, 0o644); err != nil {
				return err
			}
			script = append(script, fmt.Sprintf("echo 'applying %s'; patch -p1 --batch --forward -d /build/%s < /stx/patches/%s", filepath.Base(patch), shellQuote(dir), name))
		}
		mounts = append(mounts, runner.Mount{Source: pdir, Target: "/stx/patches", ReadOnly: true})
	}
	if len(script) == 0 {
		return nil
	}
	return b.Runner.Run(ctx, &runner.Spec{
		Layers: []string{b.Base.Dir},
		Upper:  filepath.Join(slot.Dir, "unpack"),
		Mounts: mounts,
		Args:   []string{"/bin/sh", "-ec", strings.Join(script, "\n")},
		Env:    baseEnv(0),
		Dir:    "/build",
		UID:    rootfs.BuildUID, GID: rootfs.BuildGID,
		Stdout: log, Stderr: log,
	})
}

// repoMounts mounts every local repository read-only and returns the apt
// setup commands that use them (highest priority, so a just-built package
// wins over the archive's).
func repoMounts(req Request) ([]runner.Mount, string) {
	var mounts []runner.Mount
	var lines []string
	archs := make([]string, 0, len(req.Repos))
	for a := range req.Repos {
		archs = append(archs, a)
	}
	slices.Sort(archs)
	for _, a := range archs {
		target := "/stx/repo-" + a
		mounts = append(mounts, runner.Mount{Source: req.Repos[a].Dir(), Target: target, ReadOnly: true})
		lines = append(lines, fmt.Sprintf("deb [trusted=yes arch=%s] file:%s stx main", a, target))
	}
	setup := "printf '%s\\n' " + shellQuoteAll(lines) + " > /etc/apt/sources.list.d/stx-local.list\n" +
		"printf 'Package: *\\nPin: origin \"\"\\nPin-Priority: 1001\\n' > /etc/apt/preferences.d/stx-local\n" +
		"apt-get -q -o Dir::Etc::SourceList=sources.list.d/stx-local.list -o Dir::Etc::SourceParts=- -o APT::Get::List-Cleanup=0 update\n"
	return mounts, setup
}

// buildDepArgs are the apt-get build-dep options for req.
func (b *Builder) buildDepArgs(req Request, srcDir string) string {
	args := []string{"apt-get", "-q", "--no-install-recommends"}
	if req.Arch != b.HostArch {
		args = append(args, "--host-architecture", req.Arch)
	}
	if prof := profiles(req, b.HostArch); len(prof) > 0 {
		args = append(args, "-P", strings.Join(prof, ","))
	}
	switch req.Parts {
	case "any":
		args = append(args, "--arch-only")
	case "all":
		args = append(args, "--indep-only")
	}
	args = append(args, "build-dep")
	return strings.Join(args, " ") + " %s /build/" + shellQuote(srcDir)
}

var instLine = regexp.MustCompile(`^Inst (\S+) (?:\[[^\]]*\] )?\((\S+) (.*)\)`)

// depSet is a package's resolved build-dependency set.
type depSet struct {
	// Key names the layer holding exactly this set on this base.
	Key string
	// Inst are "name[:arch] version[ sha256]" for every package apt
	// installs, sorted; the digest is there for local packages.
	Inst []string
	// Archive are "name[:arch]=version" of the packages from the archive;
	// Local the files of the packages from the local repositories.
	Archive []string
	Local   []string
	// mounts and setup give a step access to the local repositories.
	mounts []runner.Mount
	setup  string
}

// resolveDeps computes the exact build-dependency set with apt-get
// build-dep -s on the base, with the local repositories first. The key is
// the base, the recipe and the set: every package apt would install, with
// version and architecture, and for packages from the local repositories
// their .deb digests, so a rebuilt library changes the layer of everything
// using it.
func (b *Builder) resolveDeps(ctx context.Context, slot *ramdisk.Slot, req Request, srcDir string, log io.Writer) (*depSet, error) {
	mounts, setup := repoMounts(req)
	mounts = append(mounts, runner.Mount{Source: filepath.Join(slot.Dir, "build"), Target: "/build", ReadOnly: true})
	// The install steps reach the mirror: use the host's current resolver.
	if _, err := os.Stat("/etc/resolv.conf"); err == nil {
		mounts = append(mounts, runner.Mount{Source: "/etc/resolv.conf", Target: "/etc/resolv.conf", ReadOnly: true})
	}
	var sim bytes.Buffer
	err := b.Runner.Run(ctx, &runner.Spec{
		Layers:  []string{b.Base.Dir},
		Upper:   filepath.Join(slot.Dir, "deps-sim"),
		Mounts:  mounts,
		Args:    []string{"/bin/sh", "-ec", setup + fmt.Sprintf(b.buildDepArgs(req, srcDir), "-s")},
		Env:     baseEnv(0),
		Dir:     "/",
		Network: true,
		Stdout:  io.MultiWriter(&sim, log), Stderr: log,
	})
	if err != nil {
		return nil, fmt.Errorf("resolve build-deps: %w", err)
	}
	_ = os.RemoveAll(filepath.Join(slot.Dir, "deps-sim"))
	local, err := localDebs(req, b.HostArch)
	if err != nil {
		return nil, err
	}
	ds := &depSet{mounts: mounts, setup: setup}
	sc := bufio.NewScanner(&sim)
	for sc.Scan() {
		m := instLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		line := m[1] + " " + m[2]
		if d, ok := local[m[1]+" "+m[2]]; ok {
			line += " " + d.sha256
			ds.Local = append(ds.Local, d.path)
		} else {
			ds.Archive = append(ds.Archive, m[1]+"="+m[2])
		}
		ds.Inst = append(ds.Inst, line)
	}
	slices.Sort(ds.Inst)
	slices.Sort(ds.Archive)
	slices.Sort(ds.Local)
	ds.Local = slices.Compact(ds.Local)
	h := sha256.New()
	fmt.Fprintf(h, "stx-build deps layer %s\nbase %s\n", Version, b.Base.Key)
	for _, l := range ds.Inst {
		fmt.Fprintln(h, l)
	}
	ds.Key = hex.EncodeToString(h.Sum(nil))
	return ds, nil
}

// depsLayer returns the layer holding exactly the package's build-deps,
// making and caching it when new.
func (b *Builder) depsLayer(ctx context.Context, slot *ramdisk.Slot, req Request, srcDir string, log io.Writer) (string, bool, error) {
	ds, err := b.resolveDeps(ctx, slot, req, srcDir, log)
	if err != nil {
		return "", false, err
	}
	key := ds.Key
	final := filepath.Join(b.LayerDir, key)
	if _, err := os.Stat(filepath.Join(final, ".stx-layer")); err == nil {
		fmt.Fprintf(log, "stx-build: build-deps layer %s (cached, %d packages)\n", key[:12], len(ds.Inst))
		return final, true, nil
	}
	fmt.Fprintf(log, "stx-build: build-deps layer %s: installing %d packages\n", key[:12], len(ds.Inst))
	upper := filepath.Join(slot.Dir, "deps")
	err = b.Runner.Run(ctx, &runner.Spec{
		Layers:  []string{b.Base.Dir},
		Upper:   upper,
		Mounts:  ds.mounts,
		Args:    []string{"/bin/sh", "-ec", ds.setup + "export DEBIAN_FRONTEND=noninteractive\n" + fmt.Sprintf(b.buildDepArgs(req, srcDir), "-y") + "\n" + cleanAfterInstall},
		Env:     baseEnv(0),
		Dir:     "/",
		Network: true,
		Stdout:  log, Stderr: log,
	})
	if err != nil {
		return "", false, fmt.Errorf("install build-deps: %w", err)
	}
	if err := saveLayer(filepath.Join(upper, "upper"), b.LayerDir, key); err != nil {
		return "", false, err
	}
	return final, false, nil
}

// cleanAfterInstall drops what an install leaves that no build reads.
const cleanAfterInstall = "apt-get clean\nrm -rf /var/log/apt /var/log/dpkg.log /var/cache/debconf/*-old"

type localDeb struct{ sha256, path string }

// localDebs maps "name:arch version" of every package in the local
// repositories to its sha256 and file, and "name version" (how apt names
// packages of the build machine's architecture and arch:all ones) for
// those.
func localDebs(req Request, hostArch string) (map[string]localDeb, error) {
	m := map[string]localDeb{}
	for _, r := range req.Repos {
		entries, err := r.Packages()
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			d := localDeb{sha256: e.SHA256, path: filepath.Join(r.Dir(), e.Filename)}
			m[e.Package+":"+e.Architecture+" "+e.Version] = d
			if e.Architecture == hostArch || e.Architecture == "all" {
				m[e.Package+" "+e.Version] = d
			}
		}
	}
	return m, nil
}

// saveLayer copies an overlay upper directory (with its whiteouts and
// opaque-dir xattrs) into the layer store under key, atomically.
func saveLayer(upper, dir, key string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(dir, ".tmp-"+key[:12]+"-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	// cp -a keeps devices (whiteouts), ownership, modes and xattrs.
	if out, err := exec.Command("cp", "-a", "--", upper+"/.", tmp).CombinedOutput(); err != nil {
		return fmt.Errorf("save layer: cp: %v: %s", err, out)
	}
	if err := os.WriteFile(filepath.Join(tmp, ".stx-layer"), []byte(key+"\n"), 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(dir, key)); err != nil {
		if _, serr := os.Stat(filepath.Join(dir, key, ".stx-layer")); serr == nil {
			return nil // a concurrent build saved the same layer
		}
		return err
	}
	return nil
}

// profiles are the build profiles for req: the package's, plus cross and
// nocheck for a cross build.
func profiles(req Request, hostArch string) []string {
	prof := slices.Clone(req.Package.Profiles)
	if req.Arch != hostArch {
		prof = append(prof, "cross", "nocheck")
	}
	slices.Sort(prof)
	return slices.Compact(prof)
}

// buildSpecFor is the dpkg-buildpackage step in the slot at slotDir.
func (b *Builder) buildSpecFor(slotDir string, req Request, layer, baseDir, srcDir string, epoch int64) *runner.Spec {
	p := req.Package
	jobs := p.Jobs
	if jobs <= 0 {
		jobs = b.Jobs
	}
	if jobs <= 0 {
		jobs = 1
	}
	prof := profiles(req, b.HostArch)
	opts := []string{"parallel=" + strconv.Itoa(jobs)}
	if slices.Contains(prof, "nocheck") {
		opts = append(opts, "nocheck")
	}
	args := []string{"dpkg-buildpackage", "--no-sign"}
	switch req.Parts {
	case "any":
		args = append(args, "-B")
	case "all":
		args = append(args, "-A")
	default:
		args = append(args, "-b")
	}
	if req.Arch != b.HostArch {
		args = append(args, "--host-arch="+req.Arch)
	}
	if len(prof) > 0 {
		args = append(args, "--build-profiles="+strings.Join(prof, ","))
	}
	env := append(baseEnv(epoch),
		"DEB_BUILD_OPTIONS="+strings.Join(opts, " "),
		"HOME=/nonexistent",
		"USER="+rootfs.BuildUser, "LOGNAME="+rootfs.BuildUser,
	)
	if len(prof) > 0 {
		env = append(env, "DEB_BUILD_PROFILES="+strings.Join(prof, " "))
	}
	return &runner.Spec{
		Layers: []string{layer, baseDir},
		Upper:  filepath.Join(slotDir, "root"),
		Mounts: []runner.Mount{{Source: filepath.Join(slotDir, "build"), Target: "/build"}},
		Args:   args,
		Env:    env,
		Dir:    "/build/" + srcDir,
		UID:    rootfs.BuildUID, GID: rootfs.BuildGID,
	}
}

// baseEnv is the fixed environment of every sandboxed step.
func baseEnv(epoch int64) []string {
	env := []string{
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"LC_ALL=C.UTF-8", "LANG=C.UTF-8", "TZ=UTC", "TERM=dumb",
		"HOME=/root",
	}
	if epoch > 0 {
		env = append(env, "SOURCE_DATE_EPOCH="+strconv.FormatInt(epoch, 10))
	}
	return env
}

var artifactExt = []string{".deb", ".udeb", ".ddeb", ".buildinfo", ".changes"}

// collect moves the build's artifacts into OutDir/<arch>/debs/<name>_<ver>/,
// replacing an earlier result only once the new one is complete.
func (b *Builder) collect(buildDir string, req Request) ([]string, error) {
	entries, err := os.ReadDir(buildDir)
	if err != nil {
		return nil, err
	}
	name := req.Package.Name + "_" + noEpoch(req.Package.Version)
	dest := filepath.Join(b.OutDir, req.Arch, "debs", name)
	if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dest), ".tmp-"+name+"-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	if err := os.Chmod(tmp, 0o755); err != nil {
		return nil, err
	}
	var files []string
	for _, e := range entries {
		if e.IsDir() || !slices.Contains(artifactExt, filepath.Ext(e.Name())) {
			continue
		}
		if err := copyFile(filepath.Join(buildDir, e.Name()), filepath.Join(tmp, e.Name()), 0o644); err != nil {
			return nil, err
		}
		files = append(files, e.Name())
	}
	if !slices.ContainsFunc(files, func(f string) bool { return strings.HasSuffix(f, ".deb") || strings.HasSuffix(f, ".udeb") }) {
		return nil, fmt.Errorf("dpkg-buildpackage produced no .deb in %s", buildDir)
	}
	old := dest + ".old"
	_ = os.RemoveAll(old)
	if err := os.Rename(dest, old); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	if err := os.Rename(tmp, dest); err != nil {
		_ = os.Rename(old, dest)
		return nil, err
	}
	_ = os.RemoveAll(old)
	slices.Sort(files)
	for i, f := range files {
		files[i] = filepath.Join(dest, f)
	}
	return files, nil
}

func noEpoch(v string) string {
	if _, rest, ok := strings.Cut(v, ":"); ok {
		return rest
	}
	return v
}

func upstreamVersion(v string) string {
	pv, err := version.Parse(v)
	if err != nil {
		return noEpoch(v)
	}
	return pv.Version
}

func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-._/=:,") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func shellQuoteAll(xs []string) string {
	q := make([]string, len(xs))
	for i, x := range xs {
		q[i] = shellQuote(x)
	}
	return strings.Join(q, " ")
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	max int
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.buf = append(t.buf, p...)
	if len(t.buf) > 2*t.max {
		t.buf = append([]byte(nil), t.buf[len(t.buf)-t.max:]...)
	}
	return len(p), nil
}

// Bytes returns up to the last max bytes.
func (t *tailBuffer) Bytes() []byte {
	if len(t.buf) > t.max {
		return t.buf[len(t.buf)-t.max:]
	}
	return t.buf
}
