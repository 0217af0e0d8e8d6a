package sources

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
)

func TestFetchURL(t *testing.T) {
	body := []byte("tarball bytes")
	sha := sha256.Sum256(body)
	m5 := md5.Sum(body)
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if r.URL.Path == "/missing" {
			http.NotFound(w, r)
			return
		}
		w.Write(body)
	}))
	defer srv.Close()
	f := &Fetcher{CacheDir: t.TempDir()}
	ctx := context.Background()

	p, err := f.FetchURL(ctx, Download{URL: srv.URL + "/a.tar.gz", SHA256: hex.EncodeToString(sha[:])})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(p); string(got) != string(body) {
		t.Fatalf("content %q", got)
	}
	// Same checksum, another URL: served from the cache.
	if _, err := f.FetchURL(ctx, Download{URL: srv.URL + "/elsewhere.tar.gz", SHA256: hex.EncodeToString(sha[:])}); err != nil || hits.Load() != 1 {
		t.Errorf("second fetch: %v, %d requests (want 1: cached by checksum)", err, hits.Load())
	}
	if _, err := f.FetchURL(ctx, Download{URL: srv.URL + "/b", MD5: hex.EncodeToString(m5[:])}); err != nil {
		t.Errorf("md5: %v", err)
	}
	wrong := strings.Repeat("0", 64)
	if _, err := f.FetchURL(ctx, Download{URL: srv.URL + "/c", SHA256: wrong}); err == nil || !strings.Contains(err.Error(), "want "+wrong) {
		t.Errorf("wrong checksum: %v", err)
	}
	if _, err := f.FetchURL(ctx, Download{URL: srv.URL + "/missing", SHA256: wrong}); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("missing: %v", err)
	}
	if _, err := f.FetchURL(ctx, Download{URL: "http://127.0.0.1:1/x", SHA256: wrong}); err == nil {
		t.Error("unreachable URL: no error")
	}
	if _, err := f.FetchURL(ctx, Download{URL: srv.URL + "/a"}); err == nil {
		t.Error("no checksum: no error")
	}
}
