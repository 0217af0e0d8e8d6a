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

// TestCopy: a copy through a symlink gets the asked mode whatever the
// umask and replaces what was there without writing into it; a FIFO
// (which would block a reader) and a directory are refused and leave dst
// and no temporary file behind.
func TestCopy(t *testing.T) {
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	dir := t.TempDir()
	src, link, dst := filepath.Join(dir, "src"), filepath.Join(dir, "link"), filepath.Join(dir, "dst")
	if err := os.WriteFile(src, []byte("content\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("src", link); err != nil {
		t.Fatal(err)
	}
	// dst is a hard link to another file: that file keeps its content.
	other := filepath.Join(dir, "other")
	if err := os.WriteFile(other, []byte("older, longer content\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(other, dst); err != nil {
		t.Fatal(err)
	}
	if err := Copy(link, dst, 0o644); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(other); string(got) != "older, longer content\n" {
		t.Errorf("the copy wrote through dst's hard link into %s: %q", other, got)
	}
	got, err := os.ReadFile(dst)
	fi, _ := os.Stat(dst)
	if err != nil || string(got) != "content\n" || fi.Mode().Perm() != 0o644 {
		t.Errorf("dst %q (%v), mode %v", got, err, fi.Mode())
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{fifo, dir} {
		var r *Refusal
		if err := Copy(bad, dst, 0o644); !errors.As(err, &r) {
			t.Errorf("Copy(%s) = %v, want a refusal", bad, err)
		}
	}
	if got, _ := os.ReadFile(dst); string(got) != "content\n" {
		t.Errorf("a refused copy changed dst: %q", got)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".tmp-*")); len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

// TestSHA256: a regular file's digest; a symlink, a FIFO and a directory
// are refused without being read (the FIFO would block a reader).
func TestSHA256(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	os.WriteFile(file, []byte("abc"), 0o644)
	os.Symlink("f", filepath.Join(dir, "link"))
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, want string
		refused    bool
	}{
		{"f", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", false},
		{"link", "", true},
		{"fifo", "", true},
		{".", "", true},
	} {
		got, err := SHA256(filepath.Join(dir, tc.name))
		if got != tc.want || (err != nil) != tc.refused {
			t.Errorf("%s: %q, %v; want %q, refused %v", tc.name, got, err, tc.want, tc.refused)
		}
	}
}
