#!/bin/sh
# End-to-end check of the StarlingX path (docs/starlingx.md), not run in CI:
# real StarlingX packages (fault, update, utilities) are built for amd64 on
# trixie from two checkouts of the tree, at different paths and with
# separate caches, at the same time, and the .debs of both builds must be
# bit-identical; at least 10 source packages must build, with at least 3
# Build-Depends edges between them. OUT/table<N>.tsv lists each package's
# result and seconds.
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

# Left out (docs/starlingx.md says why in full): apt-ostree needs stx/git;
# accel-config (dl_path, GitHub) and pcm (archive) need sources this
# machine may not reach; fm-rest-api build-depends on tsconfig (the config
# repo); platform-util and namespace-utils modify read-only files they
# installed, which trixie's dpkg (Rules-Requires-Root: no by default) runs
# without fakeroot; build-info (a dl_hook) and software, which needs it,
# are measured on their own. The rest of utilities is left out to keep
# the run short.
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
	"$bin" graph -C "$proj" --format json >"$out/graph$n.json" || [ $? -eq 4 ]
	start=$(date +%s)
	# --keep-going: a package that fails is a row of the table, not the end
	# of the run; the checks below decide.
	nice "$bin" build -C "$proj" --cache-dir "$out/cache$n" -o "$out/out$n" --keep-going --output json >"$out/events$n.jsonl" || true
	echo "e2e-starlingx: checkout $n: $(( $(date +%s) - start )) s"
	(cd "$out/out$n" && find . -path '*/debs/*' -name '*.deb' -exec sha256sum {} + | sort -k2) >"$out/debs$n.sha256"
	# package, result, seconds of each build of the run
	jq -r 'select(.event=="built" or .event=="failed" or .event=="skipped") | [.package, .event, (.seconds // 0 | floor)] | @tsv' \
		"$out/events$n.jsonl" | sort >"$out/table$n.tsv"
}

# Both checkouts at once: on a loaded machine one after the other takes
# twice as long, and nothing is shared between them.
build 1 >"$out/build1.log" 2>&1 &
b1=$!
build 2 >"$out/build2.log" 2>&1 &
b2=$!
wait $b1 || { cat "$out/build1.log" >&2; exit 1; }
wait $b2 || { cat "$out/build2.log" >&2; exit 1; }
cat "$out/build1.log" "$out/build2.log"

cat "$out/table1.tsv"
built=$(awk '$2=="built"' "$out/table1.tsv" | wc -l)
# Build-Depends edges of the graph between packages built in the run
# (layer-order edges left out).
awk '$2=="built" {print $1}' "$out/table1.tsv" >"$out/built1.txt"
edges=$(jq -r --rawfile b "$out/built1.txt" '($b | split("\n")) as $ok | (if type == "array" then .[0] else . end).edges
	| map(select(.via != "(layer)" and (.from as $f | $ok | index($f)) and (.to as $t | $ok | index($t)))) | length' "$out/graph1.json")
echo "e2e-starlingx: $built source packages built, $edges build-dependency edges between them"
[ "$built" -ge 10 ] || { echo "e2e-starlingx: fewer than 10 packages built" >&2; exit 1; }
[ "$edges" -ge 3 ] || { echo "e2e-starlingx: fewer than 3 edges" >&2; exit 1; }
cmp "$out/debs1.sha256" "$out/debs2.sha256"
echo "e2e-starlingx: the $(wc -l <"$out/debs1.sha256") .debs of the two checkouts are bit-identical"
