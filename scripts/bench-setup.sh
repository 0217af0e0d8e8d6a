#!/usr/bin/env bash
# Where a package build's setup goes when its build-dependency layer is
# cached (issue 22, item 1; docs/performance.md): the example's libstx
# and stx-hello (a local build-dependency) rebuilt with
# `stx-build build --no-cache`, the phases of each build read from
# the JSON events (unpack, resolve, environment, build, collect). Per
# round, two variants, interleaved so machine noise hits both alike:
#
#   uncached  STX_NO_RESOLVE_CACHE=1 STX_NO_SOURCE_CACHE=1: the resolve
#             step runs (the sandbox, apt-get update of the local
#             repositories, apt-get build-dep -s and --print-uris), and a
#             .dsc is unpacked and patched (dpkg-source in the sandbox),
#             as before the resolution and source tree caches
#   cached    the resolution is taken from CACHE/resolutions, a .dsc's
#             tree copied from CACHE/source-trees
#
# Two untimed warm-up runs first make the layers and the cached
# resolutions (the first publishes the packages into the output tree's
# repositories, which changes what the second resolves against; from then
# on the repositories hold the same packages every run). Prints medians of ROUNDS rounds per package, variant and
# phase.
#
#   scripts/bench-setup.sh [ROUNDS]      (default 5; needs root, and the
#                                         network for the first run)
#
# STX_BENCH_DIR (default /var/tmp/stx-bench-setup) keeps the project, the
# cache and the output tree between invocations. STX_BENCH_REAL adds
# packages taken from the Debian archive, as space-separated
# NAME=VERSION (e.g. "zlib=1:1.2.13.dfsg-1 bzip2=1.0.8-5
# xz-utils=5.4.1-1+deb12u1" for bookworm: versions its deb-src indexes
# serve now; each round then builds each twice, which on a loaded
# two-core machine takes minutes). Raw numbers:
# out/bench-setup/raw.tsv; the table: out/bench-setup/table.md.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=$PATH:/usr/local/go/bin
ROUNDS=${1:-5}
DIR=${STX_BENCH_DIR:-/var/tmp/stx-bench-setup}
RES=$PWD/out/bench-setup
mkdir -p "$DIR" "$RES"
DIR=$(cd "$DIR" && pwd)
CACHE=$DIR/cache
BIN=$DIR/stx-build
go build -trimpath -o "$BIN" ./cmd/stx-build

PROJ=$DIR/project
PKGS=(libstx stx-hello)
rm -rf "$PROJ"
mkdir -p "$PROJ/packages"
cp examples/stx.yaml "$PROJ/"
for p in "${PKGS[@]}"; do cp -r "examples/packages/$p" "$PROJ/packages/"; done
for real in ${STX_BENCH_REAL:-}; do
	name=${real%%=*}
	mkdir -p "$PROJ/packages/$name"
	printf 'name: %s\nsource:\n  debian: %s\n' "$name" "$real" >"$PROJ/packages/$name/package.yaml"
	PKGS+=("$name")
done

raw=$RES/raw.tsv
printf 'round\tvariant\tpackage\tphase\tseconds\tcached\n' >"$raw"

# run ROUND VARIANT: one build of every package, one at a time, into the
# same output tree (its repositories then hold the same packages each
# time: the builds are reproducible).
run() {
	local round=$1 variant=$2 env=()
	[[ $variant == uncached ]] && env=(STX_NO_RESOLVE_CACHE=1 STX_NO_SOURCE_CACHE=1)
	env "${env[@]}" "$BIN" --cache-dir "$CACHE" build -C "$PROJ" --arch amd64 --no-cache -j 1 \
		-o "$DIR/out" --output json "${PKGS[@]}" >"$DIR/events.jsonl"
	python3 - "$round" "$variant" "$DIR/events.jsonl" >>"$raw" <<'PY'
import json, sys
round_, variant, path = sys.argv[1:]
for line in open(path):
    e = json.loads(line)
    if e.get("event") != "built":
        continue
    setup = 0.0
    for p in e.get("phases", []):
        print(f"{round_}\t{variant}\t{e['package']}\t{p['name']}\t{p['seconds']:.4f}\t{int(p.get('cached', False))}")
        if p["name"] in ("unpack", "resolve", "environment"):
            setup += p["seconds"]
    print(f"{round_}\t{variant}\t{e['package']}\tsetup\t{setup:.4f}\t0")
PY
}

echo "warm-up: layers and resolutions" >&2
run 0 cached
run 0 cached
for round in $(seq 1 "$ROUNDS"); do
	run "$round" uncached
	run "$round" cached
	echo "round $round done (load $(cut -d' ' -f1-3 /proc/loadavg))" >&2
done

python3 - "$raw" "$ROUNDS" >"$RES/table.md" <<'PY'
import csv, statistics, sys
rows = [r for r in csv.DictReader(open(sys.argv[1]), delimiter="\t") if r["round"] != "0"]
phases = ["unpack", "resolve", "environment", "setup", "build", "collect"]
def med(pkg, variant, phase):
    v = [float(r["seconds"]) for r in rows if r["package"] == pkg and r["variant"] == variant and r["phase"] == phase]
    return statistics.median(v) if v else None
print(f"Medians of {sys.argv[2]} rounds, seconds; setup = unpack + resolve + environment.\n")
print("| package | variant | " + " | ".join(phases) + " |")
print("| --- | --- |" + " --: |" * len(phases))
for pkg in sorted({r["package"] for r in rows}):
    for variant in ("uncached", "cached"):
        cells = [med(pkg, variant, p) for p in phases]
        print(f"| {pkg} | {variant} | " + " | ".join("–" if c is None else f"{c:.3f}" for c in cells) + " |")
    a, b = med(pkg, "uncached", "setup"), med(pkg, "cached", "setup")
    if a and b:
        print(f"| {pkg} | uncached/cached setup | {a / b:.1f}× | | | | | |")
PY
cat "$RES/table.md"
