package workspace

import (
	"context"
	"path/filepath"
	"reflect"
	"testing"
)

// The example project without network: its local packages only (hello is
// fetched from the archive, so it is left out by selecting by Local).
func openExample(t *testing.T, hostArch string) *Workspace {
	t.Helper()
	ws, err := Open(Options{Dir: filepath.Join("..", "examples"), CacheDir: t.TempDir(), HostArch: hostArch, Profiles: []string{"nodoc"}})
	if err != nil {
		t.Fatal(err)
	}
	var local []*Prepared
	for _, pkg := range ws.Project.PackageList {
		if pkg.Source.Local == "" {
			continue
		}
		f := ws.fetcherFor(nil)
		pr, err := ws.prepareOne(context.Background(), f, pkg)
		if err != nil {
			t.Fatal(err)
		}
		local = append(local, pr)
	}
	ws.prepared = local
	return ws
}

func TestGraphOptions(t *testing.T) {
	ws := openExample(t, "amd64")
	got := ws.GraphOptions("arm64")
	want := ws.GraphOptions("amd64")
	if got.Indep || !want.Indep {
		t.Errorf("Indep: arm64 %v amd64 %v; the first project architecture builds arch:all", got.Indep, want.Indep)
	}
	if got.BuildArch != "amd64" || !reflect.DeepEqual(got.Profiles, []string{"nodoc"}) {
		t.Errorf("options = %+v", got)
	}
}

func TestSourcesForCrossProfiles(t *testing.T) {
	ws := openExample(t, "amd64")
	prepared, _ := ws.Prepare(context.Background())
	for _, tc := range []struct {
		arch string
		want []string
	}{
		{"amd64", nil},
		{"arm64", []string{"cross", "nocheck"}},
	} {
		for _, s := range ws.SourcesFor(prepared, tc.arch) {
			if !reflect.DeepEqual(s.Profiles, tc.want) && !(len(s.Profiles) == 0 && len(tc.want) == 0) {
				t.Errorf("%s on %s: profiles %q, want %q", s.Name, tc.arch, s.Profiles, tc.want)
			}
		}
	}
	// SourcesFor must not change the prepared sources.
	for _, pr := range prepared {
		if len(pr.Source.Profiles) != 0 {
			t.Errorf("%s: prepared profiles changed to %q", pr.Source.Name, pr.Source.Profiles)
		}
	}
}

func TestGraphRejectsOtherArch(t *testing.T) {
	ws := openExample(t, "amd64")
	if _, err := ws.Graph(context.Background(), "riscv64"); err == nil {
		t.Fatal("want an error for an architecture the project does not build")
	}
	g, err := ws.Graph(context.Background(), "arm64")
	if err != nil {
		t.Fatal(err)
	}
	// Cross: stx-tools' stx-hello build-dep is <!nocheck>, so it is gone.
	if n := g.Node("stx-tools"); n == nil || len(n.Deps) != 1 || n.Deps[0] != "libstx" {
		t.Errorf("stx-tools on arm64: %+v", n)
	}
}

// A relative cache directory is made absolute: sandboxes mount what is
// under it, whatever their working directory.
func TestRelativeCacheDir(t *testing.T) {
	examples, err := filepath.Abs(filepath.Join("..", "examples"))
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(t.TempDir())
	ws, err := Open(Options{Dir: examples, CacheDir: "rel-cache", HostArch: "amd64"})
	if err != nil {
		t.Fatal(err)
	}
	if !filepath.IsAbs(ws.CacheDir()) || filepath.Base(ws.CacheDir()) != "rel-cache" {
		t.Errorf("CacheDir() = %q, want an absolute path ending in rel-cache", ws.CacheDir())
	}
}
