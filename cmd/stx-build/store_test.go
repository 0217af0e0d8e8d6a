package main

import (
	"io"
	"log"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/registry"
)

// stx-build store push uploads the store's locked files to a registry;
// store pull fills another cache's store from it, after which the
// project's packages are all there for --offline.
func TestStorePushPull(t *testing.T) {
	dir, _ := lockedProject(t)
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	ref := strings.TrimPrefix(srv.URL, "http://") + "/stx/store:test"
	cache, other := t.TempDir(), t.TempDir()

	if _, err := run(t, "--cache-dir", cache, "-C", dir, "store", "push", ref); err == nil || !strings.Contains(err.Error(), "stx-build fetch") {
		t.Fatalf("push from an empty store: %v", err)
	}
	if _, err := run(t, "--cache-dir", cache, "-C", dir, "fetch"); err != nil {
		t.Fatal(err)
	}
	if out, err := run(t, "--cache-dir", cache, "-C", dir, "store", "push", ref); err != nil || !strings.Contains(out, "pushed "+ref+"@sha256:") {
		t.Fatalf("push: %q %v", out, err)
	}
	if out, err := run(t, "--cache-dir", other, "-C", dir, "store", "pull", ref); err != nil || !strings.Contains(out, "2 packages in ") || !strings.Contains(out, "(2 pulled") {
		t.Fatalf("pull: %q %v", out, err)
	}
	if out, err := run(t, "--cache-dir", other, "-C", dir, "--offline", "fetch"); err != nil || !strings.Contains(out, "all 2 packages") {
		t.Fatalf("--offline after pull: %q %v", out, err)
	}
}
