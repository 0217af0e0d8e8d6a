package buildrun_test

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/stx-build/stx-build/buildrun"
)

// Debian's current stable works as well as oldstable, which the example
// is on: the example's library and the program linked against it build on
// a trixie base root.
func TestTrixieBaseRoot(t *testing.T) {
	needBuildHost(t)
	dir := copyProject(t, t.TempDir(), false)
	yml := filepath.Join(dir, "stx.yaml")
	data, err := os.ReadFile(yml)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), "\nsuite: bookworm\n") {
		t.Fatalf("%s: no suite line to change:\n%s", yml, data)
	}
	if err := os.WriteFile(yml, []byte(strings.Replace(string(data), "\nsuite: bookworm\n", "\nsuite: trixie\n", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	res, status, err := build(t, dir, buildrun.Options{Archs: []string{"amd64"}, Packages: []string{"stx-hello"}})
	if err != nil {
		t.Fatalf("%v\n%s", err, lastLines([]byte(status), 20))
	}
	if got := builtNames(res); !reflect.DeepEqual(got, []string{"libstx", "stx-hello"}) {
		t.Errorf("built %q", got)
	}
	if !strings.Contains(status, "base root: trixie amd64") {
		t.Errorf("the run did not say it made a trixie base root:\n%s", lastLines([]byte(status), 20))
	}
	debs, _ := filepath.Glob(filepath.Join(dir, "out", "amd64", "debs", "stx-hello_1.0", "stx-hello_*.deb"))
	if len(debs) != 1 {
		t.Errorf("stx-hello debs: %v", debs)
	}
}
