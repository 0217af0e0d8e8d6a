package debfile

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

func TestControlCompressions(t *testing.T) {
	if _, err := exec.LookPath("dpkg-deb"); err != nil {
		t.Skip("no dpkg-deb")
	}
	control := "Package: p\nVersion: 1\nArchitecture: all\nMaintainer: x <x@example.org>\nDescription: x\n"
	for _, z := range []string{"gzip", "xz", "zstd", "none"} {
		t.Run(z, func(t *testing.T) {
			dir := t.TempDir()
			root := filepath.Join(dir, "root")
			os.MkdirAll(filepath.Join(root, "DEBIAN"), 0o755)
			os.WriteFile(filepath.Join(root, "DEBIAN", "control"), []byte(control), 0o644)
			out := filepath.Join(dir, "p.deb")
			if b, err := exec.Command("dpkg-deb", "-Z"+z, "--build", root, out).CombinedOutput(); err != nil {
				t.Skipf("dpkg-deb -Z%s: %v: %s", z, err, b)
			}
			got, err := Control(out)
			if err != nil || string(got) != control {
				t.Fatalf("got %q, %v", got, err)
			}
		})
	}
}
