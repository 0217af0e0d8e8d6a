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

// stx-build fetch fills the store from the lock's archive paths on the
// project's mirror (checked); --offline downloads nothing and lists what
// the store lacks; a locked file the mirror no longer has names how to
// refresh the lock.
func TestFetchOffline(t *testing.T) {
	dir, lock := lockedProject(t)
	cache := t.TempDir()
	_, err := run(t, "--cache-dir", cache, "-C", dir, "fetch", "--offline")
	if err == nil || !strings.Contains(err.Error(), "lacks 2 of the 2 packages") || !strings.Contains(err.Error(), "stx-build fetch -C "+dir) ||
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
	// A locked version the mirror dropped and the store lacks.
	gone := "gamma 1.0 all 5 sha256:" + strings.Repeat("0", 64) + " pool/main/g/gamma/gamma_1.0_all.deb\n"
	if err := os.WriteFile(filepath.Join(dir, "stx.lock"), []byte(lock+gone), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := run(t, "--cache-dir", cache, "-C", dir, "fetch"); err == nil || !strings.Contains(err.Error(), "gamma_1.0_all.deb") || !strings.Contains(err.Error(), "stx-build lock --update -C "+dir) {
		t.Errorf("a version the mirror dropped: %v", err)
	}
}

// lockedProject is a project whose stx.lock names two packages on its
// file: mirror; it returns the project and the lock's text.
func lockedProject(t *testing.T) (dir, lock string) {
	t.Helper()
	dir, mirror := t.TempDir(), t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "packages"), 0o755); err != nil {
		t.Fatal(err)
	}
	project := "name: fetch-test\nsuite: bookworm\narchitectures: [amd64]\nmirror: file://" + mirror + "\n"
	if err := os.WriteFile(filepath.Join(dir, "stx.yaml"), []byte(project), 0o644); err != nil {
		t.Fatal(err)
	}
	lock = "stx-lock 2\n\n[bookworm amd64]\n"
	for _, name := range []string{"alpha", "beta"} {
		content := []byte("package " + name)
		path := "pool/main/" + name[:1] + "/" + name + "/" + name + "_1.0_all.deb"
		if err := os.MkdirAll(filepath.Dir(filepath.Join(mirror, path)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(mirror, path), content, 0o644); err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(content)
		lock += strings.Join([]string{name, "1:1.0", "all", strconv.Itoa(len(content)), "sha256:" + hex.EncodeToString(sum[:]), path}, " ") + "\n"
	}
	if err := os.WriteFile(filepath.Join(dir, "stx.lock"), []byte(lock), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, lock
}
