package starlingx

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

// SampleRoot is the StarlingX sample tree shipped beside the repository
// (../shared/starlingx-sample); tests that need it skip when it is absent.
func sampleRoot(t testing.TB) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	repoRoot := filepath.Join(filepath.Dir(file), "..", "..")
	dir := filepath.Join(repoRoot, "..", "shared", "starlingx-sample")
	if _, err := os.Stat(filepath.Join(dir, "cgcs-root", "stx")); err != nil {
		t.Skipf("StarlingX sample tree not found at %s (it lives in ../shared beside the repository)", dir)
	}
	return dir
}

// describe renders a tree for a golden file: every package and diagnostic.
func describe(tr *Tree) string {
	var b strings.Builder
	for _, r := range tr.Repos {
		fmt.Fprintf(&b, "repo %s layer=%s list=%s\n", r.Name, r.Layer, r.List)
	}
	for _, p := range tr.Packages {
		fmt.Fprintf(&b, "package %s %s %s debver=%s meta=%s deb_folder=%v deb_patches=%d patches=%d files=%v\n",
			p.Name, p.RelDir, p.Kind, p.Meta.DebVer, filepath.Base(p.MetaDir), p.DebFolder != "", len(p.DebPatches), len(p.Patches), p.Files != "")
	}
	for _, d := range tr.Diagnostics {
		b.WriteString(d.String() + "\n")
	}
	return b.String()
}

// TestSampleGolden reads the sample for every codename and build type the
// issue names and compares with testdata/<codename>-<type>.golden.
func TestSampleGolden(t *testing.T) {
	root := sampleRoot(t)
	for _, c := range []struct{ codename, buildType string }{{"trixie", "std"}, {"bullseye", "std"}, {"trixie", "rt"}} {
		t.Run(c.codename+"-"+c.buildType, func(t *testing.T) {
			tr, err := Read(Config{Root: root, Codename: c.codename, BuildType: c.buildType})
			if err != nil {
				t.Fatal(err)
			}
			got := describe(tr)
			golden := filepath.Join("testdata", c.codename+"-"+c.buildType+".golden")
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Errorf("%s differs (go test -run Golden ./manifests/starlingx -update):\n%s", golden, got)
			}
		})
	}
}

// TestSampleEveryListedPackage checks discovery against a second, plain
// reading of the sample: every non-comment line of the list file that
// applies names a package when its directory exists, and a warning when
// it does not; each package's name is debname or the directory's name.
func TestSampleEveryListedPackage(t *testing.T) {
	root := sampleRoot(t)
	for _, codename := range []string{"trixie", "bullseye"} {
		t.Run(codename, func(t *testing.T) {
			tr, err := Read(Config{Root: root, Codename: codename})
			if err != nil {
				t.Fatal(err)
			}
			byDir := map[string]*Package{}
			for _, p := range tr.Packages {
				byDir[p.RelDir] = p
			}
			lists := map[string]string{ // by hand, from the files present in the sample
				"trixie":   "debian_trixie_pkg_dirs_std",
				"bullseye": "",
			}
			var wantDirs []string
			missing := 0
			for _, repo := range []string{"fault", "integ", "kernel", "update", "utilities"} {
				list := lists[codename]
				if codename == "bullseye" {
					list = "debian_bullseye_pkg_dirs_std"
					if repo == "integ" || repo == "kernel" {
						list = "debian_pkg_dirs" // no std-suffixed list: the old-style one
					}
				}
				data, err := os.ReadFile(filepath.Join(root, "cgcs-root", "stx", repo, list))
				if err != nil {
					t.Fatal(err)
				}
				for _, line := range strings.Split(string(data), "\n") {
					line = strings.TrimSpace(line)
					if line == "" || line[0] == '#' {
						continue
					}
					rel := "cgcs-root/stx/" + repo + "/" + line
					if _, err := os.Stat(filepath.Join(root, rel)); err != nil {
						missing++
						continue
					}
					wantDirs = append(wantDirs, rel)
				}
			}
			if len(tr.Packages) != len(wantDirs) {
				t.Errorf("%d packages, want %d", len(tr.Packages), len(wantDirs))
			}
			for _, d := range wantDirs {
				p := byDir[d]
				if p == nil {
					t.Errorf("%s: not discovered", d)
					continue
				}
				meta, err := os.ReadFile(filepath.Join(p.MetaDir, MetaFile))
				if err != nil {
					t.Fatal(err)
				}
				want := filepath.Base(d)
				for _, l := range strings.Split(string(meta), "\n") {
					if v, ok := strings.CutPrefix(l, "debname:"); ok {
						want = strings.TrimSpace(v)
					}
				}
				if p.Name != want {
					t.Errorf("%s: name %q, want %q", d, p.Name, want)
				}
			}
			warned := 0
			for _, d := range tr.Diagnostics {
				if strings.Contains(d.Msg, "does not exist; StarlingX's tools drop") {
					warned++
				}
			}
			if warned != missing {
				t.Errorf("%d missing-directory warnings, want %d", warned, missing)
			}
			t.Logf("%s/std: %d packages, %d listed directories missing from the sample", codename, len(tr.Packages), missing)
		})
	}
}

// TestMetaFallback checks which meta_data.yaml applies per codename.
func TestMetaFallback(t *testing.T) {
	tests := []struct {
		name     string
		files    []string // meta_data.yaml locations under the package dir
		codename string
		want     string // dir holding the one used, "" for none
	}{
		{"bullseye old style first", []string{"debian", "debian/bullseye", "debian/all"}, "bullseye", "debian"},
		{"bullseye codename before all", []string{"debian/bullseye", "debian/all"}, "bullseye", "debian/bullseye"},
		{"bullseye all", []string{"debian/all"}, "bullseye", "debian/all"},
		{"trixie ignores old style", []string{"debian", "debian/all"}, "trixie", "debian/all"},
		{"trixie codename first", []string{"debian/trixie", "debian/all"}, "trixie", "debian/trixie"},
		{"trixie ignores bullseye", []string{"debian/bullseye"}, "trixie", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			repo := filepath.Join(root, "cgcs-root", "stx", "r")
			write(t, filepath.Join(repo, "debian_"+tc.codename+"_pkg_dirs_std"), "p\n")
			for _, f := range tc.files {
				write(t, filepath.Join(repo, "p", f, MetaFile), "debver: 1.0-1\n")
			}
			tr, err := Read(Config{Root: root, Codename: tc.codename})
			if err != nil {
				t.Fatal(err)
			}
			if tc.want == "" {
				if len(tr.Packages) != 0 || len(tr.Diagnostics.Errors()) != 1 {
					t.Fatalf("want no package and one error, got %s", describe(tr))
				}
				return
			}
			if len(tr.Packages) != 1 {
				t.Fatalf("got %s", describe(tr))
			}
			if got, _ := filepath.Rel(filepath.Join(repo, "p"), tr.Packages[0].MetaDir); got != tc.want {
				t.Errorf("meta dir %s, want %s", got, tc.want)
			}
		})
	}
}

// TestListChoice checks which package list applies per codename and type.
func TestListChoice(t *testing.T) {
	tests := []struct {
		name      string
		lists     []string
		codename  string
		buildType string
		want      string
	}{
		{"bullseye typed old style first", []string{"debian_pkg_dirs_std", "debian_bullseye_pkg_dirs_std", "debian_pkg_dirs"}, "bullseye", "std", "debian_pkg_dirs_std"},
		{"bullseye new style", []string{"debian_bullseye_pkg_dirs_std", "debian_pkg_dirs"}, "bullseye", "std", "debian_bullseye_pkg_dirs_std"},
		{"bullseye untyped for std", []string{"debian_pkg_dirs"}, "bullseye", "std", "debian_pkg_dirs"},
		{"bullseye untyped not for rt", []string{"debian_pkg_dirs"}, "bullseye", "rt", ""},
		{"trixie needs the codename", []string{"debian_pkg_dirs_std", "debian_pkg_dirs"}, "trixie", "std", ""},
		{"trixie rt", []string{"debian_trixie_pkg_dirs_std", "debian_trixie_pkg_dirs_rt"}, "trixie", "rt", "debian_trixie_pkg_dirs_rt"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			repo := filepath.Join(root, "cgcs-root", "stx", "r")
			for _, l := range tc.lists {
				write(t, filepath.Join(repo, l), "pkg-"+l+"\n")
				write(t, filepath.Join(repo, "pkg-"+l, "debian", "all", MetaFile), "debver: 1\n")
			}
			tr, err := Read(Config{Root: root, Codename: tc.codename, BuildType: tc.buildType})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range tr.Packages {
				got = append(got, p.Name)
			}
			want := []string{}
			if tc.want != "" {
				want = []string{"pkg-" + tc.want}
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("packages %v, want %v\n%s", got, want, describe(tr))
			}
		})
	}
}

// write creates file with content, making its directories.
func write(t *testing.T, file, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
