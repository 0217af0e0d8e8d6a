#!/usr/bin/env bash
# Locking without building (issue 17; docs/lock.md): `stx-build lock
# --no-build` of a generated project of N real Debian sources (the
# archive's Sources index, fetched once through a private apt
# environment: their Build-Depends and binary packages, 61 edges between
# them for 60), against a base root and package lists already in the
# cache ("once the archive indexes are local"). The first, untimed run
# makes the base root if the cache lacks it; then ROUNDS timed runs of
# `stx-build lock --update --no-build`, wall time of the whole command,
# and their median.
#
#   scripts/bench-lock.sh [ROUNDS] [N]   (default 3 rounds, 60 packages;
#                                          needs root)
#
# STX_BENCH_DIR (default /var/tmp/stx-lock-bench) keeps the project, the
# Sources index and the cache between invocations.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=$PATH:/usr/local/go/bin
ROUNDS=${1:-3}
N=${2:-60}
DIR=${STX_BENCH_DIR:-/var/tmp/stx-lock-bench}
mkdir -p "$DIR"
if [[ ! -s $DIR/Sources ]]; then
	go run ./scripts/fetchsources -o "$DIR/Sources"
fi
rm -rf "$DIR/proj"
go run ./scripts/benchbuild gen-real -dir "$DIR/proj" -sources "$DIR/Sources" -n "$N"
go build -o "$DIR/stx-build" ./cmd/stx-build
STX=("$DIR/stx-build" -C "$DIR/proj" --cache-dir "$DIR/cache")
"${STX[@]}" graph | grep -E '^amd64: '
echo "warm-up (makes the base root when the cache lacks it):"
"${STX[@]}" lock --no-build --update | tail -1
times=()
for r in $(seq "$ROUNDS"); do
	s=$(date +%s.%N)
	out=$("${STX[@]}" lock --no-build --update)
	e=$(date +%s.%N)
	t=$(awk -v s="$s" -v e="$e" 'BEGIN {printf "%.3f", e - s}')
	times+=("$t")
	printf 'round %d: %.2f s  %s | %s\n' "$r" "$t" "$(grep 'resolved without building' <<<"$out")" "$(tail -1 <<<"$out")"
done
printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {printf "lock --no-build of %s packages: median %.2f s of %d rounds (load %s)\n", "'"$N"'", a[int((NR+1)/2)], NR, "'"$(cut -d' ' -f1-3 /proc/loadavg)"'"}'
