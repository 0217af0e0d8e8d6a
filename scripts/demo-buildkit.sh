#!/usr/bin/env bash
# The demo's last step: the example's packages built again, this time on a
# BuildKit worker (a buildkitd started here, as root, with the runc
# worker, stopped by PID at the end), and compared with the local build
# the demo made before: every .deb must be bit-identical.
# Usage: scripts/demo-buildkit.sh BIN PROJECT OUT
set -euo pipefail
bin=$(realpath "$1") project=$2 out=$(realpath "$3")
here=$(cd "$(dirname "$0")/.." && pwd)
root=$(mktemp -d /tmp/stx-demo-bk-XXXXXX)
sock="unix://$root/buildkitd.sock"
"$here/bin/buildkitd" --root "$root/state" --addr "$sock" --oci-worker=true --containerd-worker=false \
	>"$out/buildkitd.log" 2>&1 &
pid=$!
cleanup() {
	kill "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	grep -o " $root[^ ]*" /proc/self/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
	rm -rf "$root"
}
trap cleanup EXIT
for _ in $(seq 100); do
	"$here/bin/buildctl" --addr "$sock" debug workers >/dev/null 2>&1 && break
	sleep 0.2
done
echo "demo: building the example on buildkitd $sock (pid $pid), no local builds"
rm -rf "$out/buildkit"
"$bin" build -C "$project" -o "$out/buildkit" --buildkit "$sock=2" --no-local --no-cache
fail=0
for arch in amd64 arm64; do
	(cd "$out/$arch/debs" && find . -name '*.deb' | sort) >"$root/local-$arch"
	while read -r deb; do
		if ! cmp -s "$out/$arch/debs/$deb" "$out/buildkit/$arch/debs/$deb"; then
			echo "demo: $arch/$deb differs between the local and the BuildKit build" >&2
			fail=1
		fi
	done <"$root/local-$arch"
done
[[ $fail -eq 0 ]] || exit 1
echo "demo: $(cat "$root"/local-* | wc -l) .deb files built on BuildKit are bit-identical to the local build"
