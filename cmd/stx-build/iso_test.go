package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The ISO commands' argument checks, which come before any build (the
// host checks are TestPreflight's).
func TestISOCommandErrors(t *testing.T) {
	example := localExample(t)
	noISO := localExample(t)
	os.Remove(filepath.Join(noISO, "iso.yaml"))
	notISO := filepath.Join(t.TempDir(), "x.iso")
	os.WriteFile(notISO, []byte("not an ISO"), 0o644)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"iso", "-C", noISO, "--no-build"}, "has no iso.yaml"},
		{[]string{"iso", "-C", example, "--no-build", "-o", "/tmp/x.iso"}, "-o names one ISO file: choose one architecture with --arch"},
		{[]string{"iso", "-C", example, "--no-build", "--arch", "riscv64"}, "--arch riscv64: iso.yaml builds [amd64 arm64]"},
		{[]string{"iso", "inspect", notISO}, "not an ISO 9660 image"},
		{[]string{"boot", notISO}, "not an ISO 9660 image"},
		{[]string{"boot", "--arch", "arm64", "--firmware", "bios", notISO}, `arm64 boots with uefi, not "bios"`},
		{[]string{"boot", "--arch", "mips", notISO}, `no ISO support for architecture "mips"`},
		{[]string{"all", "-C", example, "--arch", "riscv64"}, "--arch riscv64: the project builds [amd64 arm64]"},
	} {
		_, err := run(t, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("stx-build %s: %v, want %q", strings.Join(tc.args, " "), err, tc.want)
		}
	}
}
