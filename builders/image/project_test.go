package image

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stx-build/stx-build/workspace"
)

// projectWith writes a project building amd64 and arm64 with the given
// images/<name>.yaml files and opens it.
func projectWith(t *testing.T, images map[string]string) *workspace.Workspace {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"stx.yaml":       "name: p\nsuite: bookworm\narchitectures: [amd64, arm64]\npackages: [packages]\n",
		"packages/.keep": "",
	}
	for name, data := range images {
		files[filepath.Join("images", name+".yaml")] = data
	}
	for f, data := range files {
		os.MkdirAll(filepath.Dir(filepath.Join(dir, f)), 0o755)
		if err := os.WriteFile(filepath.Join(dir, f), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ws, err := workspace.Open(workspace.Options{Dir: dir, CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	return ws
}

func TestSelect(t *testing.T) {
	ws := projectWith(t, map[string]string{
		"base": "packages: [ca-certificates]\n",
		"app":  "packages: [stx-hello]\nbase: base\narchitectures: [arm64]\n",
	})
	for _, tc := range []struct {
		names, archs []string
		images       []string
		want         []string
		appArchs     []string
		wantErr      string
	}{
		{nil, nil, []string{"app", "base"}, []string{"amd64", "arm64"}, []string{"arm64"}, ""},
		{[]string{"app"}, nil, []string{"app"}, []string{"arm64"}, []string{"arm64"}, ""},
		{[]string{"app"}, []string{"amd64"}, []string{"app"}, []string{"amd64"}, nil, ""},
		{[]string{"nope"}, nil, nil, nil, nil, `no image "nope" in `},
		{nil, []string{"riscv64"}, nil, nil, nil, "architecture riscv64: the project builds [amd64 arm64]"},
	} {
		sel, err := Select(ws, tc.names, tc.archs)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("Select(%v, %v): error %v, want %q", tc.names, tc.archs, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("Select(%v, %v): %v", tc.names, tc.archs, err)
			continue
		}
		var names []string
		for _, img := range sel.Images {
			names = append(names, img.Name)
		}
		app := sel.ArchsOf(sel.Images[0])
		if !reflect.DeepEqual(names, tc.images) || !reflect.DeepEqual(sel.Archs, tc.want) || !reflect.DeepEqual(app, tc.appArchs) || len(sel.All) != 2 {
			t.Errorf("Select(%v, %v) = images %v archs %v (app %v), want %v %v (%v)", tc.names, tc.archs, names, sel.Archs, app, tc.images, tc.want, tc.appArchs)
		}
	}
}

func TestSelectRefuses(t *testing.T) {
	_, err := Select(projectWith(t, nil), nil, nil)
	if !errors.Is(err, ErrNoImages) || !strings.Contains(err.Error(), "no images (add images/<name>.yaml)") {
		t.Errorf("no images: %v", err)
	}
	t.Setenv(workspace.EpochEnv, "yesterday")
	_, err = Select(projectWith(t, map[string]string{"base": "packages: [ca-certificates]\n"}), nil, nil)
	if err == nil || !strings.Contains(err.Error(), "SOURCE_DATE_EPOCH") {
		t.Errorf("bad SOURCE_DATE_EPOCH: %v", err)
	}
}

// BuildProject builds each selected image for its selected architectures
// and says which it skips, with a fake mmdebstrap.
func TestBuildProject(t *testing.T) {
	ws := projectWith(t, map[string]string{
		"base": "packages: [ca-certificates]\n",
		"app":  "packages: [stx-hello]\nbase: base\narchitectures: [arm64]\n",
	})
	sel, err := Select(ws, nil, []string{"amd64"})
	if err != nil {
		t.Fatal(err)
	}
	var status strings.Builder
	out := t.TempDir()
	results, err := BuildProject(context.Background(), ws, sel, WithOutDir(out), WithAssembler(fakeAssemble),
		WithWorkDir(t.TempDir()), WithStatus(&status), WithSourceDateEpoch(time.Unix(1700000000, 0)))
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != 1 || results[0].Name != "base" || len(results[0].Platforms) != 1 || results[0].Platforms[0].Arch != "amd64" {
		t.Fatalf("results: %+v", results)
	}
	for _, want := range []string{
		"image app: not built for [amd64], skipped\n",
		"image base: " + results[0].Digest.String(),
		"  layout: " + filepath.Join(out, "images", "base") + " (oci:",
	} {
		if !strings.Contains(status.String(), want) {
			t.Errorf("status lacks %q:\n%s", want, status.String())
		}
	}
}
