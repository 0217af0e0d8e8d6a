package oci

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/stx-build/stx-build/cache"
)

func TestVerifySignature(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	key := cache.Key(strings.Repeat("a", 64))
	other := cache.Key(strings.Repeat("b", 64))
	cfg := v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("c", 64)}
	cfg2 := v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("d", 64)}
	good := sign(priv, key, cfg)
	trusted := []ed25519.PublicKey{pub}
	for _, tc := range []struct {
		name, ann string
		key       cache.Key
		cfg       v1.Hash
		want      string
	}{
		{"good", good, key, cfg, ""},
		{"copied onto another key", good, other, cfg, "does not match the entry"},
		{"copied onto other files", good, key, cfg2, "does not match the entry"},
		{"unsigned", "", key, cfg, "not signed"},
		{"garbage", "rsa x y", key, cfg, "is not"},
		{"bad base64", "ed25519 " + KeyID(pub) + " !!!", key, cfg, "malformed"},
	} {
		err := verify(trusted, tc.ann, tc.key, tc.cfg)
		if tc.want == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
			continue
		}
		if !errors.Is(err, ErrUntrusted) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
		}
	}
}
