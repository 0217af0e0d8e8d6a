package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stx-build/stx-build/cache"
)

// fillCache stores two builds of libstx and one of stx-hello in dir.
func fillCache(t *testing.T, dir string) []*cache.Entry {
	t.Helper()
	l, err := cache.OpenLocal(filepath.Join(dir, cache.ArtifactsDir))
	if err != nil {
		t.Fatal(err)
	}
	var out []*cache.Entry
	for i, id := range []string{"libstx:1", "libstx:2", "stx-hello:1"} {
		pkg, src, _ := strings.Cut(id, ":")
		b, err := cache.NewBuild(pkg, "1.0", "amd64", []cache.Input{{Kind: cache.KindSource, Name: "a.c", Value: pkg + src}})
		if err != nil {
			t.Fatal(err)
		}
		f := filepath.Join(t.TempDir(), pkg+"_1.0_amd64.deb")
		os.WriteFile(f, []byte(id), 0o644)
		e, err := l.Put(context.Background(), b, []string{f})
		if err != nil {
			t.Fatal(err)
		}
		used := time.Now().Add(-time.Duration(3-i) * 24 * time.Hour)
		os.Chtimes(filepath.Join(e.Dir, cache.ManifestFile), used, used)
		out = append(out, e)
	}
	return out
}

func TestCacheCommands(t *testing.T) {
	dir := t.TempDir()
	entries := fillCache(t, dir)
	tests := []struct {
		args    []string
		want    []string
		wantErr string
	}{
		{[]string{"cache", "stats"}, []string{"entries:  3 (2 package/architecture pairs)", "amd64:  3"}, ""},
		{[]string{"cache", "prune"}, nil, "--keep N and/or --older-than D"},
		{[]string{"cache", "prune", "--older-than", "soon"}, nil, "positive duration"},
		{[]string{"cache", "prune", "--keep", "1", "--dry-run"}, []string{"would remove libstx 1.0 (amd64)", "would remove 1 entries"}, ""},
		{[]string{"cache", "prune", "--older-than", "60h"}, []string{"removed libstx 1.0 (amd64) " + entries[0].Manifest.Key.Short() + ": last used", "removed 1 entries"}, ""},
		{[]string{"cache", "stats"}, []string{"entries:  2 (2 package/architecture pairs)"}, ""},
		{[]string{"cache", "verify"}, []string{"checked 2 entries"}, ""},
	}
	for _, tc := range tests {
		out, err := run(t, append([]string{"--cache-dir", dir}, tc.args...)...)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%v: error %v, want %q", tc.args, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%v: %v\n%s", tc.args, err, out)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(out, w) {
				t.Errorf("%v: output lacks %q:\n%s", tc.args, w, out)
			}
		}
	}

	// A corrupted file: verify removes the entry.
	p := filepath.Join(entries[2].Dir, "stx-hello_1.0_amd64.deb")
	os.WriteFile(p, []byte("stx-hello:X"), 0o644)
	out, err := run(t, "--cache-dir", dir, "cache", "verify")
	if err != nil || !strings.Contains(out, "removed stx-hello 1.0 (amd64)") || !strings.Contains(out, "sha256") {
		t.Errorf("verify of a corrupt entry: %v\n%s", err, out)
	}
}

func TestCacheKeysNeedsTheBase(t *testing.T) {
	_, err := run(t, "-C", localExample(t), "cache", "keys")
	if err == nil {
		t.Fatal("keys without a base root succeeded")
	}
	if !strings.Contains(err.Error(), "not made yet") && !strings.Contains(err.Error(), "mmdebstrap") {
		t.Errorf("error: %v", err)
	}
}

func TestParseAge(t *testing.T) {
	for in, want := range map[string]time.Duration{"30d": 30 * 24 * time.Hour, "72h": 72 * time.Hour, "90m": 90 * time.Minute} {
		if got, err := parseAge(in); err != nil || got != want {
			t.Errorf("parseAge(%q) = %v, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "0d", "-1h", "d", "1w"} {
		if _, err := parseAge(in); err == nil {
			t.Errorf("parseAge(%q) accepted", in)
		}
	}
}
