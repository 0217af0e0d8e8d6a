package history

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestAddLookup(t *testing.T) {
	s := &Store{Dir: t.TempDir()}
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	recs := []Record{
		{Package: "hello", Version: "2.10-2", Arch: "amd64", Seconds: 40, PeakBytes: 100, Finished: t0},
		{Package: "hello", Version: "2.10-3", Arch: "amd64", Seconds: 42, PeakBytes: 110, Finished: t0.Add(time.Hour)},
		{Package: "hello", Version: "1:2.10-3", Arch: "arm64", Seconds: 30, Finished: t0.Add(2 * time.Hour)},
		{Package: "libstx", Version: "1.0", Arch: "arm64", Seconds: 9, Finished: t0},
	}
	for _, r := range recs {
		if err := s.Add(r); err != nil {
			t.Fatal(err)
		}
	}
	// Replacing keeps one record.
	recs[0].Seconds = 41
	if err := s.Add(recs[0]); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		pkg, version, arch string
		wantSeconds        float64
		wantExact, wantOK  bool
	}{
		{"hello", "2.10-2", "amd64", 41, true, true},
		{"hello", "2.10-4", "amd64", 42, false, true},  // newest other version
		{"hello", "1:2.10-3", "arm64", 30, true, true}, // epoch in a file name
		{"libstx", "1.0", "amd64", 9, false, true},     // other architecture
		{"nothing", "1", "amd64", 0, false, false},
		{"../x", "1", "amd64", 0, false, false},
	} {
		r, exact, ok := s.Lookup(tt.pkg, tt.version, tt.arch)
		if ok != tt.wantOK || exact != tt.wantExact || r.Seconds != tt.wantSeconds {
			t.Errorf("Lookup(%s %s %s) = %v %v %v", tt.pkg, tt.version, tt.arch, r.Seconds, exact, ok)
		}
	}
	if err := s.Add(Record{Package: "a/b", Version: "1", Arch: "amd64", Seconds: 1}); err == nil {
		t.Error("a package name with / was accepted")
	}
	// A broken record is skipped, and no temporary files are left.
	p := filepath.Join(s.Dir, "amd64", "hello", "2.10-9.json")
	if err := os.WriteFile(p, []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	if r, _, _ := s.Lookup("hello", "2.10-9", "amd64"); r.Seconds != 42 {
		t.Errorf("broken record not skipped: %+v", r)
	}
	left, _ := filepath.Glob(filepath.Join(s.Dir, "*", "*", ".tmp-*"))
	if len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}
	if err := s.Remove("hello"); err != nil {
		t.Fatal(err)
	}
	if _, _, ok := s.Lookup("hello", "2.10-3", "amd64"); ok {
		t.Error("Remove left records")
	}
}
