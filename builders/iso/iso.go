// Package iso builds a bootable, reproducible hybrid ISO of a live
// system: a root file system made of packages (the project's local
// repository and the archive) as a squashfs, the kernel from it, a small
// initramfs of stx-build's own that finds the medium by label and mounts
// the squashfs under a tmpfs overlay, and GRUB for UEFI (and BIOS on
// amd64), mastered with xorriso so that the image boots as a CD and from
// a USB stick. Same inputs, same bytes: every date is SOURCE_DATE_EPOCH.
package iso

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/stx-build/stx-build/arch"
	"github.com/stx-build/stx-build/arch/amd64"
	"github.com/stx-build/stx-build/arch/arm64"
	"github.com/stx-build/stx-build/internal/mountinfo"
	"github.com/stx-build/stx-build/manifests"
	"github.com/stx-build/stx-build/repo"
	"github.com/stx-build/stx-build/rootfs"
	"github.com/stx-build/stx-build/store"
)

// Profile returns the architecture profile of a Debian architecture.
func Profile(name string) (*arch.Profile, error) {
	switch name {
	case "amd64":
		return amd64.Profile(), nil
	case "arm64":
		return arm64.Profile(), nil
	}
	return nil, fmt.Errorf("no ISO support for architecture %q (amd64, arm64)", name)
}

// Downloader fetches binary packages (name:arch) from the archive into a
// directory, as apt-get download does.
type Downloader interface {
	Download(ctx context.Context, dir string, pkgs []string) error
}

// Options configure Build.
type Options struct {
	Project  *manifests.Project
	Manifest *manifests.ISO
	Arch     string
	// LocalRepo is the project's apt repository for Arch (OUT/<arch>/repo);
	// empty or missing: the archive only.
	LocalRepo string
	// Output is the ISO file to write.
	Output string
	// WorkDir is where a temporary working directory is made (it holds
	// the live root: hundreds of MiB). Default: os.TempDir().
	WorkDir string
	// Epoch is SOURCE_DATE_EPOCH (see ProjectEpoch).
	Epoch int64
	// RepoSigner signs the ISO's own package repository (the live
	// package) and RepoKeyring, its public keyring, verifies every local
	// repository the root installs from (signed-by=; LocalRepo must be
	// signed by the same key: workspace.SignRepos). Without them the
	// repositories are trusted unchecked.
	RepoSigner  *repo.Signer
	RepoKeyring string
	// RecordRoot, when set, is called with the live root before it is
	// normalized (rootfs.AssembleSpec.Record): how stx-build lock learns
	// its archive packages.
	RecordRoot func(arch, root string) error
	// RootCache is the directory of cached archive roots
	// (rootfs.AssembleSpec.Cache); empty: the live root is made from
	// nothing. The result is the same either way.
	RootCache string
	// Boot fetches the boot loader and busybox packages.
	Boot Downloader
	// RecordBoot, when set, gets the archive files of the boot packages
	// (Boot must be a Locator): how stx-build lock records them.
	RecordBoot func(arch string, pkgs []store.LockedPackage) error
	// Status gets one line per step; Log gets the tools' output.
	Status, Log io.Writer
	// KeepWork leaves the working directory in place (for debugging).
	KeepWork bool
}

// Result describes a built ISO.
type Result struct {
	Arch   string `json:"arch"`
	ISO    string `json:"iso"`
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
	Label  string `json:"label"`
	Epoch  int64  `json:"epoch"`
	// Kernel is the kernel package and version, and whether it came from
	// the project's own repository.
	KernelPackage string `json:"kernel_package"`
	KernelVersion string `json:"kernel_version"`
	KernelLocal   bool   `json:"kernel_local"`
	// Packages are installed in the live root; BootPackages were extracted
	// for the boot loader and the initramfs.
	Packages     []Package `json:"packages"`
	BootPackages []Package `json:"boot_packages"`
	// Modules are the kernel modules in the initramfs, in load order;
	// MissingModules those the profile asks for that the kernel has
	// neither as modules nor built in (its drivers must do without them).
	Modules        []string `json:"initrd_modules"`
	MissingModules []string `json:"missing_modules,omitempty"`
	// Sizes of the parts on the medium.
	SquashfsSize int64 `json:"squashfs_size"`
	InitrdSize   int64 `json:"initrd_size"`
	// Steps are the build steps with their durations.
	Steps []Step `json:"steps"`
}

// Step is one timed build step.
type Step struct {
	Name     string        `json:"name"`
	Duration time.Duration `json:"duration"`
}

// Total is the sum of the steps' durations.
func (r *Result) Total() time.Duration {
	var t time.Duration
	for _, s := range r.Steps {
		t += s.Duration
	}
	return t
}

// liveArgs are kernel arguments every live system gets, after
// stx.live=LABEL and the console. The live root's /etc/machine-id is
// empty, so systemd treats every boot as the first; without
// systemd.firstboot=off systemd-firstboot would wait on the console for a
// locale, a time zone and a root password.
var liveArgs = []string{"systemd.firstboot=off"}

// Build makes the ISO described by opts.
func Build(ctx context.Context, opts Options) (*Result, error) {
	b, err := newBuild(opts)
	if err != nil {
		return nil, err
	}
	if opts.WorkDir != "" {
		if err := os.MkdirAll(opts.WorkDir, 0o755); err != nil {
			return nil, err
		}
	}
	if b.work, err = os.MkdirTemp(opts.WorkDir, "stx-iso-"+opts.Arch+"-"); err != nil {
		return nil, err
	}
	if opts.KeepWork {
		fmt.Fprintf(b.status, "iso %s: working directory %s (kept)\n", opts.Arch, b.work)
	} else {
		defer removeWork(b.work)
	}
	b.tree = filepath.Join(b.work, "medium")
	b.root = filepath.Join(b.work, "root")
	b.bootRoot = filepath.Join(b.work, "boot")

	localRepos, kernel, local, err := kernelAndRepos(opts, b.prof)
	if err != nil {
		return nil, err
	}
	b.res.KernelPackage, b.res.KernelLocal = kernel, local
	level := ""
	if l := b.m.EffectiveLevel(); l > 0 {
		level = fmt.Sprintf(" level %d", l)
	}
	steps := []struct {
		name string
		run  func() error
	}{
		{"live root (" + b.m.EffectiveVariant() + ", " + strings.Join(b.m.Packages, " ") + ", " + kernel + ")",
			func() error { return b.liveRoot(ctx, localRepos, kernel) }},
		{"boot packages (" + strings.Join(b.prof.Boot.Packages, " ") + ")", func() error { return b.bootPackages(ctx) }},
		{"kernel and initramfs", b.kernelAndInitramfs},
		{"squashfs (" + b.m.EffectiveCompression() + level + ")", func() error { return b.squashfs(ctx) }},
		{"grub (" + grubPlatforms(b.prof) + ")", func() error { return b.grub(ctx) }},
		{"xorriso", func() error { return b.master(ctx) }},
	}
	for _, s := range steps {
		t := time.Now()
		fmt.Fprintf(b.status, "iso %s: %s\n", opts.Arch, s.name)
		if err := s.run(); err != nil {
			return nil, fmt.Errorf("iso %s: %s: %w", opts.Arch, s.name, err)
		}
		b.res.Steps = append(b.res.Steps, Step{s.name, time.Since(t)})
	}
	b.res.ISO = opts.Output
	return b.res, nil
}

// build is one ISO build: its inputs and the working tree its steps
// fill, in order: the live root, the boot packages, kernel and
// initramfs, the squashfs, GRUB, the image.
type build struct {
	opts             Options
	m                *manifests.ISO
	p                *manifests.Project
	prof             *arch.Profile
	status           io.Writer
	tools            *toolRunner
	epoch            time.Time
	res              *Result
	work, tree, root string
	bootRoot         string
}

// newBuild checks opts and sets up what every step uses.
func newBuild(opts Options) (*build, error) {
	m, p := opts.Manifest, opts.Project
	if m == nil || p == nil {
		return nil, errors.New("iso: Options.Project and Options.Manifest are required")
	}
	prof, err := Profile(opts.Arch)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(m.EffectiveArchitectures(p), opts.Arch) {
		return nil, fmt.Errorf("%s does not build an ISO for %s (architectures: %v)", m.Display, opts.Arch, m.EffectiveArchitectures(p))
	}
	if opts.Output == "" {
		return nil, errors.New("iso: Options.Output is required")
	}
	if opts.Boot == nil {
		return nil, errors.New("iso: Options.Boot is required")
	}
	status := opts.Status
	if status == nil {
		status = io.Discard
	}
	return &build{
		opts: opts, m: m, p: p, prof: prof, status: status,
		tools: &toolRunner{epoch: opts.Epoch, log: opts.Log},
		epoch: time.Unix(opts.Epoch, 0),
		res:   &Result{Arch: opts.Arch, Label: m.Label, Epoch: opts.Epoch},
	}, nil
}

// liveRoot assembles the live system's root from the archive, the
// project's repositories and the live package, with the extra files.
func (b *build) liveRoot(ctx context.Context, localRepos []string, kernel string) error {
	opts, m, p, root := b.opts, b.m, b.p, b.root
	live, err := livePackageRepo(ctx, filepath.Join(b.work, "live-pkg"), opts.Arch, opts.Epoch, opts.RepoSigner)
	if err != nil {
		return err
	}
	spec := rootfs.AssembleSpec{
		Suite: p.Suite, Arch: opts.Arch, Variant: m.EffectiveVariant(),
		Packages:     append(append(slices.Clone(m.Packages), kernel), livePackageName),
		ProjectRepos: localRepos, LocalRepos: []string{live},
		Mirror: p.Mirror, Epoch: opts.Epoch, Cache: opts.RootCache,
	}
	if opts.RepoSigner != nil {
		spec.RepoKeyring = opts.RepoKeyring
	}
	if p.Mirror != "" {
		spec.Components = p.Components
	}
	if opts.RecordRoot != nil {
		spec.Record = func(root string) error { return opts.RecordRoot(opts.Arch, root) }
	}
	if err := rootfs.Assemble(ctx, spec, root, opts.Log); err != nil {
		return err
	}
	if err := copyExtraFiles(p.Dir, m.Files, manifests.ISOTargetRootfs, root); err != nil {
		return err
	}
	if err := rootfs.ClampTimes(root, b.epoch); err != nil {
		return err
	}
	if _, err := os.Lstat(filepath.Join(root, "sbin/init")); err != nil {
		return fmt.Errorf("the live root has no /sbin/init: add an init system to %s packages (systemd-sysv)", m.Display)
	}
	b.res.Packages, err = installedPackages(root)
	return err
}

// bootPackages extracts the boot loader and busybox packages.
func (b *build) bootPackages(ctx context.Context) (err error) {
	debs := filepath.Join(b.work, "debs")
	b.res.BootPackages, err = extractBootPackages(ctx, b.opts.Boot, b.prof, debs, b.bootRoot)
	if err != nil || b.opts.RecordBoot == nil {
		return err
	}
	loc, ok := b.opts.Boot.(Locator)
	if !ok {
		return fmt.Errorf("recording the boot packages: %T cannot say where its packages come from", b.opts.Boot)
	}
	pkgs, err := loc.Locate(ctx, bootWant(b.prof))
	if err != nil {
		return fmt.Errorf("recording the boot packages: %w", err)
	}
	if err := checkDownloaded(debs, pkgs); err != nil {
		return fmt.Errorf("recording the boot packages: %w", err)
	}
	return b.opts.RecordBoot(b.opts.Arch, pkgs)
}

// bootWant are the profile's boot packages as name:arch.
func bootWant(prof *arch.Profile) []string {
	var want []string
	for _, p := range prof.Boot.Packages {
		want = append(want, p+":"+prof.Arch)
	}
	return want
}

// checkDownloaded says whether the files in dir are pkgs, byte for byte:
// what is recorded is what the ISO was made from.
func checkDownloaded(dir string, pkgs []store.LockedPackage) error {
	for _, p := range pkgs {
		file := filepath.Join(dir, store.DebFileName(p.Name, p.Version, p.Arch))
		sum, size, err := sha256File(file)
		if err != nil {
			return err
		}
		if sum != p.SHA256 || size != p.Size {
			return fmt.Errorf("%s: sha256 %s, the archive's index says %s", file, sum, p.SHA256)
		}
	}
	return nil
}

// kernelAndInitramfs puts the live root's kernel and an initramfs made
// of busybox and the modules the profile names on the medium.
func (b *build) kernelAndInitramfs() error {
	opts, tree, res := b.opts, b.tree, b.res
	if err := os.MkdirAll(filepath.Join(tree, "live"), 0o755); err != nil {
		return err
	}
	version, vmlinuz, err := findKernel(b.root)
	if err != nil {
		return err
	}
	res.KernelVersion = version
	if err := copyFile(vmlinuz, filepath.Join(tree, kernelPath), 0o644); err != nil {
		return err
	}
	modules := modulesDir(b.root, version)
	if modules == "" {
		fmt.Fprintf(b.status, "iso %s: warning: the live root has no /lib/modules/%s: the initramfs loads no modules, so the kernel must have its drivers built in\n", opts.Arch, version)
	}
	f, err := os.Create(filepath.Join(tree, initrdPath))
	if err != nil {
		return err
	}
	ir, err := writeInitramfs(f, initramfsSpec{
		Busybox:    usrMerged(b.bootRoot, b.prof.Boot.Busybox),
		ModulesDir: modules,
		Modules:    b.prof.Kernel.InitrdModules,
	}, opts.Epoch)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	res.Modules, res.MissingModules = ir.Modules, ir.Missing
	if len(ir.Missing) > 0 {
		fmt.Fprintf(b.status, "iso %s: warning: kernel %s has neither as modules nor built in: %s (the live system may not find its medium without them)\n", opts.Arch, version, strings.Join(ir.Missing, " "))
	}
	res.InitrdSize = fileSize(filepath.Join(tree, initrdPath))
	return os.WriteFile(filepath.Join(tree, packagesPath), packageList(res.Packages), 0o644)
}

// squashfs makes the live root's image on the medium.
func (b *build) squashfs(ctx context.Context) error {
	out := filepath.Join(b.tree, squashfsPath)
	if err := b.tools.run(ctx, "mksquashfs", mksquashfsArgs(b.root, out, b.m.EffectiveCompression(), b.m.EffectiveLevel(), b.opts.Epoch)...); err != nil {
		return err
	}
	b.res.SquashfsSize = fileSize(out)
	return nil
}

// grub writes the boot loader's images and configuration.
func (b *build) grub(ctx context.Context) error {
	cfg := grubConfig(b.prof.Boot.GrubTerminal, b.m.EffectiveTimeout(), menuEntries(b.p, b.m, b.prof))
	return bootFiles(ctx, b.tools, b.prof, b.bootRoot, b.m.Label, filepath.Join(b.work, "grub"), b.tree, cfg, b.opts.Epoch)
}

// master adds the medium's extra files, clamps dates and writes the
// hybrid image with xorriso, renamed into place once complete.
func (b *build) master(ctx context.Context) error {
	opts, m, tree := b.opts, b.m, b.tree
	if err := copyExtraFiles(b.p.Dir, m.Files, manifests.ISOTargetMedium, tree); err != nil {
		return err
	}
	if err := rootfs.ClampTimes(tree, b.epoch); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(opts.Output), 0o755); err != nil {
		return err
	}
	tmp := opts.Output + ".partial"
	os.Remove(tmp)
	spec := masterSpec{Tree: tree, Output: tmp, Label: m.Label, Epoch: opts.Epoch, EFIImage: efiImgPath}
	if bios := b.prof.Boot.BIOS; bios != nil {
		spec.BIOSImage = biosImgPath
		spec.HybridMBR = filepath.Join(b.bootRoot, bios.HybridMBR)
	}
	if err := b.tools.run(ctx, "xorriso", xorrisoArgs(spec)...); err != nil {
		os.Remove(tmp)
		return err
	}
	sum, size, err := sha256File(tmp)
	if err != nil {
		return err
	}
	b.res.SHA256, b.res.Size = sum, size
	return os.Rename(tmp, opts.Output)
}

// removeWork removes the working directory, first detaching anything
// still mounted under it (an interrupted mmdebstrap leaves /proc, /sys and
// /dev mounts in the root), so the removal never walks into them.
func removeWork(dir string) {
	if mounts, err := mountinfo.Read(); err == nil {
		var under []string
		for _, m := range mounts {
			if strings.HasPrefix(m.Point, dir+"/") {
				under = append(under, m.Point)
			}
		}
		sort.Sort(sort.Reverse(sort.StringSlice(under)))
		for _, p := range under {
			syscall.Unmount(p, syscall.MNT_DETACH)
		}
	}
	os.RemoveAll(dir)
}

func grubPlatforms(p *arch.Profile) string {
	s := p.Boot.EFI.Platform
	if p.Boot.BIOS != nil {
		s = p.Boot.BIOS.Platform + ", " + s
	}
	return s
}

// menuEntries renders the manifest's menu (or the default entry) with
// the kernel arguments: stx.live=LABEL, the console, the live defaults,
// the manifest's cmdline and the entry's own.
func menuEntries(p *manifests.Project, m *manifests.ISO, prof *arch.Profile) []menuEntry {
	base := append([]string{"stx.live=" + m.Label}, prof.Kernel.ConsoleArgs...)
	base = append(base, liveArgs...)
	base = append(base, strings.Fields(m.Cmdline)...)
	items := m.Menu
	if len(items) == 0 {
		items = []manifests.ISOMenuEntry{{Title: fmt.Sprintf("%s live (%s)", p.Name, prof.Arch)}}
	}
	var out []menuEntry
	for _, it := range items {
		out = append(out, menuEntry{Title: it.Title, Args: append(slices.Clone(base), strings.Fields(it.Cmdline)...)})
	}
	return out
}

// kernelAndRepos picks the kernel package: the manifest's, else a
// linux-image-* package the project's repository has (a locally built
// kernel), else the archive's for the architecture.
func kernelAndRepos(opts Options, prof *arch.Profile) (repos []string, kernel string, local bool, err error) {
	var entries []repo.Entry
	if opts.LocalRepo != "" {
		if _, err := os.Stat(filepath.Join(opts.LocalRepo, "dists")); err == nil {
			r, err := repo.Open(opts.LocalRepo, opts.Arch)
			if err != nil {
				return nil, "", false, err
			}
			if entries, err = r.Packages(); err != nil {
				return nil, "", false, err
			}
			repos = append(repos, r.Dir())
		}
	}
	kernel = opts.Manifest.KernelPackage(opts.Arch)
	if kernel == "" {
		kernel = localKernel(entries, opts.Arch)
	}
	if kernel == "" {
		kernel = prof.Kernel.Package
	}
	for _, e := range entries {
		if e.Package == kernel {
			local = true
		}
	}
	return repos, kernel, local, nil
}

// localKernel is the hook for a project that builds its own kernel: the
// first linux-image-* binary (not a -dbg or -dbgsym one) in its
// repository for arch.
func localKernel(entries []repo.Entry, arch string) string {
	var names []string
	for _, e := range entries {
		n := e.Package
		if !e.Udeb && strings.HasPrefix(n, "linux-image-") && !strings.HasSuffix(n, "-dbg") && !strings.HasSuffix(n, "-dbgsym") && (e.Architecture == arch || e.Architecture == "all") {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	if len(names) == 0 {
		return ""
	}
	return names[0]
}

// findKernel finds the one kernel in the root's /boot.
func findKernel(root string) (version, path string, err error) {
	m, err := filepath.Glob(filepath.Join(root, "boot", "vmlinuz-*"))
	if err != nil {
		return "", "", err
	}
	switch len(m) {
	case 0:
		return "", "", errors.New("the live root has no /boot/vmlinuz-*: is the kernel package installed?")
	case 1:
	default:
		var names []string
		for _, f := range m {
			names = append(names, filepath.Base(f))
		}
		return "", "", fmt.Errorf("the live root has %d kernels (%s): install one", len(m), strings.Join(names, ", "))
	}
	return strings.TrimPrefix(filepath.Base(m[0]), "vmlinuz-"), m[0], nil
}

// modulesDir finds /lib/modules/<version> (or /usr/lib/... in a merged-/usr
// root where /lib is a symlink) with its modules.dep; "" when the kernel
// has no modules.
func modulesDir(root, version string) string {
	for _, d := range []string{"usr/lib/modules", "lib/modules"} {
		p := filepath.Join(root, d, version)
		if _, err := os.Stat(filepath.Join(p, "modules.dep")); err == nil {
			return p
		}
	}
	return ""
}

// extractBootPackages downloads the profile's boot packages for its
// architecture and unpacks them (without installing) into dir.
func extractBootPackages(ctx context.Context, d Downloader, prof *arch.Profile, debs, dir string) ([]Package, error) {
	if err := os.MkdirAll(debs, 0o755); err != nil {
		return nil, err
	}
	want := bootWant(prof)
	if err := d.Download(ctx, debs, want); err != nil {
		return nil, err
	}
	files, err := filepath.Glob(filepath.Join(debs, "*.deb"))
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	var pkgs []Package
	for _, f := range files {
		pkg, err := debInfo(ctx, f)
		if err != nil {
			return nil, err
		}
		pkgs = append(pkgs, pkg)
		if err := runQuiet(ctx, "dpkg-deb", "-x", f, dir); err != nil {
			return nil, err
		}
	}
	if len(pkgs) != len(want) {
		return nil, fmt.Errorf("downloaded %d packages for %s, want %d", len(pkgs), strings.Join(want, " "), len(want))
	}
	sortPackages(pkgs)
	return pkgs, nil
}

func debInfo(ctx context.Context, deb string) (Package, error) {
	out, err := outputQuiet(ctx, "dpkg-deb", "--showformat=${Package}\t${Version}\t${Architecture}", "--show", deb)
	if err != nil {
		return Package{}, err
	}
	f := strings.Split(strings.TrimSpace(string(out)), "\t")
	if len(f) != 3 {
		return Package{}, fmt.Errorf("dpkg-deb --show %s: unexpected output %q", deb, out)
	}
	return Package{Name: f[0], Version: f[1], Architecture: f[2]}, nil
}

// copyExtraFiles copies the manifest's files for target into dir.
// Directories are copied with their content; modes become 0644 or 0755
// (executables), owners root.
func copyExtraFiles(projectDir string, files []manifests.ISOExtraFile, target, dir string) error {
	for _, f := range files {
		if f.EffectiveTarget() != target {
			continue
		}
		src := filepath.Join(projectDir, f.Src)
		dst := filepath.Join(dir, filepath.FromSlash(strings.TrimPrefix(f.Dest, "/")))
		err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(src, p)
			out := filepath.Join(dst, rel)
			info, err := d.Info()
			if err != nil {
				return err
			}
			switch {
			case d.IsDir():
				return os.MkdirAll(out, 0o755)
			case info.Mode().IsRegular():
				mode := os.FileMode(0o644)
				if info.Mode()&0o111 != 0 {
					mode = 0o755
				}
				if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
					return err
				}
				return copyFile(p, out, mode)
			}
			return fmt.Errorf("%s: only files and directories can be copied", p)
		})
		if err != nil {
			return fmt.Errorf("files: %s -> %s: %w", f.Src, f.Dest, err)
		}
	}
	return nil
}

func copyFile(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	os.Remove(dst)
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Chmod(mode); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func fileSize(p string) int64 {
	fi, err := os.Stat(p)
	if err != nil {
		return 0
	}
	return fi.Size()
}

func sha256File(p string) (string, int64, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// usrMerged returns root/rel, or root/usr/rel when only that exists: the
// boot packages are extracted, not installed, so no /bin → /usr/bin
// symlink joins the two, and Debian moves files from /bin to /usr/bin
// (busybox-static ships bin/busybox in bookworm, usr/bin/busybox in
// trixie).
func usrMerged(root, rel string) string {
	p := filepath.Join(root, rel)
	if _, err := os.Lstat(p); err != nil {
		if u := filepath.Join(root, "usr", rel); !strings.HasPrefix(rel, "usr/") {
			if _, err := os.Lstat(u); err == nil {
				return u
			}
		}
	}
	return p
}
