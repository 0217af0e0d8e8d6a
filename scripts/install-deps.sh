#!/usr/bin/env bash
# Installs the system packages stx-build and its tests use, from the host's
# configured apt sources. Idempotent: runs apt-get only when something is
# missing (set STX_FORCE_APT=1 to always update and install).
set -euo pipefail

# One line per package; the table in hostdeps/table.go says what each is
# for, and TestInstallDepsMatchesTable fails when the two differ.
PKGS=(
	apt dpkg dpkg-dev ca-certificates  # archive indexes, source packages, reading .debs
	e2fsprogs                          # mkfs.ext4: capped disk build trees (loop-mounted images)
	mmdebstrap arch-test               # base roots; arch-test for arm64 roots on amd64
	qemu-user-static binfmt-support    # arm64 image and ISO roots (maintainer scripts)
	xorriso squashfs-tools grub-common dosfstools mtools xz-utils  # ISO mastering
	qemu-system-x86 qemu-system-arm ovmf qemu-efi-aarch64          # stx-build boot
	gpg                                # signing SHA256SUMS (tests use a throwaway key)
	git make gcc                       # building stx-build and buildkitd
	busybox-static                     # the sandbox tests' tiny root
	podman runc skopeo                 # image tests (runc: crun fails on hybrid cgroups); buildkitd's worker
	docker-registry                    # registry tests on 127.0.0.1
	kmod                               # modinfo: the kernel e2e test reads module signatures
	jq                                 # make e2e-real: the JSON events and its report
	sbuild uidmap                      # make bench: hello built by sbuild --chroot-mode=unshare beside stx-build
)

missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [[ ${#missing[@]} -eq 0 && -z "${STX_FORCE_APT:-}" ]]; then
	exit 0
fi
SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
echo "install-deps: installing ${missing[*]:-${PKGS[*]}}" >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${PKGS[@]}" >/dev/null

if ! command -v go >/dev/null && [[ -x /usr/local/go/bin/go ]]; then
	echo "install-deps: add /usr/local/go/bin to PATH" >&2
fi
