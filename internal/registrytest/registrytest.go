// Package registrytest starts a real OCI registry process for tests: the
// CNCF distribution registry from Debian's docker-registry package, on
// 127.0.0.1, stopped by PID when the test ends.
package registrytest

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// Registry is a CNCF distribution registry (Debian's docker-registry
// package) serving from a temporary directory on 127.0.0.1.
type Registry struct {
	Addr    string // host:port
	Storage string // filesystem storage root
}

// Start starts docker-registry for the test and stops it (by
// its PID) when the test ends. It skips in -short mode and when the
// package is not installed.
func Start(t *testing.T) *Registry {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a registry process")
	}
	bin, err := exec.LookPath("docker-registry")
	if err != nil {
		t.Skip("docker-registry not installed (apt-get install docker-registry; make deps)")
	}
	dir := t.TempDir()
	storage := filepath.Join(dir, "storage")
	var lastErr error
	for range 3 { // the port could be taken between picking and binding it
		port, err := freePort()
		if err != nil {
			t.Fatal(err)
		}
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		config := filepath.Join(dir, "config.yml")
		conf := fmt.Sprintf("version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: %s\n  delete:\n    enabled: true\nhttp:\n  addr: %s\n", storage, addr)
		if err := os.WriteFile(config, []byte(conf), 0o644); err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		cmd := exec.Command(bin, "serve", config)
		cmd.Stdout, cmd.Stderr = &out, &out
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		stop := func() {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-exited:
			case <-time.After(5 * time.Second):
				_ = cmd.Process.Kill()
				<-exited
			}
		}
		if lastErr = waitReady(addr, exited); lastErr == nil {
			t.Cleanup(stop)
			return &Registry{Addr: addr, Storage: storage}
		}
		stop()
		lastErr = fmt.Errorf("%w\n%s", lastErr, out.String())
	}
	t.Fatalf("docker-registry did not start: %v", lastErr)
	return nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func waitReady(addr string, exited <-chan error) error {
	deadline := time.Now().Add(15 * time.Second)
	client := &http.Client{Timeout: time.Second}
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			return fmt.Errorf("exited: %v", err)
		default:
		}
		resp, err := client.Get("http://" + addr + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return errors.New("not ready after 15s")
}

// BlobFile is where the registry's filesystem storage keeps a blob.
func (r *Registry) BlobFile(sha256 string) string {
	return filepath.Join(r.Storage, "docker", "registry", "v2", "blobs", "sha256", sha256[:2], sha256, "data")
}
