package deb

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestCollectRefusesHostileResults reproduces issue 20's escapes through
// collect: a result that is a symlink to a host file or to /dev/zero, a
// FIFO, a device node or an oversized file fails the build with its name,
// and nothing of the host reaches OutDir (nor does collect hang).
func TestCollectRefusesHostileResults(t *testing.T) {
	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte("host secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, file, want string
		make             func(p string) error
		root             bool
	}{
		{"symlink to a host file", "x.buildinfo", "is a symbolic link", func(p string) error { return os.Symlink(secret, p) }, false},
		{"symlink to /dev/zero", "y_1_amd64.deb", "is a symbolic link", func(p string) error { return os.Symlink("/dev/zero", p) }, false},
		{"FIFO", "z.changes", "is a named pipe (FIFO)", func(p string) error { return syscall.Mkfifo(p, 0o644) }, false},
		{"device node", "w.udeb", "is a character device", func(p string) error { return syscall.Mknod(p, syscall.S_IFCHR|0o644, 1<<8|5) }, true},
		{"directory", "v.deb", "is a directory", func(p string) error { return os.Mkdir(p, 0o755) }, false},
		{"oversized", "big_1_amd64.deb", "is too large", func(p string) error { return os.WriteFile(p, make([]byte, 2048), 0o644) }, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.root && os.Geteuid() != 0 {
				t.Skip("mknod needs root")
			}
			build := t.TempDir()
			if err := os.WriteFile(filepath.Join(build, "ok_1_amd64.deb"), []byte("a deb"), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := c.make(filepath.Join(build, c.file)); err != nil {
				t.Fatal(err)
			}
			b := &Builder{OutDir: t.TempDir(), MaxArtifact: 1024}
			done := make(chan error, 1)
			go func() {
				_, err := b.collect(build, Request{Package: Package{Name: "ok", Version: "1"}, Arch: "amd64"})
				done <- err
			}()
			var err error
			select {
			case err = <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("collect hangs")
			}
			if err == nil || !strings.Contains(err.Error(), c.file) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("collect: %v, want an error naming %s that says %q", err, c.file, c.want)
			}
			if _, err := os.Stat(filepath.Join(b.OutDir, "amd64", "debs", "ok_1")); !os.IsNotExist(err) {
				t.Errorf("a failed collect left a result: %v", err)
			}
			filepath.Walk(b.OutDir, func(p string, fi os.FileInfo, err error) error {
				if err == nil && !fi.IsDir() {
					t.Errorf("left behind: %s", p)
				}
				return nil
			})
		})
	}
}

func TestCollectRegularFiles(t *testing.T) {
	build := t.TempDir()
	for _, n := range []string{"a_1_amd64.deb", "a_1_amd64.buildinfo", "a_1_amd64.changes", "notes.txt"} {
		if err := os.WriteFile(filepath.Join(build, n), []byte(n), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// A symlink that is not a result is not collect's business.
	if err := os.Symlink("/etc/passwd", filepath.Join(build, "link.txt")); err != nil {
		t.Fatal(err)
	}
	b := &Builder{OutDir: t.TempDir()}
	files, err := b.collect(build, Request{Package: Package{Name: "a", Version: "1:1"}, Arch: "amd64"})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 3 {
		t.Fatalf("files %v, want the three results", files)
	}
	for _, f := range files {
		fi, err := os.Lstat(f)
		if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o644 {
			t.Errorf("%s: %v %v, want a regular 0644 file", f, fi.Mode(), err)
		}
	}
}
