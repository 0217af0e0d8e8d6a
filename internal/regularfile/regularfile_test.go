package regularfile

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestRead(t *testing.T) {
	dir := t.TempDir()
	put := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	file := put("file", "hello")
	put("big", strings.Repeat("x", 11))
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, target := range map[string]string{"link": file, "fifo-link": "fifo", "zero": "/dev/zero"} {
		if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name, want string // want: the content, or the refusal
	}{
		{"file", "hello"},
		{"link", "hello"},
		{"big", "is too large (the limit is 10 bytes)"},
		{"fifo", "is a named pipe (FIFO), not a regular file"},
		{"fifo-link", "is a named pipe (FIFO), not a regular file"},
		{"zero", "is a character device, not a regular file"},
		{".", "is a directory, not a regular file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			done := make(chan struct{})
			var data []byte
			var err error
			go func() {
				defer close(done)
				data, err = Read(filepath.Join(dir, tt.name), 10)
			}()
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				t.Fatal("Read blocked")
			}
			var r *Refusal
			switch {
			case err == nil && string(data) != tt.want:
				t.Errorf("Read = %q, want %q", data, tt.want)
			case err != nil && (!errors.As(err, &r) || r.Msg != tt.want):
				t.Errorf("Read: %v, want %q", err, tt.want)
			}
		})
	}
	if _, err := Read(filepath.Join(dir, "missing"), 10); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Read of a missing file: %v, want os.ErrNotExist", err)
	}
}
