package oci

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/stx-build/stx-build/cache"
	"github.com/stx-build/stx-build/internal/atomicfile"
	"github.com/stx-build/stx-build/internal/regularfile"
)

// AnnotationSignature carries an entry's signature on its registry
// manifest: "ed25519 <key id> <base64 signature>". What is signed is
// signedPayload: the build key and the config blob's digest, and the
// config lists the digest of every file, so the signature covers every
// byte Pull writes.
const AnnotationSignature = "dev.stx-build.signature"

// ErrUntrusted says a registry entry is not signed by a trusted key.
var ErrUntrusted = errors.New("untrusted cache entry")

// maxKeyFile bounds a key file.
const maxKeyFile = 64 << 10

// signedPayload is what a signature signs.
func signedPayload(key cache.Key, config v1.Hash) []byte {
	return []byte("stx-build cache entry v1\nkey " + string(key) + "\nconfig " + config.String() + "\n")
}

// KeyID names a public key in signatures and messages: the first 16 hex
// digits of the sha256 of its PKIX encoding.
func KeyID(pub ed25519.PublicKey) string {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "invalid"
	}
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:8])
}

// sign returns the signature annotation of an entry.
func sign(priv ed25519.PrivateKey, key cache.Key, config v1.Hash) string {
	sig := ed25519.Sign(priv, signedPayload(key, config))
	return "ed25519 " + KeyID(priv.Public().(ed25519.PublicKey)) + " " + base64.StdEncoding.EncodeToString(sig)
}

// verify checks an entry's signature annotation against the trusted keys.
func verify(trusted []ed25519.PublicKey, annotation string, key cache.Key, config v1.Hash) error {
	if annotation == "" {
		return fmt.Errorf("%w: the entry is not signed, and trusted keys are configured (--cache-trust)", ErrUntrusted)
	}
	f := strings.Fields(annotation)
	if len(f) != 3 || f[0] != "ed25519" {
		return fmt.Errorf("%w: signature annotation %q is not \"ed25519 <key id> <signature>\"", ErrUntrusted, truncate(annotation, 80))
	}
	sig, err := base64.StdEncoding.DecodeString(f[2])
	if err != nil || len(sig) != ed25519.SignatureSize {
		return fmt.Errorf("%w: signature by key %s is malformed", ErrUntrusted, truncate(f[1], 20))
	}
	for _, pub := range trusted {
		if KeyID(pub) != f[1] {
			continue
		}
		if !ed25519.Verify(pub, signedPayload(key, config), sig) {
			return fmt.Errorf("%w: the signature by key %s does not match the entry (altered after signing)", ErrUntrusted, f[1])
		}
		return nil
	}
	return fmt.Errorf("%w: signed by key %s, which is not one of the trusted keys", ErrUntrusted, truncate(f[1], 20))
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// GenerateKey writes a new signing key pair: priv (PKCS #8 PEM, mode
// 0600) and pub (PKIX PEM), the formats of `openssl genpkey -algorithm
// ed25519` and `openssl pkey -pubout`. It returns the key id.
func GenerateKey(priv, pub string) (string, error) {
	pk, sk, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", err
	}
	skDER, err := x509.MarshalPKCS8PrivateKey(sk)
	if err != nil {
		return "", err
	}
	pkDER, err := x509.MarshalPKIXPublicKey(pk)
	if err != nil {
		return "", err
	}
	if _, err := os.Lstat(priv); err == nil {
		return "", fmt.Errorf("%s exists: not overwriting a key", priv)
	}
	if err := atomicfile.Write(priv, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: skDER}), 0o600); err != nil {
		return "", err
	}
	if err := atomicfile.Write(pub, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pkDER}), 0o644); err != nil {
		return "", err
	}
	return KeyID(pk), nil
}

// LoadPrivateKey reads an ed25519 private key (PKCS #8 PEM).
func LoadPrivateKey(path string) (ed25519.PrivateKey, error) {
	der, err := readPEM(path, "PRIVATE KEY")
	if err != nil {
		return nil, err
	}
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	sk, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%s: a %T, want an ed25519 key", path, k)
	}
	return sk, nil
}

// LoadPublicKey reads an ed25519 public key (PKIX PEM), or the public half
// of a private key file.
func LoadPublicKey(path string) (ed25519.PublicKey, error) {
	der, err := readPEM(path, "PUBLIC KEY")
	if err != nil {
		if sk, perr := LoadPrivateKey(path); perr == nil {
			return sk.Public().(ed25519.PublicKey), nil
		}
		return nil, err
	}
	k, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	pk, ok := k.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("%s: a %T, want an ed25519 key", path, k)
	}
	return pk, nil
}

func readPEM(path, typ string) ([]byte, error) {
	data, err := regularfile.Read(path, maxKeyFile)
	if err != nil {
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	b, _ := pem.Decode(data)
	if b == nil || b.Type != typ {
		return nil, fmt.Errorf("key file %s: no %q PEM block", path, typ)
	}
	return b.Bytes, nil
}

// LoadKeys sets o.SignKey from the private key file signKey (none when
// "") and adds the public keys of the files trusted to o.TrustedKeys.
func (o *Options) LoadKeys(signKey string, trusted []string) error {
	if signKey != "" {
		k, err := LoadPrivateKey(signKey)
		if err != nil {
			return fmt.Errorf("signing key: %w", err)
		}
		o.SignKey = k
	}
	for _, p := range trusted {
		k, err := LoadPublicKey(p)
		if err != nil {
			return fmt.Errorf("trusted key: %w", err)
		}
		o.TrustedKeys = append(o.TrustedKeys, k)
	}
	return nil
}
