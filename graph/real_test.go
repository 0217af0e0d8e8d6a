package graph_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stx-build/stx-build/debsrc"
	"github.com/stx-build/stx-build/graph"
)

var update = flag.Bool("update", false, "rewrite golden files")

// realVersions are the archive versions the testdata control files came
// from (see testdata/control/README.md).
var realVersions = map[string]string{
	"curl": "7.88.1-10+deb12u15", "dbus": "1.14.10-1~deb12u1", "gettext": "0.21-12",
	"glib2.0": "2.74.6-2+deb12u9", "hello": "2.10-3", "libgpiod": "1.6.3-1",
	"libpng1.6": "1.6.39-2+deb12u5", "libtasn1-6": "4.19.0-2+deb12u1",
	"libxml2": "2.9.14+dfsg-1.3~deb12u6", "ncurses": "6.4-4", "python3-defaults": "3.11.2-1",
	"systemd": "252.39-1~deb12u2", "tree": "2.1.0-1", "util-linux": "2.38.1-5+deb12u3",
	"xz-utils": "5.4.1-1+deb12u2", "zlib": "1:1.2.13.dfsg-1",
}

func realSources(t *testing.T) []graph.Source {
	t.Helper()
	files, err := filepath.Glob("testdata/control/*.control")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata control files: %v", err)
	}
	var srcs []graph.Source
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".control")
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		ver, ok := realVersions[name]
		if !ok {
			t.Fatalf("%s: add its version to realVersions", f)
		}
		s, err := debsrc.ParseControl(f, data, ver)
		if err != nil {
			t.Fatal(err)
		}
		if s.Name != name {
			t.Fatalf("%s: Source is %q", f, s.Name)
		}
		srcs = append(srcs, s)
	}
	return srcs
}

// TestRealControlGolden compiles real Debian control files for both
// architectures and with and without the nocheck/nodoc profiles, and
// compares the JSON with golden files (regenerate: make golden).
func TestRealControlGolden(t *testing.T) {
	// The breaks a release engineer would add after reading the cycle errors.
	breaks := []graph.CycleBreak{
		{Package: "glib2.0", Binary: "dbus-daemon"}, {Package: "glib2.0", Binary: "libdbus-1-dev"},
		{Package: "xz-utils", Binary: "autopoint"}, {Package: "xz-utils", Binary: "gettext"},
		{Package: "systemd", Binary: "libdbus-1-dev"},
		{Package: "util-linux", Binary: "libsystemd-dev"}, {Package: "util-linux", Binary: "libudev-dev"}, {Package: "util-linux", Binary: "systemd"},
	}
	cases := []struct {
		name string
		opts graph.Options
	}{
		{"amd64", graph.Options{Arch: "amd64", Indep: true, CycleBreaks: breaks}},
		{"arm64", graph.Options{Arch: "arm64", CycleBreaks: breaks}},
		{"arm64-cross", graph.Options{Arch: "arm64", BuildArch: "amd64", Profiles: []string{"cross", "nocheck"}, CycleBreaks: breaks}},
		{"amd64-nocheck-nodoc", graph.Options{Arch: "amd64", Indep: true, Profiles: []string{"nocheck", "nodoc"}, CycleBreaks: breaks}},
	}
	srcs := realSources(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g, err := graph.Compile(srcs, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			if err := graph.WriteJSON(&buf, g); err != nil {
				t.Fatal(err)
			}
			golden(t, filepath.Join("testdata", "real-"+tc.name+".golden.json"), buf.Bytes())
		})
	}
}

// TestRealCyclesGolden checks that the real cycles among these Debian sources
// (glib2.0 tests with dbus; gettext and xz-utils need each other) are found
// and named with the binary that closes each edge.
func TestRealCyclesGolden(t *testing.T) {
	_, err := graph.Compile(realSources(t), graph.Options{Arch: "amd64", Indep: true})
	if err == nil {
		t.Fatal("want a cycle error")
	}
	golden(t, filepath.Join("testdata", "real-cycles.golden.txt"), []byte(err.Error()+"\n"))
}

func golden(t *testing.T, file string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(file, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (run: make golden)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (run make golden and review the diff):\n%s", file, firstDiff(string(want), string(got)))
	}
}

func firstDiff(want, got string) string {
	wl, gl := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(wl) && i < len(gl); i++ {
		if wl[i] != gl[i] {
			return "line " + strconv.Itoa(i+1) + ":\n  want: " + wl[i] + "\n  got:  " + gl[i]
		}
	}
	return "lengths differ"
}
