package oci_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/stx-build/stx-build/store"
	"github.com/stx-build/stx-build/store/oci"
)

// blobs is an in-memory blob store that can serve an altered blob.
type blobs struct {
	mu     sync.Mutex
	data   map[string][]byte
	tamper string // digest served with a flipped byte
}

func (b *blobs) Stat(_ context.Context, _ string, h v1.Hash) (int64, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	d, ok := b.data[h.String()]
	if !ok {
		return 0, registry.ErrNotFound
	}
	return int64(len(d)), nil
}

func (b *blobs) Get(_ context.Context, _ string, h v1.Hash) (io.ReadCloser, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	d, ok := b.data[h.String()]
	if !ok {
		return nil, registry.ErrNotFound
	}
	if h.String() == b.tamper {
		d = bytes.Clone(d)
		d[0] ^= 1
	}
	return io.NopCloser(bytes.NewReader(d)), nil
}

func (b *blobs) Put(_ context.Context, _ string, h v1.Hash, rc io.ReadCloser) error {
	defer rc.Close()
	d, err := io.ReadAll(rc)
	if err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.data[h.String()] = d
	return nil
}

// counts counts the blob uploads (POST .../blobs/uploads/) and blob
// downloads (GET .../blobs/sha256:...) the registry served.
type counts struct{ uploads, downloads atomic.Int32 }

// startRegistry serves an in-process registry on 127.0.0.1 and returns a
// tagged reference in it.
func startRegistry(t *testing.T, b *blobs, c *counts) string {
	t.Helper()
	reg := registry.New(registry.WithBlobHandler(b), registry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodPost && strings.Contains(r.URL.Path, "/blobs/uploads/"):
			c.uploads.Add(1)
		case r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/sha256:"):
			c.downloads.Add(1)
		}
		reg.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://") + "/stx/store:release-1"
}

// lockedStore is a lock of three packages (one arch:all in both sets)
// and a store holding their files.
func lockedStore(t *testing.T) (*store.Lock, []byte, *store.Store) {
	t.Helper()
	l := &store.Lock{}
	st := store.New(t.TempDir())
	add := func(arch, name, pkgArch string) {
		content := strings.Repeat(name+" "+pkgArch+"\n", 300)
		sum := sha256.Sum256([]byte(content))
		p := store.LockedPackage{Name: name, Version: "1.0-1", Arch: pkgArch, Size: int64(len(content)),
			SHA256: hex.EncodeToString(sum[:]), Path: "pool/main/" + name[:1] + "/" + name + "/" + store.DebFileName(name, "1.0-1", pkgArch)}
		l.Set("bookworm", arch).Add(p)
		if _, err := st.Put(p.Item(), strings.NewReader(content)); err != nil {
			t.Fatal(err)
		}
	}
	add("amd64", "alpha", "amd64")
	add("amd64", "beta", "all")
	add("arm64", "beta", "all")
	add("arm64", "alpha", "arm64")
	text := l.Marshal()
	lock, err := store.ParseLock(store.LockFile, bytes.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	return lock, text, st
}

func TestPushPull(t *testing.T) {
	ctx := context.Background()
	b := &blobs{data: map[string][]byte{}}
	var c counts
	ref := startRegistry(t, b, &c)
	lock, text, st := lockedStore(t)
	items := lock.Items()
	if len(items) != 3 {
		t.Fatalf("%d items, want 3", len(items))
	}

	// The first push uploads the config and the three files; the second
	// finds every blob there and uploads nothing.
	d1, err := oci.Push(ctx, ref, st, text, oci.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if n := c.uploads.Load(); n != 4 {
		t.Errorf("first push: %d blob uploads, want 4 (the lock and three files)", n)
	}
	d2, err := oci.Push(ctx, ref, st, text, oci.Options{})
	if err != nil || d2 != d1 {
		t.Fatalf("second push: %v, %s (first %s)", err, d2, d1)
	}
	if n := c.uploads.Load(); n != 4 {
		t.Errorf("second push uploaded %d blobs again", n-4)
	}

	// A store with one of the files pulls the other two, checked.
	other := store.New(t.TempDir())
	first, _ := os.ReadFile(st.Path(items[0].SHA256))
	if _, err := other.Put(items[0], bytes.NewReader(first)); err != nil {
		t.Fatal(err)
	}
	res, err := oci.Pull(ctx, ref, other, lock, oci.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Present != 1 || res.Fetched != 2 || c.downloads.Load() != 2 {
		t.Errorf("pull: %+v, %d blob downloads; want 1 present, 2 fetched and downloaded", res, c.downloads.Load())
	}
	if m := other.Missing(items); len(m) != 0 {
		t.Errorf("after pull the store lacks %v", m)
	}
	// Everything there: nothing is asked of the registry.
	if res, err := oci.Pull(ctx, ref, other, lock, oci.Options{}); err != nil || res.Fetched != 0 || res.Present != 3 {
		t.Errorf("second pull: %+v, %v", res, err)
	}
}

func TestPullRefuses(t *testing.T) {
	ctx := context.Background()
	b := &blobs{data: map[string][]byte{}}
	var c counts
	ref := startRegistry(t, b, &c)
	lock, text, st := lockedStore(t)
	if _, err := oci.Push(ctx, ref, st, text, oci.Options{}); err != nil {
		t.Fatal(err)
	}
	items := lock.Items()

	// A blob altered in the registry is not stored.
	b.tamper = "sha256:" + items[1].SHA256
	empty := store.New(t.TempDir())
	res, err := oci.Pull(ctx, ref, empty, lock, oci.Options{})
	if err == nil || res.Fetched != 2 {
		t.Fatalf("pull of a tampered blob: %+v, %v; want an error and the two others fetched", res, err)
	}
	if empty.Has(items[1]) {
		t.Error("the tampered file was stored")
	}
	t.Log(err)

	// A lock naming a file the artifact does not hold: the error names it.
	extra := &store.Lock{}
	extra.Set("bookworm", "amd64").Add(store.LockedPackage{Name: "gamma", Version: "1", Arch: "all", Size: 3,
		SHA256: strings.Repeat("ab", 32), Path: "pool/main/g/gamma/gamma_1_all.deb"})
	if _, err := oci.Pull(ctx, ref, empty, extra, oci.Options{}); err == nil || !strings.Contains(err.Error(), "gamma_1_all.deb") {
		t.Errorf("pull of a file the artifact lacks: %v", err)
	}

	// Pushing from a store that lacks a file fails before uploading.
	if _, err := oci.Push(ctx, ref, empty, text, oci.Options{}); err == nil || !strings.Contains(err.Error(), "stx-build fetch") {
		t.Errorf("push from an incomplete store: %v", err)
	}
}
