package workspace

import (
	"errors"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

func TestOutDir(t *testing.T) {
	ws, err := Open(Options{Dir: filepath.Join("..", "examples"), CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	project, _ := filepath.Abs(filepath.Join("..", "examples", OutDirName))
	for _, tc := range []struct{ in, want string }{
		{"", project},
		{"/tmp/o", "/tmp/o"},
		{"rel", mustAbs(t, "rel")},
	} {
		got, err := ws.OutDir(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("OutDir(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	if got := RepoDir("/o", "arm64"); got != "/o/arm64/repo" {
		t.Errorf("RepoDir = %q", got)
	}
}

func mustAbs(t *testing.T, p string) string {
	t.Helper()
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestArchs(t *testing.T) {
	ws, err := Open(Options{Dir: filepath.Join("..", "examples"), CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		want    []string
		got     []string
		wantErr string
	}{
		{nil, []string{"amd64", "arm64"}, ""},
		{[]string{"arm64", "amd64"}, []string{"arm64", "amd64"}, ""},
		{[]string{"amd64", "riscv64"}, nil, "architecture riscv64: the project builds [amd64 arm64]"},
	} {
		got, err := ws.Archs(tc.want)
		if tc.wantErr != "" {
			var ae *ArchError
			if !errors.As(err, &ae) || err.Error() != tc.wantErr {
				t.Errorf("Archs(%v): error %v, want %q", tc.want, err, tc.wantErr)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.got) {
			t.Errorf("Archs(%v) = %v, %v; want %v", tc.want, got, err, tc.got)
		}
	}
	if got := ws.IndepArch(); got != "amd64" {
		t.Errorf("IndepArch = %q, want the first architecture", got)
	}
	// The result is the caller's to change.
	got, _ := ws.Archs(nil)
	got[0] = "x"
	if ws.Project.Architectures[0] != "amd64" {
		t.Error("Archs returned the project's slice")
	}
}

func TestSourceDateEpoch(t *testing.T) {
	dir := filepath.Join("..", "examples")
	for _, tc := range []struct {
		env     string
		want    time.Time
		ok      bool
		wantErr bool
	}{
		{"", time.Time{}, false, false},
		{"1700000000", time.Unix(1700000000, 0).UTC(), true, false},
		{"0", time.Unix(0, 0).UTC(), true, false},
		{"-1", time.Time{}, false, true},
		{"soon", time.Time{}, false, true},
	} {
		t.Setenv(EpochEnv, tc.env)
		ws, err := Open(Options{Dir: dir, CacheDir: t.TempDir()})
		if err != nil {
			t.Fatalf("%q: Open: %v", tc.env, err)
		}
		got, ok, err := ws.SourceDateEpoch()
		if (err != nil) != tc.wantErr || ok != tc.ok || !got.Equal(tc.want) {
			t.Errorf("SOURCE_DATE_EPOCH=%q: %v, %v, %v", tc.env, got, ok, err)
		}
	}
	// Options.SourceDateEpoch wins over the environment.
	t.Setenv(EpochEnv, "soon")
	fixed := time.Unix(42, 0)
	ws, err := Open(Options{Dir: dir, CacheDir: t.TempDir(), SourceDateEpoch: &fixed})
	if err != nil {
		t.Fatal(err)
	}
	if got, ok, err := ws.SourceDateEpoch(); err != nil || !ok || got.Unix() != 42 {
		t.Errorf("fixed epoch: %v, %v, %v", got, ok, err)
	}
}
