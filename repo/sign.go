package repo

import (
	"bytes"
	"context"
	"crypto"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
	"github.com/ProtonMail/go-crypto/openpgp/packet"

	"github.com/stx-build/stx-build/internal/atomicfile"
	"github.com/stx-build/stx-build/internal/flock"
	"github.com/stx-build/stx-build/internal/regularfile"
)

// Signer signs a repository's Release file (InRelease, clear-signed, and
// Release.gpg, detached) so that apt verifies the repository instead of
// trusting it (no [trusted=yes]): a consumer names the public keyring in
// its sources line (SourcesLine, signed-by=).
//
// Signatures are deterministic: an Ed25519 key (deterministic signatures,
// no salt notation) and the signature time taken from Options.Date
// (SOURCE_DATE_EPOCH), so the same packages and key give the same bytes.
type Signer struct {
	entity  *openpgp.Entity
	keyring []byte // the public key, binary (what signed-by reads)
}

// Files of a signing key directory (OpenSigner).
const (
	secretKeyFile = "repo-signing.asc" // armored secret key, mode 0600
	keyLockFile   = ".lock"
	// KeyringFile is the public keyring, in the key directory's public/
	// subdirectory (KeyringPath): a directory that holds nothing secret,
	// so a sandbox can mount it.
	KeyringFile = "repo-signing.gpg"
)

// KeyringPath is the public keyring of the key directory dir.
func KeyringPath(dir string) string { return filepath.Join(dir, "public", KeyringFile) }

// keyEpoch is the creation time of generated keys: before any
// SOURCE_DATE_EPOCH a project uses, so that no signature predates its key.
var keyEpoch = time.Unix(86400, 0).UTC()

// maxKeySize bounds a key file read.
const maxKeySize = 1 << 20

func signConfig(now time.Time) *packet.Config {
	no := false
	return &packet.Config{
		Algorithm:                             packet.PubKeyAlgoEdDSA,
		DefaultHash:                           crypto.SHA256,
		Time:                                  func() time.Time { return now },
		NonDeterministicSignaturesViaNotation: &no,
	}
}

// OpenSigner returns the signer of the key in dir (KeyDir), generating a
// throwaway key there the first time (an Ed25519 key that only this cache
// holds; concurrent runs share it). A key a project configures is read
// with LoadSigner instead.
func OpenSigner(ctx context.Context, dir string) (*Signer, error) {
	// The directory is world-readable: apt verifies as _apt, which must
	// reach public/; the secret key file itself is 0600.
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("repository signing key: %w", err)
	}
	unlock, err := flock.LockPath(ctx, filepath.Join(dir, keyLockFile), flock.Exclusive)
	if err != nil {
		return nil, fmt.Errorf("repository signing key: %w", err)
	}
	defer unlock()
	secret := filepath.Join(dir, secretKeyFile)
	if _, err := os.Lstat(secret); errors.Is(err, os.ErrNotExist) {
		if err := generateKey(secret); err != nil {
			return nil, fmt.Errorf("repository signing key: %w", err)
		}
	}
	s, err := LoadSigner(secret)
	if err != nil {
		return nil, err
	}
	if err := s.WriteKeyring(KeyringPath(dir)); err != nil {
		return nil, fmt.Errorf("repository signing key: %w", err)
	}
	return s, nil
}

func generateKey(path string) error {
	e, err := openpgp.NewEntity("stx-build local repository", "throwaway key of one cache", "stx-build@localhost", signConfig(keyEpoch))
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	w, err := armor.Encode(&buf, openpgp.PrivateKeyType, nil)
	if err != nil {
		return err
	}
	if err := e.SerializePrivate(w, signConfig(keyEpoch)); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return atomicfile.Write(path, buf.Bytes(), 0o600)
}

// LoadSigner reads an OpenPGP secret key (armored or binary, without a
// passphrase: `gpg --export-secret-keys --armor KEYID`); its first key
// signs.
func LoadSigner(path string) (*Signer, error) {
	data, err := regularfile.Read(path, maxKeySize)
	if err != nil {
		return nil, fmt.Errorf("repository signing key %s: %w", path, err)
	}
	var el openpgp.EntityList
	if bytes.HasPrefix(bytes.TrimSpace(data), []byte("-----BEGIN")) {
		el, err = openpgp.ReadArmoredKeyRing(bytes.NewReader(data))
	} else {
		el, err = openpgp.ReadKeyRing(bytes.NewReader(data))
	}
	if err != nil {
		return nil, fmt.Errorf("repository signing key %s: %w", path, err)
	}
	if len(el) == 0 || el[0].PrivateKey == nil {
		return nil, fmt.Errorf("repository signing key %s: no secret key", path)
	}
	if el[0].PrivateKey.Encrypted {
		return nil, fmt.Errorf("repository signing key %s: the key has a passphrase; export one without", path)
	}
	var pub bytes.Buffer
	if err := el[0].Serialize(&pub); err != nil {
		return nil, fmt.Errorf("repository signing key %s: %w", path, err)
	}
	return &Signer{entity: el[0], keyring: pub.Bytes()}, nil
}

// String names the key in messages: its fingerprint, or "no key".
func (s *Signer) String() string {
	if s == nil {
		return "no key"
	}
	return s.Fingerprint()
}

// Fingerprint is the signing key's fingerprint (hex).
func (s *Signer) Fingerprint() string { return fmt.Sprintf("%X", s.entity.PrimaryKey.Fingerprint) }

// Keyring is the public key as a binary OpenPGP keyring.
func (s *Signer) Keyring() []byte { return bytes.Clone(s.keyring) }

// WriteKeyring writes the public keyring to path unless it holds it.
func (s *Signer) WriteKeyring(path string) error {
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, s.keyring) {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return atomicfile.Write(path, s.keyring, 0o644)
}

// sign returns InRelease and Release.gpg for release, signed at date.
func (s *Signer) sign(release []byte, date time.Time) (inRelease, detached []byte, err error) {
	// No signature predates its key (the empty skeleton's Release is
	// dated 1970-01-01): such a Release is signed at the key's creation.
	if created := s.entity.PrimaryKey.CreationTime; date.Before(created) {
		date = created
	}
	cfg := signConfig(date)
	var in bytes.Buffer
	w, err := clearsign.Encode(&in, s.entity.PrivateKey, cfg)
	if err != nil {
		return nil, nil, err
	}
	if _, err := w.Write(release); err != nil {
		return nil, nil, err
	}
	if err := w.Close(); err != nil {
		return nil, nil, err
	}
	var det bytes.Buffer
	if err := openpgp.ArmoredDetachSign(&det, s.entity, bytes.NewReader(release), cfg); err != nil {
		return nil, nil, err
	}
	return in.Bytes(), det.Bytes(), nil
}

// signDists adds InRelease and Release.gpg beside the Release in files.
func signDists(s *Signer, files []distFile, date time.Time) ([]distFile, error) {
	for _, f := range files {
		if f.path != suite+"/Release" {
			continue
		}
		in, det, err := s.sign(f.data, date)
		if err != nil {
			return nil, fmt.Errorf("sign Release: %w", err)
		}
		return append(files, distFile{suite + "/InRelease", in}, distFile{suite + "/Release.gpg", det}), nil
	}
	return files, nil
}

// EnsureSigned makes the live indexes signed by s: a repository published
// unsigned, or signed with another key, gets a new generation with the
// same indexes and s's signatures, dated with its Release's Date. A
// repository signed by s already is left alone. Image and ISO roots call
// it before they verify a repository a package build made earlier.
func (r *Repo) EnsureSigned(ctx context.Context, s *Signer) error {
	unlock, err := r.lock(ctx, lockExclusive)
	if err != nil {
		return fmt.Errorf("repo %s: sign: %w", r.dir, err)
	}
	defer unlock()
	live, err := r.liveGen()
	if err != nil {
		return err
	}
	gen := r.path(genName(live))
	var files []distFile
	var date time.Time
	err = filepath.WalkDir(gen, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(gen, p)
		rel = filepath.ToSlash(rel)
		if rel == suite+"/InRelease" || rel == suite+"/Release.gpg" {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if rel == suite+"/Release" {
			if date, err = releaseFileDate(data); err != nil {
				return fmt.Errorf("%s: %w", p, err)
			}
		}
		files = append(files, distFile{rel, data})
		return nil
	})
	if err != nil {
		return fmt.Errorf("repo %s: sign: %w", r.dir, err)
	}
	if date.IsZero() {
		return fmt.Errorf("repo %s: sign: no Release in %s", r.dir, gen)
	}
	if files, err = signDists(s, files, date); err != nil {
		return fmt.Errorf("repo %s: %w", r.dir, err)
	}
	if r.liveHolds(live, files) {
		return nil
	}
	if err := r.writeGen(live+1, files); err != nil {
		return fmt.Errorf("repo %s: sign: %w", r.dir, err)
	}
	if err := r.swap(live + 1); err != nil {
		return fmt.Errorf("repo %s: sign: %w", r.dir, err)
	}
	return os.RemoveAll(gen)
}

// releaseFileDate reads the Date field of a Release file.
func releaseFileDate(release []byte) (time.Time, error) {
	for _, line := range strings.Split(string(release), "\n") {
		if v, ok := strings.CutPrefix(line, "Date: "); ok {
			return time.Parse(releaseDate, strings.TrimSpace(v))
		}
	}
	return time.Time{}, errors.New("no Date field")
}
