#!/usr/bin/env bash
# Builds buildkitd and buildctl from the BuildKit module source at the
# version go.mod pins (the same code the BuildKit runner talks to), into
# bin/ (or $1). `go install .../cmd/buildkitd@version` is refused (the
# module's go.mod has exclude directives), so this builds inside a copy of
# the downloaded module. Skips the build when the binaries already report
# that version. Needs runc at run time (scripts/install-deps.sh installs it).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
out=$(realpath -m "${1:-bin}")
ver=$(go list -m -f '{{.Version}}' github.com/moby/buildkit)
if [[ -x $out/buildkitd && -x $out/buildctl ]] &&
	"$out/buildkitd" --version 2>/dev/null | grep -qF " $ver " &&
	"$out/buildctl" --version 2>/dev/null | grep -qF " $ver "; then
	exit 0
fi
dir=$(go mod download -json "github.com/moby/buildkit@$ver" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
[[ -d $dir ]] || { echo "build-buildkit: go mod download gave no directory" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$dir/." "$work/src"
chmod -R u+w "$work/src"
mkdir -p "$out"
echo "build-buildkit: building buildkitd and buildctl $ver (a few minutes the first time)" >&2
(cd "$work/src" && CGO_ENABLED=0 go build -trimpath \
	-ldflags "-X github.com/moby/buildkit/version.Version=$ver -X github.com/moby/buildkit/version.Revision=module" \
	-o "$work/bin/" ./cmd/buildkitd ./cmd/buildctl)
mv "$work/bin/buildkitd" "$work/bin/buildctl" "$out/"
"$out/buildkitd" --version
