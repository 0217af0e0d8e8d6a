package oci_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stx-build/stx-build/cache"
	"github.com/stx-build/stx-build/cache/oci"
	"github.com/stx-build/stx-build/internal/registrytest"
)

// TestDistributionRegistry pushes an entry to a real registry process,
// pulls it back, and checks that a corrupted or truncated blob in the
// registry's storage is refused.
func TestDistributionRegistry(t *testing.T) {
	reg := registrytest.Start(t)
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
	blob := reg.BlobFile(deb.SHA256)
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
