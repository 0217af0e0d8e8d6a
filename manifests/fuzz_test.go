package manifests

import (
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
