// Package buildkittest starts real buildkitd processes for tests (as
// root, runc worker, a temporary state directory, a unix socket), stopped
// by PID when the test ends. The binaries come from STX_BUILDKITD (a
// directory holding buildkitd) or the repository's bin/, where
// scripts/build-buildkit.sh builds them from the pinned module source.
package buildkittest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	bkclient "github.com/moby/buildkit/client"
)

// Daemon is one running buildkitd.
type Daemon struct {
	Addr string // unix:///.../buildkitd.sock
	Root string // its state directory

	cmd    *exec.Cmd
	exited chan struct{}
	once   sync.Once
	out    *bytes.Buffer
	sw     *syncWriter
}

// Bin finds buildkitd (see the package comment) or skips the test.
func Bin(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("starts buildkitd")
	}
	if os.Geteuid() != 0 {
		t.Skip("buildkitd with the runc worker needs root")
	}
	if _, err := exec.LookPath("runc"); err != nil {
		t.Skip("runc not installed (make deps)")
	}
	dir := os.Getenv("STX_BUILDKITD")
	if dir == "" {
		_, file, _, _ := runtime.Caller(0)
		dir = filepath.Join(filepath.Dir(file), "..", "..", "bin")
	}
	bin := filepath.Join(dir, "buildkitd")
	if _, err := os.Stat(bin); err != nil {
		if os.Getenv("STX_REQUIRE_BUILDKIT") != "" {
			t.Fatalf("buildkitd not found at %s: run scripts/build-buildkit.sh", bin)
		}
		t.Skipf("buildkitd not found at %s: run scripts/build-buildkit.sh (make test does)", bin)
	}
	return bin
}

// Start starts a buildkitd for the test; it is killed when the test ends
// (if it is still running).
func Start(t *testing.T) *Daemon {
	t.Helper()
	return StartWith(t, "", nil)
}

// StartWith is Start with another address than a unix socket (addr, e.g.
// tcp://127.0.0.1:PORT; "" for the socket) and more buildkitd arguments.
func StartWith(t *testing.T, addr string, args []string) *Daemon {
	t.Helper()
	bin := Bin(t)
	// Unix socket paths are limited to 108 bytes: keep them short.
	root, err := os.MkdirTemp("/tmp", "stx-bk-")
	if err != nil {
		t.Fatal(err)
	}
	if addr == "" {
		addr = "unix://" + filepath.Join(root, "s.sock")
	}
	d := &Daemon{Root: root, Addr: addr, exited: make(chan struct{}), out: &bytes.Buffer{}}
	d.cmd = exec.Command(bin, append([]string{"--root", filepath.Join(root, "state"), "--addr", d.Addr,
		"--oci-worker=true", "--containerd-worker=false", "--oci-worker-gc=false"}, args...)...)
	d.sw = &syncWriter{w: d.out}
	d.cmd.Stdout, d.cmd.Stderr = d.sw, d.sw
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = d.cmd.Wait(); close(d.exited) }()
	t.Cleanup(func() {
		d.Kill()
		if t.Failed() {
			t.Logf("buildkitd %s output (tail):\n%s", d.Addr, tail([]byte(d.Output()), 4000))
		}
		// Its runc state and snapshots: unmount what is left, then remove.
		_ = exec.Command("sh", "-c", "grep -o ' "+root+"[^ ]*' /proc/self/mounts | sort -r | xargs -r -n1 umount -l").Run()
		_ = os.RemoveAll(root)
	})
	if len(args) > 0 {
		// A daemon with TLS does not answer a plain client: wait for its
		// log line instead.
		deadline := time.Now().Add(30 * time.Second)
		for !strings.Contains(d.Output(), "running server on") {
			if time.Now().After(deadline) {
				t.Fatalf("buildkitd did not start:\n%s", tail([]byte(d.Output()), 4000))
			}
			time.Sleep(50 * time.Millisecond)
		}
		return d
	}
	if err := d.wait(30 * time.Second); err != nil {
		t.Fatalf("buildkitd did not start: %v\n%s", err, tail([]byte(d.Output()), 4000))
	}
	return d
}

func (d *Daemon) wait(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case <-d.exited:
			return errors.New("exited")
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		c, err := bkclient.New(ctx, d.Addr)
		if err == nil {
			_, err = c.ListWorkers(ctx)
			c.Close()
		}
		cancel()
		if err == nil {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("no answer after %s", timeout)
}

// Kill kills buildkitd and its process group (runc's children) by PID with
// SIGKILL, as a machine going away would, and waits for it.
func (d *Daemon) Kill() {
	d.once.Do(func() {
		_ = syscall.Kill(-d.cmd.Process.Pid, syscall.SIGKILL)
		_ = d.cmd.Process.Kill()
		<-d.exited
	})
}

// Output is what buildkitd printed so far.
func (d *Daemon) Output() string {
	d.sw.mu.Lock()
	defer d.sw.mu.Unlock()
	return d.out.String()
}

type syncWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
