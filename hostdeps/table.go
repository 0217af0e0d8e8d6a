package hostdeps

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/stx-build/stx-build/arch"
	"github.com/stx-build/stx-build/ramdisk"
)

var (
	sandbox  = []string{CmdBuild, CmdImage, CmdISO}
	packages = []string{CmdBuild}
	iso      = []string{CmdISO}
	dev      = []string{CmdDev}
	// foreignRoots run a foreign architecture's programs under qemu-user.
	foreignRoots = []string{CmdBuild, CmdImage, CmdISO}
)

// table is every requirement but the per-architecture boot ones (see
// bootRequirements). Order: what doctor prints.
var table = []*Requirement{
	// The machine.
	{Name: "root", Why: "the build sandbox mounts overlayfs and tmpfs in its own namespaces; mmdebstrap runs in root mode", Commands: sandbox,
		Fix: "run stx-build as root (sudo)", check: checkRoot},
	{Name: "namespaces", Why: "mount, PID, UTS, IPC and network namespaces isolate every build", Commands: sandbox,
		Fix: "a Linux kernel with namespaces (CONFIG_NAMESPACES), /proc mounted", check: checkNamespaces},
	{Name: "overlayfs", Why: "build trees stack the package's layers over a read-only base root", Commands: sandbox,
		Fix: "modprobe overlay", check: checkOverlay},
	{Name: "tmpfs", Why: "build trees in RAM while they fit the budget", Commands: packages, Optional: true,
		Fix: "a kernel with tmpfs (CONFIG_TMPFS); builds go to disk meanwhile", check: checkFS("tmpfs")},
	{Name: "tmpfs budget", Why: "RAM for build trees (half of MemAvailable unless --tmpfs-budget says otherwise)", Commands: packages, Optional: true,
		Fix: "free memory, or pass --tmpfs-budget; builds go to disk meanwhile", check: checkBudget},
	{Name: "free disk", Why: "base roots, build-dependency layers, build trees that do not fit in RAM, the artifact cache", Commands: sandbox,
		Fix: "free space in the cache directory (--cache-dir), or `stx-build cache prune`", check: checkDisk},
	{Name: "cgroup limits", Why: "each sandbox's pids and memory limits (a fork bomb or a runaway build stops there, not at the host's limits)", Commands: packages, Optional: true,
		Fix: "mount the cgroup v2 hierarchy (or the v1 pids and memory ones) and run stx-build where it may create cgroups (as root, or in a delegated systemd scope)", check: checkCgroup},
	{Name: "mkfs.ext4", Package: "e2fsprogs", Why: "disk build trees are sparse ext4 images of a capped size (loop-mounted), so a build cannot fill the disk", Commands: packages, Optional: true, check: program},
	{Name: "/dev/loop-control", Why: "loop devices for the capped disk build trees", Commands: packages, Optional: true,
		Fix: "modprobe loop (in a container: give it the loop devices); disk build trees are uncapped meanwhile", check: file},

	// Programs of the package builds.
	{Name: "mmdebstrap", Package: "mmdebstrap", Why: "makes the base roots of builds, images and ISOs", Commands: sandbox, check: program},
	{Name: "arch-test", Package: "arch-test", Why: "mmdebstrap needs it for a root with a foreign architecture (arm64 on amd64)", Commands: sandbox, Foreign: true, check: program},
	{Name: "apt-get", Package: "apt", Why: "archive indexes and source packages through the host's mirror", Commands: sandbox, check: program},
	{Name: "dpkg-source", Package: "dpkg-dev", Why: "unpacks source packages fetched by name=version or .dsc", Commands: packages, check: program},
	{Name: "dpkg-deb", Package: "dpkg", Why: "reads built packages into the local apt repositories; packs the ISO's live packages", Commands: []string{CmdBuild, CmdISO}, check: program},
	{Name: "/etc/ssl/certs/ca-certificates.crt", Package: "ca-certificates", Why: "HTTPS mirrors and source URLs", Commands: sandbox, Optional: true, check: file},

	// Foreign-architecture roots (image and ISO roots run maintainer
	// scripts; emulated package builds run everything in one).
	{Name: "qemu-aarch64-static", Package: "qemu-user-static", Why: "runs arm64 programs on amd64: maintainer scripts in image and ISO roots, emulated package builds (build.cross: false, or build-deps that do not cross-install)", Commands: foreignRoots, Archs: []string{"arm64"}, Foreign: true, check: program},
	{Name: "update-binfmts", Package: "binfmt-support", Why: "registers qemu-user for arm64 binaries (binfmt_misc, F flag)", Commands: foreignRoots, Archs: []string{"arm64"}, Foreign: true, check: program},
	{Name: "binfmt_misc", Why: "the kernel's hook that runs arm64 binaries through qemu-user", Commands: foreignRoots, Archs: []string{"arm64"}, Foreign: true,
		Fix: "modprobe binfmt_misc", check: checkBinfmt},

	// ISO mastering.
	{Name: "xorriso", Package: "xorriso", Why: "masters the hybrid ISO (El Torito BIOS and EFI, GPT, MBR)", Commands: iso, check: program},
	{Name: "mksquashfs", Package: "squashfs-tools", Why: "packs the live root", Commands: iso, check: program},
	{Name: "grub-mkimage", Package: "grub-common", Why: "builds the GRUB core and EFI images (modules come from the archive)", Commands: iso, check: program},
	{Name: "mkfs.fat", Package: "dosfstools", Why: "makes the EFI system partition image", Commands: iso, check: program},
	{Name: "mcopy", Package: "mtools", Why: "fills the EFI system partition image", Commands: iso, check: program},
	{Name: "xz", Package: "xz-utils", Why: "reads compressed kernel modules for the initramfs", Commands: iso, check: program},
	{Name: "gpg", Package: "gpg", Why: "signs SHA256SUMS when iso.yaml names a key (the tests sign with a throwaway key)", Commands: []string{CmdISO, CmdDev}, Optional: true, check: program},

	// What make test, make demo, make bench and make e2e-real use beyond the
	// commands.
	{Name: "git", Package: "git", Why: "building stx-build (version stamp), checkouts in tests", Commands: dev, check: program},
	{Name: "make", Package: "make", Why: "the Makefile's targets", Commands: dev, check: program},
	{Name: "gcc", Package: "gcc", Why: "cgo while building stx-build and buildkitd", Commands: dev, check: program},
	{Name: "busybox", Package: "busybox-static", Why: "the sandbox tests build a tiny root from the static busybox", Commands: dev, check: program},
	{Name: "podman", Package: "podman", Why: "the image tests run the built image", Commands: dev, check: program},
	{Name: "runc", Package: "runc", Why: "podman's runtime in the image tests (crun fails on hybrid cgroups) and buildkitd's worker", Commands: dev, check: program},
	{Name: "skopeo", Package: "skopeo", Why: "the image tests inspect the pushed image", Commands: dev, check: program},
	{Name: "docker-registry", Package: "docker-registry", Why: "the cache, image and worker tests start a registry on 127.0.0.1", Commands: dev, check: program},
	{Name: "modinfo", Package: "kmod", Why: "the kernel end-to-end test reads module signatures", Commands: dev, check: program},
	{Name: "jq", Package: "jq", Why: "make e2e-real reads the builds' JSON events and writes its report", Commands: dev, check: program},
	{Name: "sbuild", Package: "sbuild", Why: "make bench times a package built by sbuild --chroot-mode=unshare beside stx-build (scripts/bench-deb.sh)", Commands: dev, check: program},
	{Name: "newuidmap", Package: "uidmap", Why: "sbuild's unshare mode maps its chroot's users (make bench)", Commands: dev, check: program},
}

// bootRequirements are the qemu emulator and the firmware an architecture
// boots with, from its profile (arch/<arch>/profile.yaml).
func bootRequirements(p *arch.Profile) []*Requirement {
	cmds := []string{CmdBoot}
	reqs := []*Requirement{{
		Name: p.Qemu.Command, Package: p.Qemu.Package, Why: "boots " + p.Arch + " ISOs", Commands: cmds,
		Archs: []string{p.Arch}, check: program,
	}}
	for _, f := range p.Qemu.Firmware {
		if f.Code == "" {
			continue
		}
		reqs = append(reqs, &Requirement{
			Name: f.Code, Package: f.Package, Why: strings.ToUpper(f.Name) + " firmware for " + p.Arch + " boots", Commands: cmds,
			Archs: []string{p.Arch}, check: file,
		})
	}
	if p.Arch == "amd64" {
		reqs = append(reqs, &Requirement{
			Name: "kvm", Why: "hardware virtualization for amd64 boots (without it qemu emulates: minutes, not seconds)", Commands: cmds,
			Archs: []string{"amd64"}, Optional: true, Fix: "a host with vmx/svm and access to /dev/kvm", check: checkKVM,
		})
	}
	return reqs
}

// The checks. Each returns a status and what it found.

func program(e Env, r *Requirement) (Status, string) {
	p, err := e.LookPath(r.Name)
	if err != nil {
		return Missing, "not found in PATH"
	}
	return OK, p
}

func file(e Env, r *Requirement) (Status, string) {
	if !e.Exists(r.Name) {
		return Missing, "no such file"
	}
	return OK, ""
}

func checkRoot(e Env, _ *Requirement) (Status, string) {
	if u := e.Euid(); u != 0 {
		return Missing, fmt.Sprintf("running as uid %d", u)
	}
	return OK, "uid 0"
}

func checkNamespaces(e Env, _ *Requirement) (Status, string) {
	var missing []string
	for _, ns := range []string{"mnt", "pid", "uts", "ipc", "net"} {
		if !e.Exists("/proc/self/ns/" + ns) {
			missing = append(missing, ns)
		}
	}
	if len(missing) > 0 {
		return Missing, "no " + strings.Join(missing, ", ") + " namespace"
	}
	return OK, "mnt pid uts ipc net"
}

// hasFS says whether the kernel knows a file system, or has its module.
func hasFS(e Env, fs, module string) (bool, string) {
	if data, err := e.ReadFile("/proc/filesystems"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if f := strings.Fields(line); len(f) > 0 && f[len(f)-1] == fs {
				return true, "in /proc/filesystems"
			}
		}
	}
	if module == "" {
		return false, "not in /proc/filesystems"
	}
	rel, err := e.ReadFile("/proc/sys/kernel/osrelease")
	if err == nil {
		dir := filepath.Join("/lib/modules", strings.TrimSpace(string(rel)), "kernel", module)
		if e.Exists(dir) {
			return true, "module " + dir + " (loaded on first use)"
		}
	}
	return false, "not in /proc/filesystems, no module"
}

func checkOverlay(e Env, _ *Requirement) (Status, string) {
	if ok, d := hasFS(e, "overlay", "fs/overlayfs"); !ok {
		return Missing, d
	}
	return OK, "overlay"
}

func checkFS(fs string) func(Env, *Requirement) (Status, string) {
	return func(e Env, _ *Requirement) (Status, string) {
		if ok, d := hasFS(e, fs, ""); !ok {
			return Missing, d + ": builds go to disk"
		}
		return OK, fs
	}
}

func checkBinfmt(e Env, _ *Requirement) (Status, string) {
	const entry = "/proc/sys/fs/binfmt_misc/qemu-aarch64"
	if data, err := e.ReadFile(entry); err == nil {
		if bytes.HasPrefix(data, []byte("enabled")) {
			return OK, "qemu-aarch64 registered"
		}
		return OK, "qemu-aarch64 known but disabled; enabled on first use"
	}
	if ok, _ := hasFS(e, "binfmt_misc", "fs/binfmt_misc.ko"); ok || e.Exists("/proc/sys/fs/binfmt_misc") {
		return OK, "qemu-aarch64 registered on first use"
	}
	return Missing, "the kernel has no binfmt_misc"
}

func checkCgroup(e Env, _ *Requirement) (Status, string) {
	cg := e.Cgroups()
	var have []string
	for _, c := range []string{"pids", "memory"} {
		if p, ok := cg.Parents[c]; ok {
			have = append(have, c+" in "+p)
		}
	}
	detail := fmt.Sprintf("cgroup v%d: %s", cg.Version, strings.Join(have, ", "))
	if len(cg.Missing) > 0 {
		if len(have) == 0 {
			detail = "no limits enforced"
		}
		return Missing, detail + "; not enforced: " + strings.Join(cg.Missing, "; ")
	}
	return OK, detail
}

// Disk thresholds: below minDisk nothing builds; below lowDisk a real
// package set will not fit (a base root is ~0.5 GiB, a build-dependency
// layer up to a few GiB, a big build tree tens of GiB).
const (
	minDisk = 2 << 30
	lowDisk = 20 << 30
)

func checkDisk(e Env, _ *Requirement) (Status, string) {
	ce := e.(checkEnv)
	dir := ce.opts.CacheDir
	if dir == "" {
		dir = "/"
	}
	free, err := ce.FreeBytes(dir)
	if err != nil {
		return Missing, fmt.Sprintf("%s: %v", dir, err)
	}
	d := fmt.Sprintf("%s free in %s", ramdisk.FormatSize(free), dir)
	switch {
	case free < minDisk:
		return Missing, d + " (needs at least " + ramdisk.FormatSize(minDisk) + ")"
	case free < lowDisk:
		return Degraded, d + " (real package sets want " + ramdisk.FormatSize(lowDisk) + " or more)"
	}
	return OK, d
}

// minBudget: below it nearly every build goes to disk.
const minBudget = 1 << 30

func checkBudget(e Env, _ *Requirement) (Status, string) {
	b, err := e.TmpfsBudget()
	if err != nil {
		return Missing, err.Error()
	}
	d := ramdisk.FormatSize(b)
	if b < minBudget {
		return Missing, d + ": most builds go to disk"
	}
	return OK, d
}

func checkKVM(e Env, _ *Requirement) (Status, string) {
	if err := e.KVM(); err != nil {
		return Missing, err.Error()
	}
	return OK, "/dev/kvm usable"
}
