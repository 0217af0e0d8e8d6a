package iso

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/stx-build/stx-build/repo"
	"github.com/stx-build/stx-build/rootfs"
)

// livePackage is installed into every live root in place of an initramfs
// generator: Debian's kernels depend on "initramfs-tools |
// linux-initramfs-tool", and stx-build makes the live initramfs itself
// when it masters the ISO. Without it, initramfs-tools would be installed
// and build an unused initramfs of tens of MiB, which under qemu-user (an
// arm64 root on an amd64 host) takes minutes.
const (
	livePackageName    = "stx-live-initramfs"
	livePackageVersion = "1.0"
)

const livePackageControl = `Package: ` + livePackageName + `
Version: ` + livePackageVersion + `
Architecture: all
Multi-Arch: foreign
Maintainer: stx-build <stx-build@stx-build.invalid>
Section: admin
Priority: optional
Provides: linux-initramfs-tool
Description: initramfs of an stx-build live system (made by stx-build)
 The live system boots with an initramfs that stx-build writes when it
 masters the ISO (live/initrd.img on the medium). This package satisfies
 the kernel's dependency on an initramfs generator in its place.
`

const livePackageReadme = `This live system was made by stx-build. Its initramfs (live/initrd.img on
the medium) finds the medium by its volume label, mounts
live/filesystem.squashfs read-only under a tmpfs overlay and starts
/sbin/init. No initramfs generator runs inside the live system.
`

// livePackageRepo builds the package reproducibly (fixed mtimes, root
// owner, SOURCE_DATE_EPOCH for dpkg-deb) and publishes it into an apt
// repository under dir for arch, returning the repository's directory.
func livePackageRepo(ctx context.Context, dir, arch string, epoch int64, signer *repo.Signer) (string, error) {
	tree := filepath.Join(dir, "pkg")
	doc := filepath.Join(tree, "usr/share/doc", livePackageName)
	if err := os.MkdirAll(filepath.Join(tree, "DEBIAN"), 0o755); err != nil {
		return "", err
	}
	if err := os.MkdirAll(doc, 0o755); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(tree, "DEBIAN/control"), []byte(livePackageControl), 0o644); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(doc, "README"), []byte(livePackageReadme), 0o644); err != nil {
		return "", err
	}
	if err := rootfs.ClampTimes(tree, time.Unix(epoch, 0)); err != nil {
		return "", err
	}
	deb := filepath.Join(dir, livePackageName+"_"+livePackageVersion+"_all.deb")
	cmd := exec.CommandContext(ctx, "dpkg-deb", "--root-owner-group", "-Zxz", "--build", tree, deb)
	cmd.Env = append(os.Environ(), "SOURCE_DATE_EPOCH="+strconv.FormatInt(epoch, 10))
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("dpkg-deb --build %s: %v\n%s", livePackageName, err, out)
	}
	r, err := repo.Open(filepath.Join(dir, "repo"), arch)
	if err != nil {
		return "", err
	}
	if err := r.Publish(ctx, []string{deb}, repo.Options{Date: time.Unix(epoch, 0).UTC(), Label: "stx-build live", Signer: signer}); err != nil {
		return "", err
	}
	return r.Dir(), nil
}
