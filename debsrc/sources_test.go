package debsrc

import (
	"os"
	"strings"
	"testing"
)

func TestParseSources(t *testing.T) {
	data, err := os.ReadFile("testdata/Sources")
	if err != nil {
		t.Fatal(err)
	}
	srcs, err := ParseSources("testdata/Sources", data)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range srcs {
		names = append(names, s.Name+" "+s.Version)
	}
	// tzdata: the highest of three versions; alabaster: Extra-Source-Only.
	if got, want := strings.Join(names, ", "), "hello 2.10-3, oldpkg 1.0-1, tzdata 2026f-0+deb12u1"; got != want {
		t.Fatalf("sources %q, want %q", got, want)
	}
	hello, old, tz := srcs[0], srcs[1], srcs[2]
	if len(hello.BuildDepends.Relations) != 3 || len(hello.Binaries) != 1 || hello.Binaries[0].Name != "hello" || hello.Binaries[0].IsIndep() {
		t.Errorf("hello: %+v", hello)
	}
	if len(tz.BuildDependsIndep.Relations) != 6 || !tz.Binaries[0].IsIndep() {
		t.Errorf("tzdata: %+v", tz)
	}
	if len(old.Binaries) != 2 || old.Binaries[1].Name != "oldpkg-doc" || len(old.Binaries[1].Architectures) != 2 {
		t.Errorf("oldpkg (no Package-List): %+v", old.Binaries)
	}
	if !strings.HasPrefix(hello.Origin, "testdata/Sources:") {
		t.Errorf("origin %q", hello.Origin)
	}
}

func TestParseSourcesErrors(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"Package: a\n", "S:1: Version: missing"},
		{"Package: a\nVersion: 1\nBuild-Depends: b (>> )\n", "S:3: Build-Depends:"},
		{"Package: a\nVersion: 1\nBinary: a\n", `S:1: Architecture: bad or missing ""`},
		{"Package: a\nVersion: 1\nPackage-List:\n a deb\n", "S:4: Package-List:"},
	} {
		if _, err := ParseSources("S", []byte(tt.in)); err == nil || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("ParseSources(%q) = %v, want %q", tt.in, err, tt.want)
		}
	}
}
