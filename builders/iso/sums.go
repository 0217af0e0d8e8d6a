package iso

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"github.com/stx-build/stx-build/internal/atomicfile"
)

// SumsFile is the checksum list written beside the ISOs, and SignatureFile
// its detached OpenPGP signature (ASCII armored), as Debian's images have.
const (
	SumsFile      = "SHA256SUMS"
	SignatureFile = "SHA256SUMS.sign"
)

// UpdateSums records sums (file name in dir -> sha256) in dir/SHA256SUMS:
// entries for other files are kept while those files exist, so building
// one architecture keeps the other's line. Lines are sorted by name, in
// sha256sum's format ("<hex>  <name>"). It returns the file's path.
func UpdateSums(dir string, sums map[string]string) (string, error) {
	path := filepath.Join(dir, SumsFile)
	entries := map[string]string{}
	if data, err := os.ReadFile(path); err == nil {
		s := bufio.NewScanner(bytes.NewReader(data))
		for s.Scan() {
			sum, name, ok := strings.Cut(s.Text(), "  ")
			if !ok || len(sum) != 64 {
				continue
			}
			if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
				entries[name] = sum
			}
		}
	} else if !os.IsNotExist(err) {
		return "", err
	}
	for name, sum := range sums {
		if strings.ContainsAny(name, "/\n") {
			return "", fmt.Errorf("%s: bad file name %q", SumsFile, name)
		}
		entries[name] = sum
	}
	names := make([]string, 0, len(entries))
	for n := range entries {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		fmt.Fprintf(&b, "%s  %s\n", entries[n], n)
	}
	return path, atomicfile.Write(path, []byte(b.String()), 0o644)
}

// Sign writes a detached, ASCII-armored OpenPGP signature of file to
// file.sign's place (SignatureFile beside SHA256SUMS) with gpg and the
// secret key keyID (GNUPGHOME is honoured). It returns the signature's
// path.
func Sign(ctx context.Context, file, keyID string) (string, error) {
	out := filepath.Join(filepath.Dir(file), SignatureFile)
	tmp := out + ".tmp"
	os.Remove(tmp)
	cmd := exec.CommandContext(ctx, "gpg", "--batch", "--yes", "--pinentry-mode", "loopback",
		"--local-user", keyID, "--armor", "--detach-sign", "--output", tmp, file)
	if o, err := cmd.CombinedOutput(); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("gpg --detach-sign %s with key %s: %v\n%s", filepath.Base(file), keyID, err, strings.TrimSpace(string(o)))
	}
	return out, os.Rename(tmp, out)
}
