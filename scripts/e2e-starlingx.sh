#!/bin/sh
# End-to-end check of the StarlingX path (docs/starlingx.md), not run in CI:
# real StarlingX packages (fault, update, utilities) are built for amd64 on
# trixie from two checkouts of the tree, at different paths and with
# separate caches, and the .debs of both builds must be bit-identical.
#
#   STX_TREE=/path/to/root   a MY_REPO_ROOT_DIR holding git checkouts of
#                            cgcs-root/stx/{fault,update,utilities}; default:
#                            cloned from $STX_GIT_BASE (https://opendev.org/starlingx)
#   STX_MIRROR=URL           the Debian mirror (default: the host's apt source)
#   STX_OUT=DIR              work directory (default: out/e2e-starlingx)
#   STX_BIN=PATH             the stx-build binary (default: bin/stx-build)
set -eu

out=${STX_OUT:-out/e2e-starlingx}
bin=${STX_BIN:-bin/stx-build}
mkdir -p "$out"
out=$(cd "$out" && pwd)

mirror=${STX_MIRROR:-}
if [ -z "$mirror" ]; then
	# The host's first Debian source (deb822 or one-line format).
	mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
	[ -n "$mirror" ] || mirror=$(awk '/^deb / {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
fi
[ -n "$mirror" ] || { echo "e2e-starlingx: set STX_MIRROR to a Debian mirror serving trixie" >&2; exit 2; }

tree=${STX_TREE:-}
if [ -z "$tree" ]; then
	tree=$out/src
	for r in fault update utilities; do
		[ -d "$tree/cgcs-root/stx/$r/.git" ] || git clone -q "${STX_GIT_BASE:-https://opendev.org/starlingx}/$r" "$tree/cgcs-root/stx/$r"
	done
fi

# Packages this path cannot prepare here, or that need what the three
# repos do not carry: build-info is a dl_hook and software needs it;
# apt-ostree needs stx/git; accel-config (dl_path, GitHub) and pcm
# (archive) need sources this machine may not reach; fm-rest-api
# build-depends on tsconfig (the config repo); platform-util and
# namespace-utils install read-only files and need root (fakeroot) for
# their binary targets. The rest of utilities is left out to keep the run
# short.
exclude="apt-ostree, build-info, software, accel-config, pcm, fm-rest-api, platform-util, namespace-utils, ceph-manager, python-cephclient, openbao-monitor, collector, engtools, lpmp, pci-irq-affinity-agent, stx-extensions, update-motd"

build() { # build N: checkout N at its own path, own cache, own output
	n=$1
	root=$out/checkout$n
	rm -rf "$root"
	mkdir -p "$root/cgcs-root/stx"
	for r in fault update utilities; do
		git clone -q "$tree/cgcs-root/stx/$r" "$root/cgcs-root/stx/$r"
	done
	proj=$out/project$n
	mkdir -p "$proj"
	cat >"$proj/stx.yaml" <<YAML
name: starlingx
suite: trixie
architectures: [amd64]
mirror: $mirror
starlingx:
  root: $root
  build-type: std
  exclude: [$exclude]
YAML
	# Exit 4 would mean unresolved packages: build refuses those anyway.
	"$bin" graph -C "$proj" --format json >"$out/graph$n.json"
	"$bin" build -C "$proj" --cache-dir "$out/cache$n" -o "$out/out$n"
	(cd "$out/out$n" && find . -name '*.deb' -exec sha256sum {} + | sort -k2) >"$out/debs$n.sha256"
}

build 1
build 2

pkgs=$(awk '{print $2}' "$out/debs1.sha256" | xargs -n1 basename | cut -d_ -f1 | sort -u | wc -l)
# Build-Depends edges of the graph (layer-order edges left out).
edges=$(awk '/^  "edges": \[/ {f=1; next} f && /^  \]/ {f=0} f && /"via":/ && !/\(layer\)/ {n++} END {print n+0}' "$out/graph1.json")
echo "e2e-starlingx: $pkgs binary packages, $edges build-dependency edges between tree packages"
[ "$pkgs" -ge 10 ] || { echo "e2e-starlingx: fewer than 10 binary packages" >&2; exit 1; }
[ "$edges" -ge 3 ] || { echo "e2e-starlingx: fewer than 3 edges" >&2; exit 1; }
cmp "$out/debs1.sha256" "$out/debs2.sha256"
echo "e2e-starlingx: the two checkouts' .debs are bit-identical"
