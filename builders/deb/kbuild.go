package deb

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/stx-build/stx-build/ramdisk"
	"github.com/stx-build/stx-build/rootfs"
	"github.com/stx-build/stx-build/runner"
)

// Kernel is a Linux kernel built from an upstream tarball with the
// kernel's own Debian packaging (make bindeb-pkg) instead of a debian/ tree.
type Kernel struct {
	// Tarball is the verified source tarball on the host; its top-level
	// directory is stripped.
	Tarball string
	// Release is the kernel release the configured tree must report
	// (make kernelrelease): upstream version plus LocalVersion.
	Release string
	// LocalVersion is passed as LOCALVERSION to make.
	LocalVersion string
	// Base is a config make target (tinyconfig, defconfig, ...) or, when
	// BaseFile is set, ignored.
	Base string
	// BaseFile is a host path of a full .config to start from.
	BaseFile string
	// Fragments are host paths of config fragments, merged in order.
	Fragments []string
	// SigningKey is a host path of a PEM file with an RSA private key and
	// its certificate: modules are signed with it (CONFIG_MODULE_SIG_ALL).
	// Empty: module signing is off.
	SigningKey string
	// BuildDepends is a Build-Depends value (manifests.KernelBuildDepends):
	// installed through the build-dep layer like any package's.
	BuildDepends string
}

// kernelArch maps a Debian architecture to kbuild's ARCH and, for a
// foreign architecture, CROSS_COMPILE.
func kernelArch(arch, hostArch string) (karch, cross string, err error) {
	switch arch {
	case "amd64":
		// x86_64, not x86: with ARCH=x86 allnoconfig and tinyconfig turn
		// 64BIT off and build an i386 kernel.
		karch = "x86_64"
	case "arm64":
		karch = "arm64"
	default:
		return "", "", fmt.Errorf("no kernel architecture for %s", arch)
	}
	if arch != hostArch {
		switch arch {
		case "amd64":
			cross = "x86_64-linux-gnu-"
		case "arm64":
			cross = "aarch64-linux-gnu-"
		}
	}
	return karch, cross, nil
}

// signingKeyPath is where the build sees a configured module signing key.
const signingKeyPath = "/stx/signing/key.pem"

// kernelScript is the configure-and-package step, run as the build user
// with no network in /build/<srcDir>. SOURCE_DATE_EPOCH is the mtime of
// the tree's top Makefile (from the tarball), so it changes only with the
// source; every KBUILD_BUILD_* value is fixed, and a date wrapper makes
// the changelog mkdebian writes with `date -R` carry that time too.
func kernelScript(k *Kernel, req Request, hostArch string, jobs int) (string, error) {
	karch, cross, err := kernelArch(req.Arch, hostArch)
	if err != nil {
		return "", err
	}
	mk := "make ARCH=" + karch
	if cross != "" {
		mk += " CROSS_COMPILE=" + cross
	}
	mk += " LOCALVERSION=" + shellQuote(k.LocalVersion)
	var s []string
	add := func(f string, a ...any) { s = append(s, fmt.Sprintf(f, a...)) }
	add(`export SOURCE_DATE_EPOCH=$(stat -c %%Y Makefile)`)
	add(`export KBUILD_BUILD_TIMESTAMP="$(/bin/date -u -d @$SOURCE_DATE_EPOCH)"`)
	add(`export KBUILD_BUILD_USER=stx-build KBUILD_BUILD_HOST=stx-build KBUILD_BUILD_VERSION=1`)
	add(`export KDEB_CHANGELOG_DIST=stx KDEB_SOURCENAME=%s KDEB_PKGVERSION=%s KBUILD_DEBARCH=%s`, shellQuote(req.Package.Name), shellQuote(req.Package.Version), shellQuote(req.Arch))
	add(`export DEBEMAIL='stx-build <stx-build@localhost>' ARCH=%s`, karch)
	if cross != "" {
		add(`export CROSS_COMPILE=%s`, cross)
	}
	add(`mkdir -p /tmp/stx-bin && printf '#!/bin/sh\nexec /bin/date -d "@$SOURCE_DATE_EPOCH" "$@"\n' > /tmp/stx-bin/date && chmod 755 /tmp/stx-bin/date`)
	add(`echo "stx-build: kernel $(%s -s kernelversion) for %s, SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH"`, mk, req.Arch)
	if k.BaseFile != "" {
		add(`cp /stx/kconfig/base.config .config && %s olddefconfig`, mk)
	} else {
		add(`%s %s`, mk, shellQuote(k.Base))
	}
	if len(k.Fragments) > 0 {
		frags := make([]string, len(k.Fragments))
		for i := range k.Fragments {
			frags[i] = fmt.Sprintf("/stx/kconfig/%03d.config", i)
		}
		add(`scripts/kconfig/merge_config.sh -m .config %s`, strings.Join(frags, " "))
	}
	// Without a configured key module signing is off: kbuild would make a
	// key at build time, and no two builds would be the same. With one,
	// every module is signed with it (RSA: the same signature every time)
	// and its certificate is built in. The release string comes only from
	// LOCALVERSION.
	if k.SigningKey != "" {
		add(`scripts/config --enable MODULE_SIG --enable MODULE_SIG_ALL --disable MODULE_SIG_FORCE --enable MODULE_SIG_SHA256 --enable CRYPTO_RSA --set-str MODULE_SIG_KEY %s`, signingKeyPath)
	} else {
		add(`scripts/config --disable MODULE_SIG --disable MODULE_SIG_ALL --set-str MODULE_SIG_KEY ''`)
	}
	add(`scripts/config --set-str SYSTEM_TRUSTED_KEYS '' --set-str SYSTEM_REVOCATION_KEYS '' --set-str LOCALVERSION '' --disable LOCALVERSION_AUTO --disable IKHEADERS`)
	add(`%s olddefconfig`, mk)
	if k.SigningKey != "" {
		add(`grep -qx 'CONFIG_MODULE_SIG_ALL=y' .config || { echo "stx-build: a module signing key is configured, but the kernel config has no module signing (CONFIG_MODULE_SIG_ALL) after olddefconfig: it needs CONFIG_MODULES=y" >&2; exit 1; }`)
		add(`echo "stx-build: modules are signed with $(sed -n 's/^CONFIG_MODULE_SIG_HASH=//p' .config) and the configured key"`)
	}
	add(`release=$(%s -s kernelrelease)`, mk)
	add(`if [ "$release" != %s ]; then echo "stx-build: kernel release is $release, the manifest says %s (version and localversion)" >&2; exit 1; fi`, shellQuote(k.Release), k.Release)
	// builddeb lists DEBIAN/md5sums in readdir order, which differs
	// between tmpfs and disk: sort it.
	add(`sed -i 's/| xargs -r0 md5sum/| LC_ALL=C sort -z | xargs -r0 md5sum/' scripts/package/builddeb`)
	add(`PATH=/tmp/stx-bin:$PATH %s -j%d DPKG_FLAGS=-d bindeb-pkg`, mk, jobs)
	return "set -e\n" + strings.Join(s, "\n") + "\n", nil
}

// prepareKernel unpacks the kernel tarball and applies the patches in
// the sandbox (the tarball's own mtimes, owned by the build user), copies
// the config files into slot/kconfig, and writes the build-deps as a
// source stanza in /build/.stx-kernel, so apt-get build-dep resolves them
// into a layer like any other package's.
func (b *Builder) prepareKernel(ctx context.Context, slot *ramdisk.Slot, req Request, log io.Writer) (*source, error) {
	p := req.Package
	k := p.Kernel
	dir := "linux-" + upstreamVersion(p.Version)
	if err := writeKernelInputs(slot.Dir, p); err != nil {
		return nil, err
	}
	script := []string{
		"mkdir /build/" + dir,
		"tar -xf /stx/tarball/" + shellQuote(filepath.Base(k.Tarball)) + " -C /build/" + dir + " --strip-components=1 --no-same-owner --no-same-permissions",
	}
	inputs := []runner.StepMount{{Source: filepath.Dir(k.Tarball), Target: "/stx/tarball"}}
	patch, pdir, err := patchScript(slot, p.Patches, dir)
	if err != nil {
		return nil, err
	}
	if pdir != "" {
		script = append(script, patch...)
		inputs = append(inputs, runner.StepMount{Source: pdir, Target: "/stx/patches"})
	}
	fmt.Fprintf(log, "stx-build: unpacking %s\n", filepath.Base(k.Tarball))
	if err := b.runUnpack(ctx, slot, script, inputs, log); err != nil {
		return nil, err
	}
	return &source{dir: dir, control: kernelControl, step: "bindeb-pkg"}, nil
}

// kernelControl is the directory in /build holding the build-deps stanza,
// removed once they are resolved (it is no part of the tree).
const kernelControl = ".stx-kernel"

// writeKernelInputs writes the build-deps stanza into slotDir/build and
// the config files into slotDir/kconfig.
func writeKernelInputs(slotDir string, p Package) error {
	k := p.Kernel
	kconf := filepath.Join(slotDir, "kconfig")
	ctlDir := filepath.Join(slotDir, "build", kernelControl, "debian")
	for _, d := range []string{kconf, ctlDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	control := fmt.Sprintf("Source: %s\nBuild-Depends: %s\n\nPackage: %s-stx-builddeps\nArchitecture: any\nDescription: build-dependencies of %s\n", p.Name, k.BuildDepends, p.Name, p.Name)
	changelog := fmt.Sprintf("%s (%s) stx; urgency=medium\n\n  * kernel\n\n -- stx-build <stx-build@localhost>  Thu, 01 Jan 1970 00:00:00 +0000\n", p.Name, p.Version)
	if err := os.WriteFile(filepath.Join(ctlDir, "control"), []byte(control), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(ctlDir, "changelog"), []byte(changelog), 0o644); err != nil {
		return err
	}
	if k.BaseFile != "" {
		if err := copyFile(k.BaseFile, filepath.Join(kconf, "base.config"), 0o644); err != nil {
			return err
		}
	}
	for i, f := range k.Fragments {
		if err := copyFile(f, filepath.Join(kconf, fmt.Sprintf("%03d.config", i)), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// kernelStep is the configure-and-make-bindeb-pkg step: no network, as
// the build user, with the config files mounted read-only and the
// signing key (if any) as a secret: a BuildKit worker gets it for the
// step only, never in its cache.
func (b *Builder) kernelStep(slotDir string, req Request, src *source, size int64) (runner.Step, error) {
	k := req.Package.Kernel
	sh, err := kernelScript(k, req, b.HostArch, b.jobs(req.Package))
	if err != nil {
		return runner.Step{}, err
	}
	env := userEnv(0)
	s := runner.NewStep("build", "/bin/sh", "-ec", sh).WithEnv(env...).WithDir("/build/"+src.dir).
		WithUser(rootfs.BuildUID, rootfs.BuildGID).WithLimits(req.Package.Limits).
		WithTree(filepath.Join(slotDir, "build"), "/build", size).
		WithInput(filepath.Join(slotDir, "kconfig"), "/stx/kconfig")
	if k.SigningKey != "" {
		// A copy only the build user can read, outside the build tree (so
		// no package picks it up), gone with the slot.
		dir, err := privateCopy(k.SigningKey, filepath.Join(slotDir, "signing"), filepath.Base(signingKeyPath))
		if err != nil {
			return runner.Step{}, fmt.Errorf("module signing key: %w", err)
		}
		s = s.WithSecret(filepath.Join(dir, filepath.Base(signingKeyPath)), signingKeyPath)
	}
	return s, nil
}

// privateCopy copies file into a new directory dir as name, both owned by
// the build user and closed to everyone else.
func privateCopy(file, dir, name string) (string, error) {
	if err := os.Mkdir(dir, 0o700); err != nil {
		return "", err
	}
	if err := copyFile(file, filepath.Join(dir, name), 0o400); err != nil {
		return "", err
	}
	for _, p := range []string{dir, filepath.Join(dir, name)} {
		if err := os.Chown(p, rootfs.BuildUID, rootfs.BuildGID); err != nil {
			return "", err
		}
	}
	return dir, nil
}
