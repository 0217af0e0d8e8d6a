#!/usr/bin/env bash
# Which project `make demo` runs, printed on stdout: PROJECT itself when
# it has no stx.lock or every file its lock names can be had (from the
# mirror or the package store: stx-build fetch); otherwise a copy of it
# without the lock, in OUT/demo-unlocked, so that a newcomer's demo still
# shows the whole pipeline after the archive dropped a locked version. It
# says so on stderr, with the refresh; `make test` fails instead, naming
# the refresh (docs/lock.md).
# Usage: scripts/demo-project.sh BIN PROJECT OUT
set -euo pipefail
bin=$1 project=$2 out=$3
if [[ ! -f $project/stx.lock ]] || "$bin" fetch -C "$project" >&2; then
	echo "$project"
	exit 0
fi
echo "demo: $project/stx.lock names files neither the mirror nor the package store has (above)." >&2
echo "demo: going on unlocked, from a copy of $project without its lock ($out/demo-unlocked): the archive as it is now." >&2
echo "demo: refresh the lock with: $bin lock --update -C $project (and review the diff)" >&2
rm -rf "$out/demo-unlocked"
mkdir -p "$out"
cp -a "$project" "$out/demo-unlocked"
rm -f "$out/demo-unlocked/stx.lock"
echo "$out/demo-unlocked"
