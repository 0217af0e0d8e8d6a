package buildkey

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stx-build/stx-build/cache"
	"github.com/stx-build/stx-build/cache/filehash"
	"github.com/stx-build/stx-build/graph"
	"github.com/stx-build/stx-build/manifests"
	"github.com/stx-build/stx-build/sources"
	"github.com/stx-build/stx-build/workspace"
)

// An upstream source is pinned by its .dsc: the key takes the .dsc's
// digest, not the location of the fetched files.
func TestDSCSourceInputs(t *testing.T) {
	inputs := func(t *testing.T, dscContent string) []cache.Input {
		dir := t.TempDir()
		dsc := filepath.Join(dir, "hello_2.10-3.dsc")
		if err := os.WriteFile(dsc, []byte(dscContent), 0o644); err != nil {
			t.Fatal(err)
		}
		pr := &workspace.Prepared{
			Package: &manifests.Package{Name: "hello", Dir: dir, Source: manifests.Source{Debian: "hello=2.10-3"}},
			Fetched: &sources.Fetched{Kind: sources.KindDebian, Dir: dir, DSC: dsc},
			Source:  graph.Source{Name: "hello", Version: "2.10-3"},
		}
		s, err := packageInputs(pr, filehash.New(""))
		if err != nil {
			t.Fatal(err)
		}
		return s.inputs
	}
	a := inputs(t, "Format: 3.0 (quilt)\nSource: hello\n")
	b := inputs(t, "Format: 3.0 (quilt)\nSource: hello\n")
	c := inputs(t, "Format: 3.0 (quilt)\nSource: hello\nVersion: 2.10-4\n")
	if len(cache.Diff(a, b)) != 0 {
		t.Errorf("same .dsc in another directory: %v", cache.Diff(a, b))
	}
	d := cache.Diff(a, c)
	if len(d) != 1 || d[0].Kind != cache.KindSource || d[0].Name != "hello_2.10-3.dsc" || d[0].String() != "source .dsc hello_2.10-3.dsc changed (content)" {
		t.Errorf("changed .dsc: %v", d)
	}
	want := []cache.Input{
		{Kind: cache.KindManifest, Name: "name", Value: "hello"},
		{Kind: cache.KindManifest, Name: "source", Value: "debian hello=2.10-3"},
		{Kind: cache.KindBuild, Name: "version", Value: "2.10-3"},
	}
	for _, w := range want {
		found := false
		for _, in := range a {
			found = found || in == w
		}
		if !found {
			t.Errorf("inputs lack %+v: %+v", w, a)
		}
	}
}
