#!/usr/bin/env bash
# The whole `stx-build build` command at distribution scale
# (docs/performance.md): a generated project of 300 small local packages
# (~400 internal edges; scripts/benchbuild), its artifact cache filled once
# with a build of each (no 15-minute first build: benchbuild stores a small
# real .deb under every key the build computes), then per round
#
#   noop   `stx-build build` with nothing changed (everything restored)
#   leaf   one leaf package's source changed: that package built, the
#          other 299 restored; its own build time is read from the output
#
# Prints medians of ROUNDS rounds, wall time of the whole binary.
#
#   scripts/bench-build.sh [ROUNDS]      (default 3; needs root, and the
#                                         network once for the base root)
#
# STX_BENCH_DIR (default /var/tmp/stx-bench-build) keeps the project, the
# cache (STX_BENCH_CACHE, default $STX_BENCH_DIR/cache: the base root and
# the filled artifact store are reused by later invocations) and the
# output tree. STX_BENCH_PACKAGES sets the project's size. STX_BENCH_BASELINE
# names another stx-build binary to time in the same rounds (interleaved),
# for a before/after table. Raw numbers: out/bench-build/raw.tsv; the
# table: out/bench-build/table.md.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=$PATH:/usr/local/go/bin
ROUNDS=${1:-3}
DIR=${STX_BENCH_DIR:-/var/tmp/stx-bench-build}
CACHE=${STX_BENCH_CACHE:-$DIR/cache}
N=${STX_BENCH_PACKAGES:-300}
RES=$PWD/out/bench-build
mkdir -p "$DIR" "$RES"
DIR=$(cd "$DIR" && pwd)
mkdir -p "$CACHE"
CACHE=$(cd "$CACHE" && pwd)
make -s build
declare -A BINS=([current]=$PWD/bin/stx-build)
if [[ -n ${STX_BENCH_BASELINE:-} ]]; then
	BINS[baseline]=$(realpath "$STX_BENCH_BASELINE")
fi

PROJ=$DIR/project
go run ./scripts/benchbuild gen -dir "$PROJ" -n "$N"
LEAF=$(printf 'gen%03d' $((N - 1))) # nothing build-depends on the last one
go run ./scripts/benchbuild fill -dir "$PROJ" -cache "$CACHE" 2>&1 | grep -v '^I: ' || true

raw=$RES/raw.tsv
printf 'round\tbinary\tcase\twall_s\tbuild_s\n' >"$raw"

# run BIN OUT: one `stx-build build`, wall time in $wall, the leaf's build
# time (its "ok in" line) in $built ("" when it was restored).
run() {
	local bin=$1 out=$2 log t0 t1
	log=$(mktemp)
	t0=$(date +%s.%N)
	"$bin" --cache-dir "$CACHE" build -C "$PROJ" -o "$out" -j 2 >"$log" 2>&1 || { tail -20 "$log"; exit 1; }
	t1=$(date +%s.%N)
	wall=$(echo "$t1 - $t0" | bc)
	built=$({ grep -E " $LEAF [^ ]+: ok in " "$log" || true; } | sed -E 's/.* ok in ([0-9.hms]+) .*/\1/' | secs)
	rm -f "$log"
}

# secs converts a Go duration ("850ms", "21.1s", "1m2.5s") to seconds.
secs() {
	python3 -c 'import re,sys
d=sys.stdin.read().strip(); t=0.0
for n,u in re.findall(r"([0-9.]+)(ms|h|m|s)", d): t+=float(n)*{"h":3600,"m":60,"s":1,"ms":0.001}[u]
print(round(t,3) if d else "")'
}

# Each binary has its own output tree, filled by a first run.
for b in "${!BINS[@]}"; do
	rm -rf "$DIR/out-$b"
	run "${BINS[$b]}" "$DIR/out-$b"
	printf '0\t%s\tfirst\t%s\t\n' "$b" "$wall" >>"$raw"
done
for round in $(seq 1 "$ROUNDS"); do
	for b in $(printf '%s\n' "${!BINS[@]}" | sort); do
		run "${BINS[$b]}" "$DIR/out-$b"
		printf '%s\t%s\tnoop\t%s\t\n' "$round" "$b" "$wall" >>"$raw"
		echo "round $round $b $(date +%s%N)" >>"$PROJ/packages/$LEAF/src/src/data.txt"
		run "${BINS[$b]}" "$DIR/out-$b"
		printf '%s\t%s\tleaf\t%s\t%s\n' "$round" "$b" "$wall" "$built" >>"$raw"
	done
	echo "round $round done" >&2
done

python3 - "$raw" "$N" >"$RES/table.md" <<'EOF'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
def med(vals):
    vals = [float(v) for v in vals if v]
    return statistics.median(vals) if vals else None
def fmt(v):
    return "–" if v is None else f"{v:.2f}"
print(f"| binary | case ({sys.argv[2]} packages) | wall (s) | the package's build (s) | wall − build (s) | rounds |")
print("| --- | --- | --- | --- | --- | --- |")
for b in sorted({r["binary"] for r in rows}):
    for case in ["first", "noop", "leaf"]:
        rs = [r for r in rows if r["binary"] == b and r["case"] == case]
        if not rs:
            continue
        wall = med(r["wall_s"] for r in rs)
        build = med(r["build_s"] for r in rs)
        over = med(float(r["wall_s"]) - float(r["build_s"]) for r in rs if r["build_s"])
        print(f"| {b} | {case} | {fmt(wall)} | {fmt(build)} | {fmt(over)} | {len(rs)} |")
EOF
cat "$RES/table.md"
