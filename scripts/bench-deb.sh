#!/usr/bin/env bash
# Side-by-side timings of one package build, for the deb builder's report:
# stx-build with the build-dep layer new vs cached, build tree on tmpfs vs
# disk, and sbuild --chroot-mode=unshare on the same machine, interleaved
# round by round so machine noise hits every variant alike. Prints medians.
#
#   scripts/bench-deb.sh [ROUNDS]        (default 3; needs root and network)
#
# Writes raw numbers to out/bench-deb/raw.tsv and the table to
# out/bench-deb/table.md.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
OUT=$PWD/out/bench-deb
CACHE=${STX_BENCH_CACHE:-/var/tmp/stx-bench-cache}
PKGS=(hello libstx)
mkdir -p "$OUT"
make -s build
BIN=$PWD/bin/stx-build

# sbuild needs a chroot tarball and subuid/subgid ranges for root; both are
# set up here once (the subuid lines are host state, added only if missing).
SBUILD_TAR=$CACHE/sbuild/bookworm-amd64.tar
command -v sbuild >/dev/null || { echo "bench-deb: sbuild is missing: make deps installs it" >&2; exit 1; }
grep -q '^root:' /etc/subuid || echo 'root:1000000:65536' >>/etc/subuid
grep -q '^root:' /etc/subgid || echo 'root:1000000:65536' >>/etc/subgid
if [[ ! -f $SBUILD_TAR ]]; then
	mkdir -p "$(dirname "$SBUILD_TAR")"
	mmdebstrap --variant=buildd --skip=output/mknod bookworm "$SBUILD_TAR" >/dev/null 2>&1
fi

# The project: the example's hello and libstx.
PROJ=$OUT/project
rm -rf "$PROJ"
mkdir -p "$PROJ/packages"
cp examples/stx.yaml "$PROJ/"
for p in "${PKGS[@]}"; do cp -r "examples/packages/$p" "$PROJ/packages/"; done

# Source packages for sbuild: hello's .dsc from our fetch cache, libstx's
# made with dpkg-source.
"$BIN" --cache-dir "$CACHE" graph -C "$PROJ" --arch amd64 >/dev/null
HELLO_DSC=$(ls "$CACHE"/sources/hello_*/hello_*.dsc)
SRCDIR=$OUT/sbuild-src
rm -rf "$SRCDIR" && mkdir -p "$SRCDIR"
cp -r "$PROJ/packages/libstx/src" "$SRCDIR/libstx-1.0"
(cd "$SRCDIR" && dpkg-source -b libstx-1.0 >/dev/null)
declare -A DSC=([hello]=$HELLO_DSC [libstx]=$SRCDIR/libstx_1.0.dsc)

raw=$OUT/raw.tsv
printf 'round\tpackage\tvariant\tsetup_s\tbuild_s\ttotal_s\twall_s\n' >"$raw"

# stx_build VARIANT PKG [flags]: one build; the layer cache is dropped for "new".
stx_build() {
	local variant=$1 pkg=$2; shift 2
	[[ $variant == new-* ]] && rm -rf "$CACHE/layers"
	rm -rf "$OUT/stx-out"
	local line t0 t1
	# --no-cache: a build, not a restore from the artifact cache.
	t0=$(date +%s.%N)
	line=$("$BIN" --cache-dir "$CACHE" build -C "$PROJ" --arch amd64 -o "$OUT/stx-out" --no-cache "$@" "$pkg" | grep ": ok in ")
	t1=$(date +%s.%N)
	# "... ok in 1m1.1s (setup 6.1s, build 55s; tmpfs, new deps layer) ..."
	local total setup build
	total=$(sed -E 's/.* ok in ([0-9.hms]+) .*/\1/' <<<"$line" | secs)
	setup=$(sed -E 's/.*\(setup ([0-9.hms]+),.*/\1/' <<<"$line" | secs)
	build=$(sed -E 's/.*, build ([0-9.hms]+);.*/\1/' <<<"$line" | secs)
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$pkg" "$variant" "$setup" "$build" "$total" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')" >>"$raw"
}

# secs converts a Go duration ("850ms", "21.1s", "1m2.5s") to seconds.
secs() {
	python3 -c 'import re,sys
d=sys.stdin.read().strip(); t=0.0
for n,u in re.findall(r"([0-9.]+)(ms|h|m|s)", d): t+=float(n)*{"h":3600,"m":60,"s":1,"ms":0.001}[u]
print(round(t,2))'
}

sbuild_one() {
	local pkg=$1 variant=$2 tmp=$3
	local d; d=$(mktemp -d "$tmp/sbuild-XXXX")
	chmod 755 "$d" # sbuild maps root to a subuid that must enter it
	cat >"$d/sbuild.conf" <<EOF
\$unshare_tmpdir_template = '$d/unshare.XXXXXXXXXX';
1;
EOF
	local t0 t1
	t0=$(date +%s.%N)
	(cd "$d" && SBUILD_CONFIG=$d/sbuild.conf sbuild --chroot-mode=unshare --chroot="$SBUILD_TAR" \
		--dist=bookworm --arch=amd64 --no-run-lintian --no-run-autopkgtest --no-apt-upgrade \
		--no-apt-distupgrade "${DSC[$pkg]}" >"$d/log" 2>&1) || { tail -20 "$d/log"; exit 1; }
	t1=$(date +%s.%N)
	local wall; wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
	printf '%s\t%s\t%s\t\t\t%s\t%s\n' "$round" "$pkg" "$variant" "$wall" "$wall" >>"$raw"
	rm -rf "$d"
}

TMPFS=$OUT/tmpfs
mkdir -p "$TMPFS"
mountpoint -q "$TMPFS" || mount -t tmpfs -o size=8G tmpfs "$TMPFS"
trap 'umount "$TMPFS" 2>/dev/null || true' EXIT

for round in $(seq 1 "$ROUNDS"); do
	for pkg in "${PKGS[@]}"; do
		stx_build new-tmpfs "$pkg"
		stx_build cached-tmpfs "$pkg"
		stx_build new-disk "$pkg" --no-tmpfs
		stx_build cached-disk "$pkg" --no-tmpfs
		sbuild_one "$pkg" sbuild-tmpfs "$TMPFS"
		sbuild_one "$pkg" sbuild-disk "$OUT"
	done
	echo "round $round done" >&2
done

# Medians per package and variant.
python3 - "$raw" >"$OUT/table.md" <<'EOF'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
def med(vals):
    vals = [float(v) for v in vals if v]
    return f"{statistics.median(vals):.1f}" if vals else "–"
order = ["new-tmpfs", "cached-tmpfs", "new-disk", "cached-disk", "sbuild-tmpfs", "sbuild-disk"]
print("| package | variant | env setup (s) | dpkg-buildpackage (s) | whole build (s) | command wall (s) | rounds |")
print("| --- | --- | --- | --- | --- | --- | --- |")
for pkg in sorted({r["package"] for r in rows}):
    for v in order:
        rs = [r for r in rows if r["package"] == pkg and r["variant"] == v]
        if rs:
            print(f"| {pkg} | {v} | {med(r['setup_s'] for r in rs)} | {med(r['build_s'] for r in rs)} | {med(r['total_s'] for r in rs)} | {med(r['wall_s'] for r in rs)} | {len(rs)} |")
# The ratios the issue asks for: stx-build's command (cached layer) against
# sbuild's, per round (side by side), then their median.
print()
for pkg in sorted({r["package"] for r in rows}):
    for where in ["tmpfs", "disk"]:
        ratios = []
        for rnd in sorted({r["round"] for r in rows}):
            a = [r for r in rows if r["package"] == pkg and r["round"] == rnd and r["variant"] == "cached-" + where]
            b = [r for r in rows if r["package"] == pkg and r["round"] == rnd and r["variant"] == "sbuild-" + where]
            if a and b and a[0]["wall_s"] and b[0]["wall_s"]:
                ratios.append(float(a[0]["wall_s"]) / float(b[0]["wall_s"]))
        if ratios:
            print(f"{pkg} {where}: stx-build (cached layer) / sbuild unshare, command wall: median {statistics.median(ratios):.2f}x of {len(ratios)} rounds ({', '.join(f'{x:.2f}' for x in ratios)})")
EOF
cat "$OUT/table.md"
