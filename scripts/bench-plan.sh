#!/usr/bin/env bash
# How close `stx-build plan` comes to the build it predicts (issue 22,
# item 4; docs/performance.md): the example project, built once untimed
# (which fills the artifact cache and the history), then per round:
#
#   incremental  stx-hello's source changed (a new constant, so a new
#                binary): `plan -o OUT`, then
#                `build`; stx-hello and what needs it (stx-docs,
#                stx-tools) are built for both architectures, the rest
#                restored from the artifact cache
#   cold         `plan --no-cache`, then `build --no-cache`: every
#                package built, with the history of the earlier builds
#
# For each, the plan's makespan against the build command's wall time
# (error = predicted / actual - 1), and the same for the run's own
# plan against its scheduler's time (run.json: predicted, elapsed).
#
#   scripts/bench-plan.sh [ROUNDS]     (default 1; needs root, and the
#                                       network for the first build)
#
# STX_BENCH_DIR (default /var/tmp/stx-bench-plan) keeps the project, the
# cache and the output tree between invocations, STX_BENCH_CACHE (default
# $STX_BENCH_DIR/cache) the cache; STX_BENCH_JOBS (default 2) is -j for
# plan and build alike. Raw numbers: out/bench-plan/raw.tsv;
# the table: out/bench-plan/table.md.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=$PATH:/usr/local/go/bin
ROUNDS=${1:-1}
DIR=${STX_BENCH_DIR:-/var/tmp/stx-bench-plan}
JOBS=${STX_BENCH_JOBS:-2}
RES=$PWD/out/bench-plan
mkdir -p "$DIR" "$RES"
DIR=$(cd "$DIR" && pwd)
CACHE=${STX_BENCH_CACHE:-$DIR/cache}
OUT=$DIR/out
BIN=$DIR/stx-build
go build -trimpath -o "$BIN" ./cmd/stx-build
commit=$(git rev-parse --short HEAD)

PROJ=$DIR/project
if [[ ! -d $PROJ ]]; then
	mkdir -p "$PROJ"
	cp -r examples/stx.yaml examples/packages "$PROJ/"
fi
stx() { "$BIN" --cache-dir "$CACHE" "$@"; }

raw=$RES/raw.tsv
printf 'round\tcase\tpredicted\tactual\tbuilt\trestored\trun_predicted\trun_elapsed\tload\n' >"$raw"

# measure ROUND CASE [FLAGS]: plan, then build with the same flags; one
# line of raw numbers.
measure() {
	local round=$1 case=$2
	shift 2
	stx plan -C "$PROJ" -o "$OUT" -j "$JOBS" --format json "$@" >"$DIR/plan.json"
	local t0 t1
	t0=$(date +%s.%N)
	stx build -C "$PROJ" -j "$JOBS" -o "$OUT" --output json "$@" >"$DIR/events.jsonl"
	t1=$(date +%s.%N)
	python3 - "$round" "$case" "$t0" "$t1" "$DIR/plan.json" "$DIR/events.jsonl" "$OUT/report/run.json" >>"$raw" <<'PY'
import json, sys
round_, case, t0, t1, plan, events, run = sys.argv[1:]
p = json.load(open(plan))
built = restored = 0
for line in open(events):
    e = json.loads(line)
    if e.get("event") == "built" and e.get("slot"):
        if e.get("cached"):
            restored += 1
        else:
            built += 1
r = json.load(open(run))
load = open("/proc/loadavg").read().split()[0]
print(f"{round_}\t{case}\t{p['makespan']:.2f}\t{float(t1) - float(t0):.2f}\t{built}\t{restored}\t{r['predicted']:.2f}\t{r['elapsed']:.2f}\t{load}")
PY
	tail -n 1 "$raw" >&2
}

echo "warm-up: the example built once (artifact cache, history, layers)" >&2
stx build -C "$PROJ" -j "$JOBS" -o "$OUT" --output json >"$DIR/events.jsonl"
for round in $(seq 1 "$ROUNDS"); do
	# A new constant each round: stx-hello's build key is new and so is
	# its binary, so the layers of what build-depends on it are made
	# anew, as after a real change (a comment would leave the .deb, and
	# with it those layers, as they were).
	n=$(date +%s%N)
	echo "const char stx_bench_plan_$n[] = \"$n\";" >>"$PROJ/packages/stx-hello/src/stx-hello.c"
	measure "$round" incremental
	measure "$round" cold --no-cache
done

python3 - "$raw" "$commit" >"$RES/table.md" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
def fmt(s):
    s = float(s)
    return f"{int(s // 60)}m{s % 60:04.1f}s" if s >= 60 else f"{s:.1f}s"
def err(p, a):
    return f"{100 * (float(p) / float(a) - 1):+.1f}%"
print(f"commit {sys.argv[2]}; error = predicted / actual - 1.\n")
print("| round | case | builds / restores | `plan` predicted | `build` wall | error | run's plan | run's scheduler | error | load |")
print("| --- | --- | --- | --: | --: | --: | --: | --: | --: | --: |")
for r in rows:
    print(f"| {r['round']} | {r['case']} | {r['built']} / {r['restored']} | {fmt(r['predicted'])} | {fmt(r['actual'])} | "
          f"{err(r['predicted'], r['actual'])} | {fmt(r['run_predicted'])} | {fmt(r['run_elapsed'])} | "
          f"{err(r['run_predicted'], r['run_elapsed'])} | {r['load']} |")
PY
cat "$RES/table.md"
