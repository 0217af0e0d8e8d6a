package main

import (
	"strings"
	"testing"
)

// Every command with --arch refuses an architecture the project does not
// build in the same words, before doing anything.
func TestArchFlagErrors(t *testing.T) {
	dir := localExample(t)
	const want = "--arch riscv64: the project builds [amd64 arm64]"
	for _, args := range [][]string{
		{"graph", "--arch", "riscv64"},
		{"cache", "keys", "--arch", "riscv64"},
		{"image", "--no-build", "--arch", "riscv64"},
		{"all", "--arch", "riscv64"},
	} {
		_, err := run(t, append([]string{"-C", dir}, args...)...)
		if err == nil || err.Error() != want {
			t.Errorf("stx-build %s: %v, want %q", strings.Join(args, " "), err, want)
		}
	}
}

// A malformed SOURCE_DATE_EPOCH stops image and iso before any build.
func TestSourceDateEpochRefused(t *testing.T) {
	dir := localExample(t)
	t.Setenv("SOURCE_DATE_EPOCH", "yesterday")
	for _, args := range [][]string{{"image"}, {"iso"}} {
		_, err := run(t, append([]string{"-C", dir}, args...)...)
		if err == nil || !strings.Contains(err.Error(), `SOURCE_DATE_EPOCH="yesterday": want seconds since 1970`) {
			t.Errorf("stx-build %s: %v", args[0], err)
		}
	}
}
