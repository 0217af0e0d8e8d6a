#!/usr/bin/env bash
# Wall time of building the example (every package, amd64 + arm64, no
# artifact cache) on this machine alone (-j 2), on one BuildKit worker with
# two slots, and on two workers with one slot each (--no-local), all
# buildkitd on this machine. Warm-up runs first fill the base root, the
# build-dependency layers and the workers' environment caches, so the
# timed rounds compare steady states; rounds are interleaved and the
# medians reported. Usage: scripts/bench-workers.sh [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
rounds=${1:-3}
make -s build buildkit >/dev/null
bin=$PWD/bin/stx-build
work=$(mktemp -d /var/tmp/stx-bench-workers-XXXXXX)
cache=${STX_BENCH_CACHE:-/var/tmp/stx-bench-workers-cache}
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
	grep -o " $work[^ ]*" /proc/self/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
start_bk() { # name: starts buildkitd in this shell (so cleanup can kill it)
	local root="$work/$1"
	mkdir -p "$root"
	bin/buildkitd --root "$root/state" --addr "unix://$root/s.sock" --oci-worker=true --containerd-worker=false >"$root/log" 2>&1 &
	pids+=($!)
	for _ in $(seq 100); do bin/buildctl --addr "unix://$root/s.sock" debug workers >/dev/null 2>&1 && break; sleep 0.2; done
}
start_bk w1
start_bk w2
w1="unix://$work/w1/s.sock"
w2="unix://$work/w2/s.sock"
run() { # label args... -> seconds
	local out="$work/out-$1-$RANDOM"
	shift
	local t0 t1
	t0=$(date +%s.%N)
	"$bin" build -C examples --cache-dir "$cache" -o "$out" --no-cache "$@" >"$out.log" 2>&1 || { echo "FAILED: $*" >&2; tail -20 "$out.log" >&2; exit 1; }
	t1=$(date +%s.%N)
	rm -rf "$out"
	awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", b - a}'
}
declare -A cfg=(
	[local]="-j 2"
	[one-worker]="--no-local --buildkit $w1=2"
	[two-workers]="--no-local --buildkit $w1=1 --buildkit $w2=1"
)
order=(local one-worker two-workers)
echo "warm-up (base root, layers, worker environments):" >&2
declare -A first
for c in "${order[@]}"; do
	first[$c]=$(run "$c" ${cfg[$c]})
	echo "  $c: ${first[$c]} s" >&2
done
# The second worker saw only half the environments in the warm-up.
run warm2 --no-local --buildkit "$w2=2" >/dev/null
declare -A times
for r in $(seq "$rounds"); do
	for c in "${order[@]}"; do
		t=$(run "$c" ${cfg[$c]})
		times[$c]+="$t "
		echo "round $r $c: $t s" >&2
	done
done
median() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
base=$(echo "${times[local]}" | median)
echo "| configuration | first run s | median of $rounds s | vs local |"
echo "|---|--:|--:|--:|"
for c in "${order[@]}"; do
	m=$(echo "${times[$c]}" | median)
	printf "| %s | %.1f | %.1f | %.2f |\n" "$c" "${first[$c]}" "$m" "$(awk -v m="$m" -v b="$base" 'BEGIN {print m / b}')"
done
