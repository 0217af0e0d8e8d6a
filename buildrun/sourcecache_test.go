package buildrun_test

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/stx-build/stx-build/builders/deb"
	"github.com/stx-build/stx-build/buildrun"
)

// TestSourceTreeCachedBuild builds hello (a .dsc from the archive, with a
// project patch) twice into two output trees: the first build unpacks
// and patches it and caches the tree, the second copies the tree from
// the cache (its unpack phase says cached), and the .debs are the same
// bit for bit. The patch carries the test's start time, so the first
// build's tree is never in the cache already.
func TestSourceTreeCachedBuild(t *testing.T) {
	needBuildHost(t)
	dir := copyProject(t, t.TempDir(), true)
	hello := filepath.Join(dir, "packages", "hello")
	patch := fmt.Sprintf("--- /dev/null\n+++ b/STX-NOTE\n@@ -0,0 +1 @@\n+patched by %s at %d\n", t.Name(), time.Now().UnixNano())
	if err := os.WriteFile(filepath.Join(hello, "note.patch"), []byte(patch), 0o644); err != nil {
		t.Fatal(err)
	}
	manifest := "name: hello\nsource:\n  debian: hello=2.10-3\npatches:\n  - note.patch\n"
	if err := os.WriteFile(filepath.Join(hello, "package.yaml"), []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}

	unpack := func(out string) deb.Phase {
		t.Helper()
		res, _, err := build(t, dir, buildrun.Options{Archs: []string{"amd64"}, Packages: []string{"hello"}, OutDir: out})
		if err != nil {
			t.Fatal(err)
		}
		if got := builtNames(res); !reflect.DeepEqual(got, []string{"hello"}) {
			t.Fatalf("built %q, want hello", got)
		}
		if ph := res.Builds[0].Phases; len(ph) > 0 && ph[0].Name == deb.PhaseUnpack {
			return ph[0]
		}
		t.Fatalf("no unpack phase: %+v", res.Builds[0].Phases)
		return deb.Phase{}
	}
	out1, out2 := filepath.Join(dir, "out1"), filepath.Join(dir, "out2")
	first := unpack(out1)
	if first.Cached {
		t.Errorf("first build's unpack phase says cached")
	}
	second := unpack(out2)
	if !second.Cached {
		t.Errorf("second build's unpack phase is not cached")
	}
	t.Logf("unpack: %s, then from the cache %s", first.Duration, second.Duration)
	if a, b := debDigests(t, out1), debDigests(t, out2); !reflect.DeepEqual(a, b) {
		t.Errorf("debs from the cached tree differ:\n%v\n%v", a, b)
	}
	log, err := os.ReadFile(filepath.Join(out2, "amd64", "logs", "hello_2.10-3.log"))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("second build:\n%s", lastLines(log, 3))
}
