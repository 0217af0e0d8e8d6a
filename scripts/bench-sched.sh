#!/usr/bin/env bash
# The scheduler's real-graph benchmark (docs/scheduling.md): fetches the
# archive's Sources index once through a private apt environment (kept out
# of git, under $STX_BENCH_DIR), builds the build-dependency graph of a few
# hundred real source packages from it, and prints makespan / lower bound
# of our policy and the alternatives for 2, 8 and 32 slots and three tmpfs
# budgets, then times one plan of that graph.
#
#   scripts/bench-sched.sh [SIZE]     (default 400 source packages)
#
# The table also goes to out/bench-sched/table.md.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=$PATH:/usr/local/go/bin
DIR=${STX_BENCH_DIR:-/var/tmp/stx-sched-bench}
SIZE=${1:-400}
mkdir -p "$DIR" out/bench-sched
if [[ ! -s $DIR/Sources ]]; then
	go run ./scripts/fetchsources -o "$DIR/Sources"
fi
export STX_BENCH_SOURCES=$DIR/Sources
go test ./scheduler/ -count=1 -run '^TestRealGraphTable$' -v -args -real-size "$SIZE" -table "$PWD/out/bench-sched/table.md" |
	sed -n 's/^        //p'
go test ./scheduler/ -run '^$' -bench '^BenchmarkSimulateRealGraph$' -benchtime 20x -args -real-size "$SIZE" | grep -E '^(Benchmark|ok)'
