package manifests

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzDecode decodes and checks fuzzed YAML as each kind of manifest
// (stx.yaml, package.yaml, an image and iso.yaml), seeded with every
// manifest under testdata. Whatever the input, the loader must not panic
// and must report each problem as a short *Error with a file and a message.
func FuzzDecode(f *testing.F) {
	err := filepath.WalkDir("testdata", func(path string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() || !strings.HasSuffix(path, ".yaml") {
			return err
		}
		data, err := os.ReadFile(path)
		if err == nil {
			f.Add(data)
		}
		return err
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte("a: &x [*x]\nb: !!binary AAAA\n? [c]\n: d\n<<: {e: f}\n"))
	dir := f.TempDir()
	t0, err := newTree(dir)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var errs Errors
		p := &Project{Dir: dir}
		if d, ok := decodeFile(data, ProjectFile, p, &errs); ok {
			validateProject(p, d)
		}
		pkg := &Package{Dir: dir}
		if d, ok := decodeFile(data, PackageFile, pkg, &errs); ok {
			validatePackage(pkg, d, t0)
		}
		img := &Image{Name: "x"}
		if d, ok := decodeFile(data, "images/x.yaml", img, &errs); ok {
			validateImage(img, d)
		}
		iso := &ISO{}
		if d, ok := decodeFile(data, ISOFile, iso, &errs); ok {
			validateISO(&Project{Dir: dir, Architectures: []string{"amd64"}}, iso, d, t0)
		}
		for _, e := range errs {
			if e.File == "" || e.Msg == "" {
				t.Fatalf("problem without file or message: %#v", e)
			}
			if n := len(e.Error()); n > 3*MaxFieldLength+1000 {
				t.Fatalf("a %d-byte message: %.200s", n, e.Error())
			}
		}
	})
}

// FuzzLoad loads a project whose stx.yaml and one package.yaml are
// fuzzed, next to a directory with a patch and a source tree: the whole
// loader, paths and all, must not panic, and must either return a project
// or report problems.
func FuzzLoad(f *testing.F) {
	f.Add([]byte("name: demo\nsuite: bookworm\narchitectures: [amd64]\n"),
		[]byte("name: hello\nsource: {local: src}\npatches: [a.patch]\n"))
	f.Add([]byte("name: demo\nsuite: bookworm\narchitectures: [amd64, arm64]\npackages: [packages, '*', ../x]\nallow-outside: [..]\ncycle-breaks: [{package: hello, binary: zz}]\n"),
		[]byte("name: hello\nsource: {local: ../hello/src/..}\npatches: [../../packages/hello/a.patch, a.patch]\narchitectures: [arm64]\n"))
	f.Fuzz(func(t *testing.T, stx, pkg []byte) {
		dir := t.TempDir()
		for name, data := range map[string][]byte{
			"stx.yaml":                          stx,
			"packages/hello/package.yaml":       pkg,
			"packages/hello/a.patch":            []byte("--- a\n+++ b\n"),
			"packages/hello/src/debian/control": []byte("Source: hello\n"),
		} {
			p := filepath.Join(dir, filepath.FromSlash(name))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		p, err := Load(dir)
		if p == nil && err == nil {
			t.Fatal("Load returned neither a project nor an error")
		}
		var errs Errors
		if errors.As(err, &errs) {
			for _, e := range errs {
				if e.File == "" || e.Msg == "" {
					t.Fatalf("problem without file or message: %#v", e)
				}
			}
		}
	})
}
