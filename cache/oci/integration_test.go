package oci_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stx-build/stx-build/cache"
	"github.com/stx-build/stx-build/cache/oci"
)

// distRegistry is a CNCF distribution registry (Debian's docker-registry
// package) serving from a temporary directory on 127.0.0.1.
type distRegistry struct {
	Addr    string // host:port
	Storage string // filesystem storage root
}

// startDistRegistry starts docker-registry for the test and stops it (by
// its PID) when the test ends. It skips in -short mode and when the
// package is not installed.
func startDistRegistry(t *testing.T) *distRegistry {
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
			return &distRegistry{Addr: addr, Storage: storage}
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

// blobFile is where the registry's filesystem storage keeps a blob.
func (r *distRegistry) blobFile(sha256 string) string {
	return filepath.Join(r.Storage, "docker", "registry", "v2", "blobs", "sha256", sha256[:2], sha256, "data")
}

// TestDistributionRegistry pushes an entry to a real registry process,
// pulls it back, and checks that a corrupted or truncated blob in the
// registry's storage is refused.
func TestDistributionRegistry(t *testing.T) {
	reg := startDistRegistry(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	r, err := oci.New(reg.Addr+"/stx/cache", oci.Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, e := entry(t, "libstx")
	if err := r.Push(ctx, e); err != nil {
		t.Fatal(err)
	}
	if ok, err := r.Has(ctx, e.Manifest.Key); err != nil || !ok {
		t.Fatalf("Has: %v %v", ok, err)
	}
	dir := t.TempDir()
	if err := r.Pull(ctx, e.Manifest.Key, dir); err != nil {
		t.Fatal(err)
	}
	sameDir(t, e.Dir, dir)

	// The cache on a machine with an empty store restores it.
	c, err := cache.Open(cache.Options{Dir: filepath.Join(t.TempDir(), "artifacts"), From: []cache.Remote{r}})
	if err != nil {
		t.Fatal(err)
	}
	res, ok, err := c.Restore(ctx, e.Manifest.Key, filepath.Join(t.TempDir(), "debs"))
	if err != nil || !ok || !strings.HasPrefix(res.From, reg.Addr) {
		t.Fatalf("restore: %+v %v %v", res, ok, err)
	}

	deb := e.Manifest.Files[2] // libstx_1.0_amd64.deb
	blob := reg.blobFile(deb.SHA256)
	orig, err := os.ReadFile(blob)
	if err != nil {
		t.Fatalf("registry storage layout: %v", err)
	}
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"flipped byte", func() []byte { b := bytes.Clone(orig); b[len(b)/2] ^= 1; return b }()},
		{"truncated", orig[:len(orig)/3]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := os.WriteFile(blob, tc.data, 0o644); err != nil {
				t.Fatal(err)
			}
			defer os.WriteFile(blob, orig, 0o644)
			err := r.Pull(ctx, e.Manifest.Key, t.TempDir())
			if err == nil {
				t.Fatal("corrupt blob pulled")
			}
			t.Logf("refused: %v", err)
			var log bytes.Buffer
			c, err := cache.Open(cache.Options{Dir: filepath.Join(t.TempDir(), "artifacts"), From: []cache.Remote{r}, Log: &log})
			if err != nil {
				t.Fatal(err)
			}
			if _, ok, err := c.Restore(ctx, e.Manifest.Key, filepath.Join(t.TempDir(), "debs")); ok || err != nil {
				t.Fatalf("restore of a corrupt entry: ok=%v err=%v", ok, err)
			}
		})
	}
	if err := r.Pull(ctx, e.Manifest.Key, t.TempDir()); err != nil {
		t.Fatalf("after repair: %v", err)
	}
}
