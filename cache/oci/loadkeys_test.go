package oci

import (
	"crypto/ed25519"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadKeys(t *testing.T) {
	dir := t.TempDir()
	prefix := filepath.Join(dir, "cache")
	if _, err := GenerateKey(prefix+".key", prefix+".pub"); err != nil {
		t.Fatal(err)
	}
	var o Options
	if err := o.LoadKeys(prefix+".key", []string{prefix + ".pub", prefix + ".key"}); err != nil {
		t.Fatal(err)
	}
	if o.SignKey == nil || len(o.TrustedKeys) != 2 || !o.SignKey.Public().(ed25519.PublicKey).Equal(o.TrustedKeys[0]) || !o.TrustedKeys[0].Equal(o.TrustedKeys[1]) {
		t.Errorf("keys %+v", o)
	}
	var none Options
	if err := none.LoadKeys("", nil); err != nil || none.SignKey != nil || none.TrustedKeys != nil {
		t.Errorf("no keys: %+v, %v", none, err)
	}
	if err := os.WriteFile(filepath.Join(dir, "bad.pub"), []byte("not a key"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		sign  string
		trust []string
		want  string
	}{
		{filepath.Join(dir, "missing.key"), nil, "signing key: "},
		{prefix + ".pub", nil, "signing key: "},
		{"", []string{filepath.Join(dir, "bad.pub")}, "trusted key: "},
	} {
		var o Options
		if err := o.LoadKeys(tc.sign, tc.trust); err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("LoadKeys(%q, %q): %v, want %q...", tc.sign, tc.trust, err, tc.want)
		}
	}
}
