package buildkey

import (
	"os"
	"path/filepath"
	"strings"
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

// A kernel's module signing key is an input by its certificate: another
// key rebuilds the kernel, the same key from another path does not, and
// nothing in the inputs comes from the private key or the path.
func TestKernelSigningKeyInputs(t *testing.T) {
	inputs := func(t *testing.T, signing *manifests.SigningKey) []cache.Input {
		dir := t.TempDir()
		pr := &workspace.Prepared{
			Package: &manifests.Package{Name: "linux", Dir: dir, Source: manifests.Source{Kernel: &manifests.KernelSource{
				Version: "6.1.192-1stx1", LocalVersion: "-stx",
				Tarball: manifests.KernelTarball{File: "linux.tar.xz", SHA256: "4d415b3d364834fd818270e88813e90323bbfce4f519a0e6bd4940ddcd7df693"},
				Config:  map[string]manifests.KernelConfig{"amd64": {Base: "tinyconfig"}},
				Signing: signing,
			}}},
			Fetched: &sources.Fetched{Kind: sources.KindLocal, Dir: dir},
			Source:  graph.Source{Name: "linux", Version: "6.1.192-1stx1"},
		}
		s, err := packageInputs(pr, filehash.New(""))
		if err != nil {
			t.Fatal(err)
		}
		cache.SortInputs(s.inputs)
		return s.inputs
	}
	const certA, certB = "aaaa000000000000000000000000000000000000000000000000000000000000", "bbbb000000000000000000000000000000000000000000000000000000000000"
	none := inputs(t, nil)
	a := inputs(t, &manifests.SigningKey{File: "/secrets/one/key.pem", CertSHA256: certA})
	a2 := inputs(t, &manifests.SigningKey{File: "/elsewhere/key.pem", CertSHA256: certA})
	b := inputs(t, &manifests.SigningKey{File: "/secrets/one/key.pem", CertSHA256: certB})
	if d := cache.Diff(a, a2); len(d) != 0 {
		t.Errorf("same key from another path: %v", d)
	}
	if d := cache.Diff(a, b); len(d) != 1 || d[0].Name != "kernel.module-signing-key" {
		t.Errorf("another key: %v", d)
	}
	if d := cache.Diff(none, a); len(d) != 1 || d[0].Name != "kernel.module-signing-key" {
		t.Errorf("signing turned on: %v", d)
	}
	for _, in := range a {
		if strings.Contains(in.Value, "/secrets") || strings.Contains(in.Name, "/secrets") {
			t.Errorf("the key's path is an input: %+v", in)
		}
	}
}
