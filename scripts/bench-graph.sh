#!/usr/bin/env bash
# The graph's cycle benchmarks (docs/graph.md, "Performance"): fetches the
# archive's Sources index once through a private apt environment made from
# the host's apt sources (kept out of git, under $STX_BENCH_DIR), then runs
# the real-closure benchmarks (graph with and without the suggested block,
# plan) and the all-archive one (every source of the suite, the block
# applied once), 5 runs each.
#
#   scripts/bench-graph.sh
#
# With -naive as first argument it also counts the rounds of the
# one-break-per-cycle iteration on the real closure (about a minute).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=$PATH:/usr/local/go/bin
DIR=${STX_BENCH_DIR:-/var/tmp/stx-sched-bench}
mkdir -p "$DIR"
if [[ ! -s $DIR/Sources ]]; then
	go run ./scripts/fetchsources -o "$DIR/Sources"
fi
if [[ ${1:-} == -naive ]]; then
	go test ./graph/ -count=1 -run '^TestRealClosure$' -v -args -naive | grep -E 'closure_test|^(ok|FAIL)'
fi
go test ./graph/ -run '^$' -bench 'RealClosure|AllSources' -count 5 -args -sources "$DIR/Sources" | grep -E '^(Benchmark|ok)|closure_test'
go test ./scheduler/ -run '^$' -bench '^BenchmarkPlanRealClosure$' -count 5 | grep -E '^(Benchmark|ok)'
