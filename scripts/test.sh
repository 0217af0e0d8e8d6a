#!/usr/bin/env bash
# make test: go vet, then every package's tests, with the package-build
# integration tests (buildrun, ~40 min on 2 cores when run as one binary)
# split in two shards that run side by side with the other packages.
#
# go test runs at most GOMAXPROCS test binaries at once and the tests of one
# binary one after the other, so buildrun alone used to be the last ~25
# minutes of make test. Shard 2 is a second buildrun binary (-run) started
# at once; shard 1 is the rest (-skip, in the main go test). A test that is
# renamed or added falls into shard 1: nothing is left out. Each shard has a
# cache of its own (TestMain), so the two never see each other's builds.
#
# Shard 2's verbose output goes to $OUT/test-buildrun-shard2.log; its
# per-test times are printed at the end, and the whole log when it fails.
set -uo pipefail
GO=${GO:-go}
OUT=${OUT:-out}
TIMEOUT=${STX_TEST_TIMEOUT:-80m}

# Tests with their own base roots or runners (BuildKit, emulation, locks,
# trixie): about half of buildrun's time.
SHARD2='^(TestBuildKitWorkers|TestEmulatedBuild|TestPlanEmulated|TestLockedOffline|TestLockHonoured|TestFallsBack)$'

"$GO" vet ./... || exit 1

mkdir -p "$OUT"
log="$OUT/test-buildrun-shard2.log"
start=$(date +%s)
"$GO" test -count=1 -timeout "$TIMEOUT" -v -run "$SHARD2" ./buildrun/ >"$log" 2>&1 &
shard2=$!

"$GO" test -count=1 -timeout "$TIMEOUT" -skip "$SHARD2" ./...
rc1=$?

wait "$shard2"
rc2=$?
end=$(date +%s)

echo "buildrun shard 2 ($SHARD2):"
grep -E '^(--- |ok |FAIL|PASS$|panic:)' "$log" || true
if [ "$rc2" -ne 0 ]; then
	echo "buildrun shard 2 failed (exit $rc2); its log ($log):"
	cat "$log"
fi
echo "make test: $((end - start)) s (main go test exit $rc1, buildrun shard 2 exit $rc2)"
[ "$rc1" -eq 0 ] && [ "$rc2" -eq 0 ]
