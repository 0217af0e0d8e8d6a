package store

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParseLock: any input is parsed or refused without a panic, and a
// lock that parses writes a text that parses to the same text.
func FuzzParseLock(f *testing.F) {
	if data, err := os.ReadFile(filepath.Join("testdata", "stx.lock.golden")); err == nil {
		f.Add(data)
	}
	f.Add([]byte("stx-lock 2\n[bookworm amd64]\nrelease x sha256:" + sum('a') + "\na 1 all 1 sha256:" + sum('b') + " pool/main/a/a.deb\n"))
	f.Add([]byte("stx-lock 2\n[a b c]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		l, err := ParseLock("stx.lock", bytes.NewReader(data))
		if err != nil {
			return
		}
		out := l.Marshal()
		l2, err := ParseLock("stx.lock", bytes.NewReader(out))
		if err != nil {
			t.Fatalf("written lock does not parse: %v\n%s", err, out)
		}
		if again := l2.Marshal(); !bytes.Equal(again, out) {
			t.Fatalf("not stable:\n%s\n---\n%s", out, again)
		}
	})
}
