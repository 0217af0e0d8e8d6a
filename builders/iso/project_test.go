package iso

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/stx-build/stx-build/workspace"
)

func openProject(t *testing.T, dir string) *workspace.Workspace {
	t.Helper()
	ws, err := workspace.Open(workspace.Options{Dir: dir, CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	return ws
}

func TestSelect(t *testing.T) {
	ws := openProject(t, filepath.Join("..", "..", "examples"))
	for _, tc := range []struct {
		archs, want, pkgArchs []string
		wantErr               string
	}{
		{nil, []string{"amd64", "arm64"}, []string{"amd64", "arm64"}, ""},
		{[]string{"arm64"}, []string{"arm64"}, []string{"amd64", "arm64"}, ""},
		{[]string{"riscv64"}, nil, nil, "architecture riscv64: iso.yaml builds [amd64 arm64]"},
	} {
		sel, err := Select(ws, tc.archs)
		if tc.wantErr != "" {
			var ae *workspace.ArchError
			if !errors.As(err, &ae) || err.Error() != tc.wantErr {
				t.Errorf("Select(%v): error %v, want %q", tc.archs, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Fatalf("Select(%v): %v", tc.archs, err)
		}
		if !reflect.DeepEqual(sel.Archs, tc.want) || !reflect.DeepEqual(sel.PackageArchs(), tc.pkgArchs) {
			t.Errorf("Select(%v): archs %v, packages for %v; want %v, %v", tc.archs, sel.Archs, sel.PackageArchs(), tc.want, tc.pkgArchs)
		}
	}
	sel, _ := Select(ws, nil)
	if got := sel.Only([]string{"arm64", "riscv64"}).Archs; !reflect.DeepEqual(got, []string{"arm64"}) {
		t.Errorf("Only: %v", got)
	}
	if got := sel.Only([]string{"riscv64"}).Archs; len(got) != 0 {
		t.Errorf("Only, none: %v", got)
	}
	if _, err := projectDefaults(ws, sel, ProjectOptions{Output: "x.iso"}); err == nil {
		t.Error("one output for two architectures accepted")
	}
}

func TestSelectWithoutManifest(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "stx.yaml"), []byte("name: p\nsuite: bookworm\narchitectures: [amd64]\npackages: [packages]\n"), 0o644)
	os.Mkdir(filepath.Join(dir, "packages"), 0o755)
	_, err := Select(openProject(t, dir), nil)
	if !errors.Is(err, ErrNoManifest) || !strings.Contains(err.Error(), "has no iso.yaml") {
		t.Errorf("no iso.yaml: %v", err)
	}
}

// writeSums writes one SHA256SUMS per directory of ISOs, sorted.
func TestWriteSums(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "b-arm64.iso"), filepath.Join(dir, "a-amd64.iso")
	for _, f := range []string{a, b} {
		os.WriteFile(f, []byte("iso"), 0o644)
	}
	sumA, sumB := strings.Repeat("a", 64), strings.Repeat("b", 64)
	var status strings.Builder
	results := []*Result{{ISO: a, SHA256: sumA}, {ISO: b, SHA256: sumB}}
	if err := writeSums(context.Background(), results, ProjectOptions{Status: &status}); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(filepath.Join(dir, SumsFile))
	if want := sumB + "  a-amd64.iso\n" + sumA + "  b-arm64.iso\n"; string(data) != want {
		t.Errorf("SHA256SUMS:\n%s\nwant:\n%s", data, want)
	}
	if want := "checksums: " + filepath.Join(dir, SumsFile) + "\n"; status.String() != want {
		t.Errorf("status %q, want %q", status.String(), want)
	}
}
