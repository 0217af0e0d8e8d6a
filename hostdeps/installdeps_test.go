package hostdeps

import (
	"os"
	"slices"
	"strings"
	"testing"
)

// scripts/install-deps.sh installs exactly the packages of the table: a
// requirement added without its package (arch-test, once) fails here.
func TestInstallDepsMatchesTable(t *testing.T) {
	data, err := os.ReadFile("../scripts/install-deps.sh")
	if err != nil {
		t.Fatal(err)
	}
	got := scriptPackages(t, string(data))
	want := Packages()
	for _, p := range want {
		if !slices.Contains(got, p) {
			t.Errorf("scripts/install-deps.sh does not install %s (hostdeps/table.go needs it)", p)
		}
	}
	for _, p := range got {
		if !slices.Contains(want, p) {
			t.Errorf("scripts/install-deps.sh installs %s, which no requirement in hostdeps/table.go names", p)
		}
	}
}

// scriptPackages reads the PKGS=( ... ) array, comments dropped.
func scriptPackages(t *testing.T, script string) []string {
	t.Helper()
	_, rest, ok := strings.Cut(script, "\nPKGS=(\n")
	if !ok {
		t.Fatal("scripts/install-deps.sh: no PKGS=( array")
	}
	body, _, ok := strings.Cut(rest, "\n)\n")
	if !ok {
		t.Fatal("scripts/install-deps.sh: PKGS array not closed")
	}
	var pkgs []string
	for _, line := range strings.Split(body, "\n") {
		line, _, _ = strings.Cut(line, "#")
		pkgs = append(pkgs, strings.Fields(line)...)
	}
	slices.Sort(pkgs)
	return slices.Compact(pkgs)
}
