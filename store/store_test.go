package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

func item(name, content, url string) Item {
	sum := sha256.Sum256([]byte(content))
	return Item{Name: name, URL: url, SHA256: hex.EncodeToString(sum[:]), Size: int64(len(content))}
}

func TestFetchVerifiesAndShares(t *testing.T) {
	files := map[string]string{"/a.deb": "package a", "/b.deb": "package b", "/evil.deb": "not what the index says"}
	var gets atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gets.Add(1)
		c, ok := files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte(c))
	}))
	defer srv.Close()
	s := New(t.TempDir())
	ctx := context.Background()
	a, b := item("a_1_all.deb", "package a", srv.URL+"/a.deb"), item("b_1_all.deb", "package b", srv.URL+"/b.deb")

	// Concurrent runs fetching the same files end with one copy each.
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.FetchAll(ctx, []Item{a, b}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	for _, it := range []Item{a, b} {
		data, err := os.ReadFile(s.Path(it.SHA256))
		if err != nil || sha256hex(data) != it.SHA256 {
			t.Errorf("%s: %v", it.Name, err)
		}
	}
	if m := s.Missing([]Item{a, b}); len(m) != 0 {
		t.Errorf("missing after fetch: %v", m)
	}
	before := gets.Load()
	if _, err := s.FetchAll(ctx, []Item{a, b}); err != nil || gets.Load() != before {
		t.Errorf("second fetch went to the server (%d -> %d, %v)", before, gets.Load(), err)
	}

	// Content that does not match the index never enters the store.
	evil := item("evil_1_all.deb", "what the index says", srv.URL+"/evil.deb")
	evil.Size = int64(len(files["/evil.deb"]))
	missing := item("gone_1_all.deb", "x", srv.URL+"/gone.deb")
	_, err := s.FetchAll(ctx, []Item{a, evil, missing})
	if err == nil || !strings.Contains(err.Error(), "evil_1_all.deb") || !strings.Contains(err.Error(), "sha256") ||
		!strings.Contains(err.Error(), "gone_1_all.deb") || !strings.Contains(err.Error(), "404") {
		t.Errorf("want both failures named, got %v", err)
	}
	if _, err := os.Stat(s.Path(evil.SHA256)); err == nil {
		t.Error("a file with the wrong digest is in the store")
	}
	left, _ := filepath.Glob(filepath.Join(s.Dir, "sha256", "*", ".tmp-*"))
	if len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}

	dir := filepath.Join(t.TempDir(), "farm")
	if err := s.Link([]Item{a, b}, dir); err != nil {
		t.Fatal(err)
	}
	if data, err := os.ReadFile(filepath.Join(dir, a.Name)); err != nil || string(data) != "package a" {
		t.Errorf("link farm: %q %v", data, err)
	}
	if err := s.Link([]Item{{Name: "../x", SHA256: a.SHA256}}, dir); err == nil {
		t.Error("a name with a path was linked")
	}
}

func TestFetchRejectsBadDigest(t *testing.T) {
	s := New(t.TempDir())
	for _, sum := range []string{"", "abc", strings.Repeat("A", 64), strings.Repeat("g", 64)} {
		if _, err := s.Fetch(context.Background(), Item{Name: "x", URL: "file:///dev/null", SHA256: sum}); err == nil {
			t.Errorf("sha256 %q accepted", sum)
		}
	}
}

func sha256hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// An item without a URL is fetched by its archive path from the first
// mirror that has it; a file no mirror has any more says so.
func TestFetchFromMirrors(t *testing.T) {
	serve := func(files map[string]string) *httptest.Server {
		return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c, ok := files[r.URL.Path]
			if !ok {
				http.NotFound(w, r)
				return
			}
			w.Write([]byte(c))
		}))
	}
	security := serve(map[string]string{"/debian-security/pool/updates/main/z/z.deb": "z fixed"})
	defer security.Close()
	archive := serve(map[string]string{"/debian/pool/main/a/a.deb": "package a"})
	defer archive.Close()
	s := New(t.TempDir())
	s.Mirrors = []string{archive.URL + "/debian", security.URL + "/debian-security/"}
	a, z := item("a_1_all.deb", "package a", ""), item("z_1_all.deb", "z fixed", "")
	a.Path, z.Path = "pool/main/a/a.deb", "pool/updates/main/z/z.deb"
	if _, err := s.FetchAll(context.Background(), []Item{a, z}); err != nil {
		t.Fatal(err)
	}
	if m := s.Missing([]Item{a, z}); len(m) != 0 {
		t.Errorf("missing after fetch: %v", m)
	}
	gone := item("gone_1_all.deb", "dropped", "")
	gone.Path = "pool/main/g/gone.deb"
	_, err := s.Fetch(context.Background(), gone)
	if !errors.Is(err, ErrNotOnMirror) || !strings.Contains(err.Error(), "pool/main/g/gone.deb") {
		t.Errorf("a file no mirror has: %v", err)
	}
	s.Mirrors = nil
	if _, err := s.Fetch(context.Background(), gone); err == nil || !strings.Contains(err.Error(), "no mirror") {
		t.Errorf("no mirrors: %v", err)
	}
}
