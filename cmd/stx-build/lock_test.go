package main

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// stx-build fetch fills the store from the lock's URLs (checked);
// --offline downloads nothing and lists what the store lacks.
func TestFetchOffline(t *testing.T) {
	dir, cache, pool := t.TempDir(), t.TempDir(), t.TempDir()
	lock := "stx-lock 1\n\n[bookworm amd64]\n"
	for _, name := range []string{"alpha", "beta"} {
		content := []byte("package " + name)
		file := filepath.Join(pool, name+"_1.0_all.deb")
		if err := os.WriteFile(file, content, 0o644); err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(content)
		lock += strings.Join([]string{name, "1:1.0", "all", strconv.Itoa(len(content)), "sha256:" + hex.EncodeToString(sum[:]), "file://" + file}, " ") + "\n"
	}
	if err := os.WriteFile(filepath.Join(dir, "stx.lock"), []byte(lock), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := run(t, "--cache-dir", cache, "-C", dir, "fetch", "--offline")
	if err == nil || !strings.Contains(err.Error(), "lacks 2 of the 2 packages") ||
		!strings.Contains(err.Error(), "alpha_1%3a1.0_all.deb") || !strings.Contains(err.Error(), "beta_1%3a1.0_all.deb") {
		t.Fatalf("--offline with an empty store: %v", err)
	}
	if out, err := run(t, "--cache-dir", cache, "-C", dir, "fetch"); err != nil || !strings.Contains(out, "2 packages in ") {
		t.Fatalf("fetch: %q %v", out, err)
	}
	if out, err := run(t, "--cache-dir", cache, "-C", dir, "fetch", "--offline"); err != nil || !strings.Contains(out, "all 2 packages") {
		t.Fatalf("--offline after fetch: %q %v", out, err)
	}
	if _, err := run(t, "--cache-dir", cache, "-C", t.TempDir(), "fetch"); err == nil || !strings.Contains(err.Error(), "no lock") {
		t.Errorf("no lock: %v", err)
	}
}
