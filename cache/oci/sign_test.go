package oci_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stx-build/stx-build/cache"
	"github.com/stx-build/stx-build/cache/oci"
)

func genKey(t *testing.T, name string) (ed25519.PrivateKey, ed25519.PublicKey) {
	t.Helper()
	dir := t.TempDir()
	id, err := oci.GenerateKey(filepath.Join(dir, name+".key"), filepath.Join(dir, name+".pub"))
	if err != nil {
		t.Fatal(err)
	}
	sk, err := oci.LoadPrivateKey(filepath.Join(dir, name+".key"))
	if err != nil {
		t.Fatal(err)
	}
	pk, err := oci.LoadPublicKey(filepath.Join(dir, name+".pub"))
	if err != nil {
		t.Fatal(err)
	}
	if oci.KeyID(pk) != id || !pk.Equal(sk.Public()) {
		t.Fatal("loaded keys do not match the generated pair")
	}
	return sk, pk
}

func TestSignedEntries(t *testing.T) {
	ctx := context.Background()
	ref := startRegistry(t, newTamperBlobs())
	ours, ourPub := genKey(t, "ours")
	theirs, _ := genKey(t, "theirs")
	push := func(pkg string, key ed25519.PrivateKey) cache.Key {
		r, err := oci.New(ref, oci.Options{SignKey: key})
		if err != nil {
			t.Fatal(err)
		}
		_, e := entry(t, pkg)
		if err := r.Push(ctx, e); err != nil {
			t.Fatal(err)
		}
		return e.Manifest.Key
	}
	signed := push("signed", ours)
	unsigned := push("unsigned", nil)
	foreign := push("foreign", theirs)

	puller, err := oci.New(ref, oci.Options{TrustedKeys: []ed25519.PublicKey{ourPub}})
	if err != nil {
		t.Fatal(err)
	}
	if err := puller.Pull(ctx, signed, t.TempDir()); err != nil {
		t.Fatalf("entry signed by a trusted key refused: %v", err)
	}
	for _, tc := range []struct {
		name string
		key  cache.Key
		want string
	}{
		{"unsigned", unsigned, "not signed"},
		{"signed by another key", foreign, "not one of the trusted keys"},
	} {
		err := puller.Pull(ctx, tc.key, t.TempDir())
		if !errors.Is(err, oci.ErrUntrusted) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want ErrUntrusted saying %q", tc.name, err, tc.want)
		}
	}
	// Without trusted keys every well-formed entry is accepted, as before.
	open, _ := oci.New(ref, oci.Options{})
	if err := open.Pull(ctx, unsigned, t.TempDir()); err != nil {
		t.Errorf("no trusted keys configured: %v", err)
	}
}
