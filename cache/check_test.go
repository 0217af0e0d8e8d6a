package cache

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// claimCheck is a content check like the deb one: every file must say
// (in its first bytes) that it belongs to the build's package.
func claimCheck(_ context.Context, b Build, files []string) error {
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		if !bytes.HasPrefix(data, []byte(b.Package)) {
			return fmt.Errorf("%s does not belong to %s", filepath.Base(f), b.Package)
		}
	}
	return nil
}

func TestCheckRefusesSwappedEntry(t *testing.T) {
	ctx := context.Background()
	var log bytes.Buffer
	c, err := Open(Options{Dir: filepath.Join(t.TempDir(), "artifacts"), Check: claimCheck, Log: &log})
	if err != nil {
		t.Fatal(err)
	}
	b := testBuild(t, "stx-bootmarker", "x")
	// A build whose outputs claim another package is never stored.
	if _, err := c.Store(ctx, b, artifacts(t, "tiny", "x")); err == nil || !strings.Contains(err.Error(), "refused to store") {
		t.Fatalf("store of another package's files: err = %v", err)
	}
	e, err := c.Store(ctx, b, artifacts(t, "stx-bootmarker", "x"))
	if err != nil {
		t.Fatal(err)
	}
	// Swap one file for another package's and re-hash the manifest, as an
	// attacker with write access to the store would.
	name := "stx-bootmarker_1.0_amd64.deb"
	evil := []byte("tiny_1.0_amd64.deb:evil")
	if err := os.WriteFile(e.Path(name), evil, 0o644); err != nil {
		t.Fatal(err)
	}
	m := *e.Manifest
	m.Files = append([]File(nil), m.Files...)
	for i := range m.Files {
		if m.Files[i].Name == name {
			sum := sha256.Sum256(evil)
			m.Files[i].SHA256, m.Files[i].Size = hex.EncodeToString(sum[:]), int64(len(evil))
		}
	}
	if err := writeManifest(e.Dir, &m); err != nil {
		t.Fatal(err)
	}
	dest := filepath.Join(t.TempDir(), "out")
	if _, ok, err := c.Restore(ctx, b.Key, dest); err != nil || ok {
		t.Fatalf("restore of a swapped entry: ok=%v err=%v", ok, err)
	}
	if !strings.Contains(log.String(), "does not belong to stx-bootmarker") || !strings.Contains(log.String(), "entry removed") {
		t.Errorf("log does not say why: %q", log.String())
	}
	if _, err := os.Stat(dest); !os.IsNotExist(err) {
		t.Errorf("the swapped files reached the destination: %v", err)
	}
	if _, err := c.Local().Get(ctx, b.Key); err == nil {
		t.Error("the swapped entry is still in the store")
	}
}
