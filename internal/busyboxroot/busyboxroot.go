// Package busyboxroot makes tiny root filesystems for tests: the host's
// static busybox and links for the applets a test needs. It skips the
// test when the host has no static busybox (apt-get install
// busybox-static).
package busyboxroot

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// New makes the root in a temporary directory of t and returns its path:
// bin/busybox, a link bin/<applet> for each applet, and empty etc, tmp,
// proc, dev and sys.
func New(t testing.TB, applets ...string) string {
	t.Helper()
	bb, err := exec.LookPath("busybox")
	if err != nil {
		t.Skip("no busybox (apt-get install busybox-static)")
	}
	if out, err := exec.Command("file", "-L", bb).Output(); err == nil && !bytes.Contains(out, []byte("statically linked")) {
		t.Skip("busybox is not statically linked")
	}
	root := filepath.Join(t.TempDir(), "root")
	for _, d := range []string{"bin", "etc", "tmp", "proc", "dev", "sys"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(bb)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "bin", "busybox"), data, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, a := range applets {
		if err := os.Symlink("busybox", filepath.Join(root, "bin", a)); err != nil {
			t.Fatal(err)
		}
	}
	return root
}
