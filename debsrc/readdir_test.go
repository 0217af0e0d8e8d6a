package debsrc

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// ReadDir reads a source tree a project names: a FIFO or a device in place
// of debian/changelog or debian/control is refused, not read (a FIFO would
// block for good, /dev/zero fill the memory).
func TestReadDirRefusesSpecialFiles(t *testing.T) {
	for _, tc := range []struct {
		name, file string
		make       func(path string) error
	}{
		{"fifo changelog", "changelog", func(p string) error { return syscall.Mkfifo(p, 0o644) }},
		{"dev-zero control", "control", func(p string) error { return os.Symlink("/dev/zero", p) }},
		{"directory control", "control", func(p string) error { return os.Mkdir(p, 0o755) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			deb := filepath.Join(dir, "debian")
			if err := os.Mkdir(deb, 0o755); err != nil {
				t.Fatal(err)
			}
			files := map[string]string{
				"changelog": "ab (1.0-1) unstable; urgency=medium\n\n  * x\n\n -- A <a@b.c>  Mon, 01 Jan 2024 00:00:00 +0000\n",
				"control":   "Source: ab\n\nPackage: ab\nArchitecture: any\n",
			}
			for name, content := range files {
				if name == tc.file {
					continue
				}
				if err := os.WriteFile(filepath.Join(deb, name), []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if err := tc.make(filepath.Join(deb, tc.file)); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { _, _, err := ReadDir(dir); done <- err }()
			select {
			case err := <-done:
				if err == nil || !strings.Contains(err.Error(), "not a regular file") {
					t.Errorf("ReadDir: %v, want a refusal", err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("ReadDir blocked")
			}
		})
	}
}
