package rootfs

import (
	"context"
	_ "embed"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// Native unpacking for foreign roots. In mmdebstrap's root mode the
// essential packages are installed by `chroot ROOT dpkg --install
// --force-depends --status-fd=N DEBS...`: for an arm64 root on an amd64
// host that dpkg is itself an arm64 binary under qemu-user, so
// decompressing and writing ~70 packages runs emulated (38 s of the
// essential phase's 55 s on this project's 2-core machines, where the
// host's dpkg unpacks the same in 6 s; docs/performance.md).
//
// mmdebstrap finds chroot on PATH. nativeShim puts a chroot first on
// mmdebstrap's PATH that splits exactly that call in two:
//
//  1. the host's dpkg unpacks DEBS with --root=ROOT (and
//     --force-architecture: it sees arm64 as foreign). Only dpkg's own
//     work moves to the host: dpkg --root chroots into ROOT to run each
//     preinst, so maintainer scripts still run as arm64 code under
//     qemu-user. It reads the root's /etc/dpkg (bound over the host's in
//     a private mount namespace), not the host's configuration (a host's
//     path-exclude would drop files from the root), and logs to the
//     root's dpkg.log;
//  2. ROOT's own dpkg, chrooted, configures the packages named in DEBS's
//     order, the order --install would configure them in. Configuring
//     stays with the root's dpkg on purpose: which dependencies it sees
//     as satisfied decides the order, and the host's dpkg, whose native
//     architecture differs, would order Architecture: all packages
//     differently.
//
// Every other chroot call passes through to the real chroot, with
// mmdebstrap's own PATH. The root is the same as the emulated --install's,
// file for file (dpkg's log lists the same configure steps in the same
// order); TestGoldenDigest's arm64 image, TestExampleISO's arm64 ISO and
// every round of scripts/bench-roots.sh (which also builds with
// NativeDpkgEnv=0) check the digests. Like the host's apt, which resolves
// and downloads for every root, and the host's dpkg-deb, which extracts
// the essential packages before this call, the host's dpkg is a tool of
// the host, not part of a root's key.

// NativeDpkgEnv set to "0" keeps the essential phase of foreign roots in
// the emulated dpkg (the way before; scripts/bench-roots.sh measures
// both and checks that they give one digest).
const NativeDpkgEnv = "STX_NATIVE_DPKG"

//go:embed nativedpkg.sh
var nativeShimScript string

// nativeShim returns a directory holding the chroot shim for an arch
// root, to put first on mmdebstrap's PATH, and a function removing it;
// dir is "" when the shim does not apply: arch is the host's own (its
// dpkg already runs natively), the host lacks dpkg (foreignArch asks it),
// dpkg-deb, unshare, mount or chroot, or NativeDpkgEnv is "0".
func nativeShim(arch string) (dir string, cleanup func(), err error) {
	cleanup = func() {}
	if !foreignArch(arch) || os.Getenv(NativeDpkgEnv) == "0" {
		return "", cleanup, nil
	}
	chroot, err := exec.LookPath("chroot")
	if err != nil {
		return "", cleanup, nil
	}
	for _, p := range []string{"dpkg-deb", "unshare", "mount"} {
		if _, err := exec.LookPath(p); err != nil {
			return "", cleanup, nil
		}
	}
	dir, err = os.MkdirTemp("", "stx-native-dpkg-")
	if err != nil {
		return "", cleanup, err
	}
	cleanup = func() { os.RemoveAll(dir) }
	script := strings.NewReplacer("@CHROOT@", shellQuote(chroot), "@PATH@", shellQuote(os.Getenv("PATH"))).Replace(nativeShimScript)
	if err := os.WriteFile(filepath.Join(dir, "chroot"), []byte(script), 0o755); err != nil {
		cleanup()
		return "", func() {}, err
	}
	return dir, cleanup, nil
}

// foreignArch says whether arch's binaries run through qemu-user here.
func foreignArch(arch string) bool {
	host := hostDebArch()
	return host != "" && arch != "" && arch != host
}

// withShim returns env with dir first on its PATH (env unchanged when dir
// is "").
func withShim(env []string, dir string) []string {
	if dir == "" {
		return env
	}
	out := make([]string, 0, len(env)+1)
	path := "PATH=" + dir
	for _, e := range env {
		if v, ok := strings.CutPrefix(e, "PATH="); ok {
			path = "PATH=" + dir + ":" + v
			continue
		}
		out = append(out, e)
	}
	return append(out, path)
}

// mmdebstrapCommand is mmdebstrap with args for an arch root, with
// SOURCE_DATE_EPOCH set and, for a foreign arch, the native dpkg shim on
// its PATH; cleanup removes the shim once the command has run.
func mmdebstrapCommand(ctx context.Context, arch string, epoch int64, args []string) (cmd *exec.Cmd, cleanup func(), err error) {
	shim, cleanup, err := nativeShim(arch)
	if err != nil {
		return nil, nil, err
	}
	cmd = exec.CommandContext(ctx, "mmdebstrap", args...)
	cmd.Env = append(withShim(os.Environ(), shim), "SOURCE_DATE_EPOCH="+strconv.FormatInt(epoch, 10))
	return cmd, cleanup, nil
}
