package rootfs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestBinfmtFlags(t *testing.T) {
	dir := t.TempDir()
	old := binfmtDir
	binfmtDir = dir
	t.Cleanup(func() { binfmtDir = old })
	tests := []struct {
		name, entry string
		want        string // "" for ok
	}{
		{"F flag", "enabled\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\nflags: PF\noffset 0\n", ""},
		{"no F flag", "enabled\ninterpreter /usr/bin/qemu-aarch64\nflags: P\noffset 0\n", "without the F flag"},
		{"disabled", "disabled\ninterpreter /usr/bin/qemu-aarch64\nflags: PF\n", "update-binfmts --enable qemu-aarch64"},
		{"not registered", "", "not registered"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			entry := filepath.Join(dir, "qemu-aarch64")
			os.Remove(entry)
			if tt.entry != "" {
				if err := os.WriteFile(entry, []byte(tt.entry), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			err := binfmtFlags("qemu-aarch64")
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("got %v, want ok", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}
