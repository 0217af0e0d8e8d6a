package repo

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestSignDeterministic(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenSigner(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	again, err := OpenSigner(context.Background(), dir) // the same key, not a new one
	if err != nil {
		t.Fatal(err)
	}
	if s.Fingerprint() != again.Fingerprint() {
		t.Fatalf("second open made a new key: %s, %s", s.Fingerprint(), again.Fingerprint())
	}
	if fi, err := os.Stat(filepath.Join(dir, secretKeyFile)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("secret key file: %v %v", fi, err)
	}
	release := []byte("Origin: stx-build\nSuite: stx\n")
	in1, det1, err := s.sign(release, testDate)
	if err != nil {
		t.Fatal(err)
	}
	in2, det2, _ := again.sign(release, testDate)
	if !bytes.Equal(in1, in2) || !bytes.Equal(det1, det2) {
		t.Error("signing the same Release twice gave different bytes")
	}
	if !bytes.Contains(in1, release) || !bytes.HasPrefix(in1, []byte("-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n")) {
		t.Errorf("InRelease:\n%s", in1)
	}
}

// TestAptVerifiesSignedRepo points a real apt at the repository with
// signed-by: a signed repository is accepted, an unsigned one and one
// signed by another key are refused.
func TestAptVerifiesSignedRepo(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: runs apt")
	}
	for _, tool := range []string{"apt-get", "gpgv"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not found", tool)
		}
	}
	ctx := context.Background()
	r := open(t, "amd64")
	ours, err := OpenSigner(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	theirs, err := OpenSigner(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	keyring := filepath.Join(t.TempDir(), "key.gpg")
	if err := ours.WriteKeyring(keyring); err != nil {
		t.Fatal(err)
	}
	apt := newAptEnv(t, r)
	line := SignedSourcesLine("file:"+r.Dir(), keyring, "amd64")
	if err := os.WriteFile(filepath.Join(apt.dir, "sources.list"), []byte(line+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// apt verifies as _apt: make the test's directories readable.
	for _, d := range []string{apt.dir, filepath.Dir(r.Dir()), filepath.Dir(apt.dir), filepath.Dir(keyring)} {
		filepath.WalkDir(d, func(p string, de os.DirEntry, err error) error {
			if err == nil && de.IsDir() {
				os.Chmod(p, 0o755)
			}
			return nil
		})
	}
	debs := buildDebs(t, "xz", libstx1)
	update := func(s *Signer) (string, error) {
		t.Helper()
		if err := r.Publish(ctx, debs, Options{Date: testDate, Signer: s, Label: "label of " + s.String()}); err != nil {
			t.Fatal(err)
		}
		os.RemoveAll(filepath.Join(apt.dir, "lists"))
		os.MkdirAll(filepath.Join(apt.dir, "lists", "partial"), 0o755)
		cmd := exec.Command("apt-get", "update")
		cmd.Env = append(os.Environ(), "APT_CONFIG="+apt.conf, "LC_ALL=C")
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := update(ours); err != nil || strings.Contains(out, "W:") || strings.Contains(out, "E:") {
		t.Fatalf("signed repository refused: %v\n%s", err, out)
	}
	if out, err := update(nil); err == nil || !strings.Contains(out, "not signed") {
		t.Errorf("unsigned repository accepted (err %v):\n%s", err, out)
	}
	if out, err := update(theirs); err == nil || !strings.Contains(out, "NO_PUBKEY") {
		t.Errorf("repository signed by another key accepted (err %v):\n%s", err, out)
	}
}

func TestEnsureSigned(t *testing.T) {
	ctx := context.Background()
	// An empty repository (its Release dated 1970-01-01, before any key)
	// can be signed too.
	empty := open(t, "amd64")
	if s, err := OpenSigner(ctx, t.TempDir()); err != nil {
		t.Fatal(err)
	} else if err := empty.EnsureSigned(ctx, s); err != nil {
		t.Fatalf("empty repository: %v", err)
	}
	r := open(t, "amd64")
	publish(t, r, buildDebs(t, "xz", libstx1)...)
	ours, err := OpenSigner(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	theirs, _ := OpenSigner(ctx, t.TempDir())
	release, _ := os.ReadFile(filepath.Join(r.Dir(), "dists", suite, "Release"))
	inRelease := func() []byte {
		data, _ := os.ReadFile(filepath.Join(r.Dir(), "dists", suite, "InRelease"))
		return data
	}
	gen := func() int { n, _ := r.liveGen(); return n }
	if len(inRelease()) != 0 {
		t.Fatal("unsigned publish wrote an InRelease")
	}
	if err := r.EnsureSigned(ctx, ours); err != nil {
		t.Fatal(err)
	}
	first, g := inRelease(), gen()
	want, _, _ := ours.sign(release, testDate)
	if !bytes.Equal(first, want) {
		t.Fatalf("InRelease after EnsureSigned is not the Release signed at its Date:\n%s", first)
	}
	if now, _ := os.ReadFile(filepath.Join(r.Dir(), "dists", suite, "Release")); !bytes.Equal(now, release) {
		t.Error("EnsureSigned changed Release")
	}
	if err := r.EnsureSigned(ctx, ours); err != nil || gen() != g {
		t.Errorf("signed already: err %v, generation %d -> %d", err, g, gen())
	}
	if err := r.EnsureSigned(ctx, theirs); err != nil || bytes.Equal(inRelease(), first) {
		t.Errorf("another key: err %v, InRelease unchanged %v", err, bytes.Equal(inRelease(), first))
	}
}
