#!/usr/bin/env bash
# Side-by-side time and size of the example image (examples/images/
# stx-hello.yaml), per architecture, for docs/images.md:
#   - stx-build image (mmdebstrap root, normalized, own tar writer, SBOM);
#   - the same image without its cleanup list (same content as the baseline);
#   - baseline: mmdebstrap --format=tar of the same package set, then
#     crane append --oci-empty-base -o image.tar.
# The packages are built once first (not timed).
#
#   scripts/bench-image.sh [ROUNDS]    (default 1; needs root and the archive)
#
# Writes raw numbers to out/bench-image/raw.tsv and the table to
# out/bench-image/table.md.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-1}
OUT=$PWD/out/bench-image
CACHE=${STX_BENCH_CACHE:-/var/tmp/stx-image-bench-cache}
EPOCH=1704067200 # the example's changelog date, as stx-build derives it
ARCHS=(amd64 arm64)
export PATH=$PATH:/usr/local/go/bin
mkdir -p "$OUT/bin"
go build -o "$OUT/bin/stx-build" ./cmd/stx-build
GOBIN=$OUT/bin go install github.com/google/go-containerregistry/cmd/crane@v0.22.1
BIN=$OUT/bin/stx-build
CRANE=$OUT/bin/crane

# The example project, and a copy whose image keeps what cleanup removes.
PROJ=$OUT/project
rm -rf "$PROJ" "$PROJ-nocleanup"
cp -r examples "$PROJ"
rm -rf "$PROJ/out"
cp -r "$PROJ" "$PROJ-nocleanup"
sed -i '/^cleanup:/,$d' "$PROJ-nocleanup/images/stx-hello.yaml"
REPOS=$OUT/stx-out
"$BIN" --cache-dir "$CACHE" build -C "$PROJ" -o "$REPOS" stx-hello >"$OUT/packages.log"
cp -r "$REPOS" "$OUT/stx-out-nocleanup"

raw=$OUT/raw.tsv
printf 'round\tarch\tvariant\tseconds\tcompressed_bytes\tuncompressed_bytes\n' >"$raw"

# secs LOG CMD...: run CMD with its output to LOG, print the wall time.
secs() {
	local log=$1 s
	shift
	s=$(date +%s.%N)
	"$@" >"$log" 2>&1
	awk -v s="$s" -v e="$(date +%s.%N)" 'BEGIN {print e - s}'
}

# ours VARIANT PROJECT OUTDIR ARCH
ours() {
	local variant=$1 proj=$2 out=$3 arch=$4 t log
	log=$OUT/$variant-$arch.log
	t=$(secs "$log" "$BIN" --cache-dir "$CACHE" image -C "$proj" -o "$out" --no-build --arch "$arch" stx-hello)
	local layout=$out/images/stx-hello idx man layer
	idx=$(python3 -c "import json,sys;print(json.load(open('$layout/index.json'))['manifests'][0]['digest'].split(':')[1])")
	read -r comp uncomp < <(python3 - "$layout" "$idx" <<'EOF'
import json, sys, os, gzip
layout, idx = sys.argv[1:]
blob = lambda d: os.path.join(layout, "blobs", "sha256", d.split(":")[1])
index = json.load(open(blob("sha256:" + idx)))
m = [d for d in index["manifests"] if d.get("platform", {}).get("os") == "linux"][0]
man = json.load(open(blob(m["digest"])))
comp = m["size"] + man["config"]["size"] + sum(l["size"] for l in man["layers"])
uncomp = sum(len(gzip.open(blob(l["digest"])).read()) for l in man["layers"])
print(comp, uncomp)
EOF
)
	printf '%s\t%s\t%s\t%.1f\t%s\t%s\n' "$round" "$arch" "$variant" "$t" "$comp" "$uncomp" >>"$raw"
}

# baseline ARCH: mmdebstrap tar + crane append, timed together and apart.
baseline() {
	local arch=$1 w=$OUT/baseline-$arch t1 t2
	rm -rf "$w" && mkdir -p "$w"
	t1=$(secs "$w/mmdebstrap.log" env SOURCE_DATE_EPOCH=$EPOCH mmdebstrap --variant=apt --mode=root --format=tar --architectures="$arch" \
		--dpkgopt=force-unsafe-io '--aptopt=APT::Install-Recommends "false"' '--aptopt=Acquire::Check-Valid-Until "false"' \
		--include=stx-hello bookworm "$w/rootfs.tar" /etc/apt/sources.list.d/*.sources \
		"deb [trusted=yes] copy://$REPOS/$arch/repo stx main")
	t2=$(secs "$w/crane.log" "$CRANE" append --oci-empty-base -f "$w/rootfs.tar" -t "bench.invalid/stx-hello:$arch" -o "$w/image.tar")
	local comp uncomp
	# The gzip layer inside crane's tarball (<hex>.tar.gz).
	comp=$(tar -tvf "$w/image.tar" | awk '$6 ~ /\.tar\.gz$/ {s += $3} END {print s}')
	uncomp=$(stat -c %s "$w/rootfs.tar")
	printf '%s\t%s\t%s\t%.1f\t%s\t%s\n' "$round" "$arch" "baseline-mmdebstrap" "$t1" "" "$uncomp" >>"$raw"
	printf '%s\t%s\t%s\t%.1f\t%s\t%s\n' "$round" "$arch" "baseline-crane-append" "$t2" "$comp" "" >>"$raw"
	printf '%s\t%s\t%s\t%.1f\t%s\t%s\n' "$round" "$arch" "baseline" "$(awk -v a="$t1" -v b="$t2" 'BEGIN {print a + b}')" "$comp" "$uncomp" >>"$raw"
}

for round in $(seq 1 "$ROUNDS"); do
	for arch in "${ARCHS[@]}"; do
		echo "round $round $arch: stx-build image" >&2
		ours stx-build "$PROJ" "$REPOS" "$arch"
		echo "round $round $arch: stx-build image (no cleanup)" >&2
		ours stx-build-nocleanup "$PROJ-nocleanup" "$OUT/stx-out-nocleanup" "$arch"
		echo "round $round $arch: mmdebstrap --format=tar + crane append" >&2
		baseline "$arch"
	done
done

python3 - "$raw" >"$OUT/table.md" <<'EOF'
import csv, sys, statistics
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
names = {
    "stx-build": "stx-build image (example, with its cleanup)",
    "stx-build-nocleanup": "stx-build image, no cleanup (same files as the baseline)",
    "baseline-mmdebstrap": "baseline: mmdebstrap --format=tar",
    "baseline-crane-append": "baseline: crane append -f rootfs.tar",
    "baseline": "baseline total",
}
print("| arch | variant | time (s, median) | compressed | uncompressed |")
print("| --- | --- | ---: | ---: | ---: |")
for arch in ("amd64", "arm64"):
    for v in names:
        rs = [r for r in rows if r["arch"] == arch and r["variant"] == v]
        if not rs:
            continue
        t = statistics.median(float(r["seconds"]) for r in rs)
        mib = lambda s: f"{int(s) / 2**20:.1f} MiB" if s else ""
        print(f"| {arch} | {names[v]} | {t:.1f} | {mib(rs[0]['compressed_bytes'])} | {mib(rs[0]['uncompressed_bytes'])} |")
EOF
cat "$OUT/table.md"
