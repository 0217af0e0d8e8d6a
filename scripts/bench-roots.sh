#!/usr/bin/env bash
# Image and live-ISO roots made from nothing versus on a cached archive
# root (rootfs/layered.go), per architecture, for docs/performance.md.
# For the example's image (images/stx-hello.yaml) and ISO (iso.yaml), three
# ways, each timed as the whole `stx-build image|iso --no-build` command:
#   one-run      --no-root-cache: the ISO's root in one mmdebstrap run, as
#                before the cache existed; the image's with no cache kept
#                (its archive part and archive layer made in the work
#                directory, the two layers of the cached ways);
#   cold         the caches of archive roots and layers emptied first: the
#                archive root is made, then the project's packages go on
#                top (and the image's archive layer is written);
#   incremental  after a one-line change to stx-hello (rebuilt before, not
#                timed): the cached archive root (and the image's archive
#                layer) are reused.
#   cold, emulated dpkg  (foreign architectures only) cold again with
#                STX_NATIVE_DPKG=0: mmdebstrap's essential phase in the
#                chroot's own dpkg under qemu-user, as before the host's
#                dpkg unpacked it (rootfs/nativedpkg.go).
# Every round checks that all ways give the same digest (image index,
# ISO sha256). Medians of ROUNDS rounds (default 3), then the arm64/amd64
# ratios of the medians.
#
#   scripts/bench-roots.sh [ROUNDS]   (needs root, the archive, qemu-user)
#   BENCH_ROOTS=image scripts/bench-roots.sh 1   (only the image)
#
# Raw numbers go to out/bench-roots/raw.tsv, the table to stdout.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
WHAT=${BENCH_ROOTS:-image iso}
ARCHS=${BENCH_ARCHS:-amd64 arm64}
OUT=$PWD/out/bench-roots
CACHE=${STX_BENCH_CACHE:-/var/tmp/stx-bench-roots-cache}
export PATH=$PATH:/usr/local/go/bin
mkdir -p "$OUT/bin"
go build -o "$OUT/bin/stx-build" ./cmd/stx-build
BIN=$OUT/bin/stx-build
PROJ=$OUT/project
rm -rf "$PROJ"
cp -r examples "$PROJ"
rm -rf "$PROJ/out"
REPOS=$OUT/stx-out
stx() { env ${EMULATED:+STX_NATIVE_DPKG=0} "$BIN" --cache-dir "$CACHE" "$@"; }
HOST_ARCH=$(dpkg --print-architecture)

# change N: a change to stx-hello's binary, rebuilt for every architecture;
# the project's other packages (the ISO needs stx-bootmarker) are built the
# first time and restored from the artifact cache after.
change() {
	# A new constant, not a comment: a comment leaves the .deb, and so
	# the roots, as they were.
	echo "const char stx_bench_roots_$1[] = \"round $1\";" >>"$PROJ/packages/stx-hello/src/stx-hello.c"
	stx build -C "$PROJ" -o "$REPOS" >"$OUT/packages-$1.log" 2>&1 ||
		{ tail -20 "$OUT/packages-$1.log" >&2; exit 1; }
}

# run KIND WHAT ARCH LABEL [FLAGS...]: prints "seconds digest".
run() {
	local what=$1 arch=$2 label=$3 log s digest
	shift 3
	log=$OUT/$what-$arch-$label.log
	s=$(date +%s.%N)
	if [ "$what" = image ]; then
		stx image -C "$PROJ" -o "$REPOS" --no-build --arch "$arch" "$@" >"$log" 2>&1 || { tail -20 "$log" >&2; exit 1; }
		digest=$(awk '/^image stx-hello: /{print $3}' "$log")
	else
		stx iso -C "$PROJ" --out "$REPOS" --no-build --arch "$arch" "$@" >"$log" 2>&1 || { tail -20 "$log" >&2; exit 1; }
		digest=$(grep -o 'sha256 [0-9a-f]*' "$log" | head -1 | cut -d' ' -f2)
	fi
	awk -v s="$s" -v e="$(date +%s.%N)" -v d="$digest" 'BEGIN {printf "%.1f %s\n", e - s, d}'
}

raw=$OUT/raw.tsv
printf 'round\twhat\tarch\tway\tseconds\tdigest\n' >"$raw"
change 0
for w in $WHAT; do for a in $ARCHS; do
	run "$w" "$a" warmup >/dev/null # fills the archive root cache
done; done
# Per round: every incremental run first, while the archive roots of the
# warm-up (or the last round's cold runs) are all in the cache; then the
# one-run and cold runs, each cold one after emptying the cache (which
# removes every architecture's entry: so no incremental run comes after).
for r in $(seq "$ROUNDS"); do
	if [ "$r" -gt 1 ]; then # the last round's cold runs left one entry
		for w in $WHAT; do for a in $ARCHS; do
			run "$w" "$a" warmup >/dev/null
		done; done
	fi
	change "$r"
	declare -A ti di
	for w in $WHAT; do for a in $ARCHS; do
		read -r "ti[$w-$a]" "di[$w-$a]" < <(run "$w" "$a" incremental)
	done; done
	for w in $WHAT; do for a in $ARCHS; do
		read -r to dn < <(run "$w" "$a" one-run --no-root-cache)
		rm -rf "$CACHE/archive-roots" "$CACHE/image-layers"
		read -r tc dc < <(run "$w" "$a" cold)
		te=- de=$dn
		if [ "$a" != "$HOST_ARCH" ]; then
			rm -rf "$CACHE/archive-roots" "$CACHE/image-layers"
			read -r te de < <(EMULATED=1 run "$w" "$a" cold-emulated)
			printf '%s\t%s\t%s\tcold-emulated\t%s\t%s\n' "$r" "$w" "$a" "$te" "$de" >>"$raw"
		fi
		i=${ti[$w-$a]} d=${di[$w-$a]}
		printf '%s\t%s\t%s\tincremental\t%s\t%s\n%s\t%s\t%s\tone-run\t%s\t%s\n%s\t%s\t%s\tcold\t%s\t%s\n' \
			"$r" "$w" "$a" "$i" "$d" "$r" "$w" "$a" "$to" "$dn" "$r" "$w" "$a" "$tc" "$dc" >>"$raw"
		if [ "$d" != "$dn" ] || [ "$dc" != "$dn" ] || [ "$de" != "$dn" ]; then
			echo "round $r $w $a: digests differ: one-run $dn, cold $dc, cold emulated $de, incremental $d" >&2
			exit 1
		fi
		echo "round $r $w $a: one-run $to s, cold $tc s, cold emulated $te s, incremental $i s ($dn)" >&2
	done; done
done
median() { sort -n | awk '{a[NR]=$1} END {if (NR) print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
m() { awk -F'\t' -v w="$1" -v a="$2" -v k="$3" '$2==w && $3==a && $4==k {print $5}' "$raw" | median; }
echo "| what | arch | one-run s | cold s | cold, emulated dpkg s | incremental s | incremental / one-run |"
echo "|---|---|--:|--:|--:|--:|--:|"
for w in $WHAT; do for a in $ARCHS; do
	o=$(m "$w" "$a" one-run) c=$(m "$w" "$a" cold) i=$(m "$w" "$a" incremental) e=$(m "$w" "$a" cold-emulated)
	[ -n "$e" ] && e=$(printf '%.1f' "$e") || e=-
	printf '| %s | %s | %.1f | %.1f | %s | %.1f | %.0f%% |\n' "$w" "$a" "$o" "$c" "$e" "$i" "$(awk -v i="$i" -v o="$o" 'BEGIN {print 100 * i / o}')"
done; done
# The ratio of a foreign architecture's medians to the host's.
for w in $WHAT; do for a in $ARCHS; do
	[ "$a" = "$HOST_ARCH" ] && continue
	for k in one-run cold cold-emulated; do
		awk -v w="$w" -v a="$a" -v h="$HOST_ARCH" -v k="$k" -v f="$(m "$w" "$a" "$k")" -v n="$(m "$w" "$HOST_ARCH" "${k%-emulated}")" \
			'BEGIN {if (f != "" && n != "") printf "%s %s/%s %s: %.2fx\n", w, a, h, k, f / n}'
	done
done; done
