package oci_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/stx-build/stx-build/cache"
	"github.com/stx-build/stx-build/cache/oci"
)

// tamperBlobs is an in-memory blob store that can serve altered blobs.
type tamperBlobs struct {
	mu     sync.Mutex
	blobs  map[string][]byte
	tamper map[string]func([]byte) []byte
}

func newTamperBlobs() *tamperBlobs {
	return &tamperBlobs{blobs: map[string][]byte{}, tamper: map[string]func([]byte) []byte{}}
}

func (b *tamperBlobs) Stat(_ context.Context, _ string, h v1.Hash) (int64, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	data, ok := b.blobs[h.String()]
	if !ok {
		return 0, registry.ErrNotFound
	}
	return int64(len(data)), nil
}

func (b *tamperBlobs) Get(_ context.Context, _ string, h v1.Hash) (io.ReadCloser, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	data, ok := b.blobs[h.String()]
	if !ok {
		return nil, registry.ErrNotFound
	}
	if f := b.tamper[h.String()]; f != nil {
		data = f(bytes.Clone(data))
	}
	return io.NopCloser(bytes.NewReader(data)), nil
}

func (b *tamperBlobs) Put(_ context.Context, _ string, h v1.Hash, rc io.ReadCloser) error {
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.blobs[h.String()] = data
	return nil
}

func (b *tamperBlobs) set(digest string, f func([]byte) []byte) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if f == nil {
		delete(b.tamper, digest)
		return
	}
	b.tamper[digest] = f
}

// startRegistry serves an in-process registry on 127.0.0.1 and returns the
// repository reference for the cache.
func startRegistry(t *testing.T, blobs *tamperBlobs) string {
	t.Helper()
	srv := httptest.NewServer(registry.New(registry.WithBlobHandler(blobs), registry.Logger(nopLogger())))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://") + "/stx/cache"
}

// entry stores a build with three artifacts in a new local store.
func entry(t *testing.T, pkg string) (*cache.Local, *cache.Entry) {
	t.Helper()
	l, err := cache.OpenLocal(filepath.Join(t.TempDir(), "artifacts"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := cache.NewBuild(pkg, "1.0", "amd64", []cache.Input{{Kind: cache.KindManifest, Name: "name", Value: pkg}})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var files []string
	for _, n := range []string{pkg + "_1.0_amd64.deb", pkg + "-dev_1.0_amd64.deb", pkg + "_1.0_amd64.buildinfo"} {
		p := filepath.Join(dir, n)
		content := strings.Repeat(n+"\n", 500)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, p)
	}
	e, err := l.Put(context.Background(), b, files)
	if err != nil {
		t.Fatal(err)
	}
	return l, e
}

func sameDir(t *testing.T, a, b string) {
	t.Helper()
	for _, dir := range []string{a, b} {
		if des, _ := os.ReadDir(dir); len(des) != 4 {
			t.Fatalf("%s has %d files", dir, len(des))
		}
	}
	des, _ := os.ReadDir(a)
	for _, de := range des {
		x, _ := os.ReadFile(filepath.Join(a, de.Name()))
		y, err := os.ReadFile(filepath.Join(b, de.Name()))
		if err != nil || !bytes.Equal(x, y) {
			t.Errorf("%s differs: %v", de.Name(), err)
		}
	}
}

func TestPushPull(t *testing.T) {
	ctx := context.Background()
	ref := startRegistry(t, newTamperBlobs())
	r, err := oci.New(ref, oci.Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, e := entry(t, "libstx")
	key := e.Manifest.Key
	if ok, err := r.Has(ctx, key); err != nil || ok {
		t.Fatalf("Has before push: %v %v", ok, err)
	}
	if err := r.Pull(ctx, key, t.TempDir()); !errors.Is(err, cache.ErrNotFound) {
		t.Fatalf("Pull before push: %v", err)
	}
	if err := r.Push(ctx, e); err != nil {
		t.Fatal(err)
	}
	if err := r.Push(ctx, e); err != nil { // already there: a no-op
		t.Fatal(err)
	}
	if ok, err := r.Has(ctx, key); err != nil || !ok {
		t.Fatalf("Has after push: %v %v", ok, err)
	}
	dir := t.TempDir()
	if err := r.Pull(ctx, key, dir); err != nil {
		t.Fatal(err)
	}
	sameDir(t, e.Dir, dir)

	// The artifact as other tools see it.
	tag, _ := name.NewTag(ref+":"+string(key), name.Insecure)
	desc, err := remote.Get(tag)
	if err != nil {
		t.Fatal(err)
	}
	var m v1.Manifest
	if err := json.Unmarshal(desc.Manifest, &m); err != nil {
		t.Fatal(err)
	}
	if m.ArtifactType != oci.ArtifactType || m.Config.MediaType != oci.ConfigMediaType || len(m.Layers) != 3 ||
		m.Annotations[oci.AnnotationPackage] != "libstx" || m.Annotations[oci.AnnotationKey] != string(key) {
		t.Errorf("manifest: %+v", m)
	}
	for i, l := range m.Layers {
		f := e.Manifest.Files[i]
		if l.Annotations[oci.AnnotationTitle] != f.Name || l.Digest.Hex != f.SHA256 {
			t.Errorf("layer %d: %+v", i, l)
		}
		want := oci.DebMediaType
		if strings.HasSuffix(f.Name, ".buildinfo") {
			want = oci.FileMediaType
		}
		if string(l.MediaType) != want {
			t.Errorf("layer %d media type %s", i, l.MediaType)
		}
	}
}

func TestPullRefusesTamperedEntries(t *testing.T) {
	ctx := context.Background()
	blobs := newTamperBlobs()
	ref := startRegistry(t, blobs)
	r, err := oci.New(ref, oci.Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, e := entry(t, "libstx")
	if err := r.Push(ctx, e); err != nil {
		t.Fatal(err)
	}
	deb := "sha256:" + e.Manifest.Files[2].SHA256 // libstx_1.0_amd64.deb
	tag, _ := name.NewTag(ref+":"+string(e.Manifest.Key), name.Insecure)
	desc, err := remote.Get(tag)
	if err != nil {
		t.Fatal(err)
	}
	var m v1.Manifest
	json.Unmarshal(desc.Manifest, &m)
	config := m.Config.Digest.String()

	// A truncated body is an unexpected EOF to the client (the registry
	// announced the full length): refused, but it could as well be the
	// network, so it need not say "corrupt".
	tests := []struct {
		name    string
		digest  string
		f       func([]byte) []byte
		corrupt bool
	}{
		{"flipped byte in a deb", deb, func(b []byte) []byte { b[100] ^= 1; return b }, true},
		{"truncated deb", deb, func(b []byte) []byte { return b[:len(b)/2] }, false},
		{"empty deb", deb, func(b []byte) []byte { return nil }, false},
		{"config with other digests", config, func(b []byte) []byte {
			return bytes.Replace(b, []byte(e.Manifest.Files[0].SHA256[:8]), []byte("00000000"), 1)
		}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			blobs.set(tc.digest, tc.f)
			defer blobs.set(tc.digest, nil)
			dir := t.TempDir()
			err := r.Pull(ctx, e.Manifest.Key, dir)
			if err == nil {
				t.Fatal("tampered entry pulled")
			}
			if tc.corrupt && !errors.Is(err, cache.ErrCorrupt) {
				t.Errorf("refused, but not as corrupt: %v", err)
			}
			if _, serr := os.Stat(filepath.Join(dir, cache.ManifestFile)); serr == nil {
				t.Error("manifest.json written for a refused entry")
			}
		})
	}
	// And once the registry serves the right bytes again, it pulls.
	if err := r.Pull(ctx, e.Manifest.Key, t.TempDir()); err != nil {
		t.Fatal(err)
	}
}

func TestPullRefusesForeignManifests(t *testing.T) {
	ctx := context.Background()
	ref := startRegistry(t, newTamperBlobs())
	r, err := oci.New(ref, oci.Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, e1 := entry(t, "libstx")
	_, e2 := entry(t, "other")
	if err := r.Push(ctx, e2); err != nil {
		t.Fatal(err)
	}
	// e2's artifact tagged with e1's key: its config names another key.
	src, _ := name.NewTag(ref+":"+string(e2.Manifest.Key), name.Insecure)
	dst, _ := name.NewTag(ref+":"+string(e1.Manifest.Key), name.Insecure)
	desc, err := remote.Get(src)
	if err != nil {
		t.Fatal(err)
	}
	img, _ := desc.Image()
	if err := remote.Write(dst, img); err != nil {
		t.Fatal(err)
	}
	if err := r.Pull(ctx, e1.Manifest.Key, t.TempDir()); !errors.Is(err, cache.ErrCorrupt) {
		t.Errorf("entry of another key: %v", err)
	}
	// A container image under a key's tag.
	_, e3 := entry(t, "third")
	rnd, _ := random.Image(100, 1)
	dst3, _ := name.NewTag(ref+":"+string(e3.Manifest.Key), name.Insecure)
	if err := remote.Write(dst3, rnd); err != nil {
		t.Fatal(err)
	}
	if err := r.Pull(ctx, e3.Manifest.Key, t.TempDir()); !errors.Is(err, cache.ErrCorrupt) {
		t.Errorf("container image: %v", err)
	}
}

func TestNewRefs(t *testing.T) {
	for ref, ok := range map[string]bool{
		"127.0.0.1:5000/stx/cache":            true,
		"localhost:5000/cache":                true,
		"registry.example.com/team/stx-cache": true,
		"127.0.0.1:5000/stx/cache:tag":        false,
		"127.0.0.1:5000/Upper":                false,
		"":                                    false,
	} {
		if _, err := oci.New(ref, oci.Options{}); (err == nil) != ok {
			t.Errorf("New(%q): %v", ref, err)
		}
	}
}

// TestCacheThroughRegistry is the cache's whole remote path: one machine
// builds and pushes, another with an empty local store restores from the
// registry; a tampered blob makes the restore a miss.
func TestCacheThroughRegistry(t *testing.T) {
	ctx := context.Background()
	blobs := newTamperBlobs()
	ref := startRegistry(t, blobs)
	r, err := oci.New(ref, oci.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// Machine A: build output stored with --cache-to.
	_, e := entry(t, "libstx")
	var files []string
	for _, f := range e.Manifest.Files {
		files = append(files, e.Path(f.Name))
	}
	a, err := cache.Open(cache.Options{Dir: filepath.Join(t.TempDir(), "a"), To: r})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Store(ctx, e.Manifest.Build, files); err != nil {
		t.Fatal(err)
	}

	restore := func(t *testing.T) (*cache.Restored, bool, string) {
		var log bytes.Buffer
		b, err := cache.Open(cache.Options{Dir: filepath.Join(t.TempDir(), "b"), From: []cache.Remote{r}, Log: &log})
		if err != nil {
			t.Fatal(err)
		}
		dest := filepath.Join(t.TempDir(), "debs", "libstx_1.0")
		res, ok, err := b.Restore(ctx, e.Manifest.Key, dest)
		if err != nil {
			t.Fatal(err)
		}
		return res, ok, log.String()
	}
	res, ok, log := restore(t)
	if !ok || res.From != ref || len(res.Files) != 3 {
		t.Fatalf("restore from the registry: %+v %v %s", res, ok, log)
	}
	for i, f := range res.Files {
		x, _ := os.ReadFile(f)
		y, _ := os.ReadFile(files[i])
		if !bytes.Equal(x, y) {
			t.Errorf("%s differs", f)
		}
	}

	blobs.set("sha256:"+e.Manifest.Files[0].SHA256, func(b []byte) []byte { b[0] ^= 0xff; return b })
	res, ok, log = restore(t)
	if ok {
		t.Fatalf("restored a tampered entry: %+v", res)
	}
	if !strings.Contains(log, "corrupt") {
		t.Errorf("log does not say why: %q", log)
	}
}

func nopLogger() *log.Logger { return log.New(io.Discard, "", 0) }
