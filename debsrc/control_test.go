package debsrc

import (
	"strings"
	"testing"
	"time"
)

func TestParseControlErrors(t *testing.T) {
	tests := []struct {
		name, control, want string
	}{
		{"empty", "", "f:1: empty control file"},
		{"no source field", "Maintainer: x\n\nPackage: a\nArchitecture: any\n", "f:1: Source: missing in the first paragraph"},
		{"empty source field (found by FuzzParseControl)", "Source:\n\nPackage: ab\nArchitecture: any\n", "f:1: Source: empty"},
		{"no binaries", "Source: a\n", "f:1: no binary package paragraphs"},
		{"bad relation", "Source: a\nBuild-Depends: foo,\n bar (>= 1.0\n\nPackage: a\nArchitecture: any\n", "f:2: Build-Depends: "},
		{"bad version", "Source: a\nBuild-Depends-Arch: foo (>= a:b)\n\nPackage: a\nArchitecture: any\n", `f:2: Build-Depends-Arch: foo: bad version "a:b"`},
		{"bad name", "Source: a\nBuild-Depends: Foo\n\nPackage: a\nArchitecture: any\n", `f:2: Build-Depends: bad package name "Foo"`},
		{"missing arch", "Source: ab\n\nPackage: ab\nSection: x\n", "f:3: Architecture: missing in paragraph of ab"},
		{"missing package", "Source: a\n\nArchitecture: any\n", "f:3: Package: missing in binary paragraph"},
		{"duplicate field", "Source: a\nSection: x\nsection: y\n\nPackage: a\nArchitecture: any\n", "f:3: section: duplicate field (first on line 2)"},
		{"garbage line", "Source: a\nthis is not a field\n", `f:2: expected "Field: value"`},
		{"stray continuation", " leading\n", "f:1: continuation line outside a field"},
		{"bad build profiles", "Source: ab\n\nPackage: ab\nArchitecture: any\nBuild-Profiles: nocheck\n", `f:5: Build-Profiles: bad restriction formula "nocheck"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseControl("f", []byte(tc.control), "1.0")
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("err = %v, want prefix %q", err, tc.want)
			}
		})
	}
}

func TestParseControlFields(t *testing.T) {
	ctl := `# a comment
Source: foo
Build-Depends: debhelper-compat (= 13),
# comment inside a field
               libbar-dev (>= 1.0) [amd64] <!nocheck>,
Build-Depends-Indep: doxygen

Package: libfoo1
Architecture: linux-any
Multi-Arch: same

Package: libfoo-dev
Architecture: any
Provides: foo-api (= ${binary:Version}),
 foo-headers
Build-Profiles: <!stage1> <cross !nocheck>
`
	s, err := ParseControl("f", []byte(ctl), "2.0-1")
	if err != nil {
		t.Fatal(err)
	}
	if s.Name != "foo" || s.Version != "2.0-1" || len(s.Binaries) != 2 {
		t.Fatalf("got %+v", s)
	}
	if n := len(s.BuildDepends.Relations); n != 2 {
		t.Errorf("Build-Depends has %d relations", n)
	}
	dev := s.Binaries[1]
	if got := dev.Provides.Relations[0].Possibilities[0].Version.Number; got != "2.0-1" {
		t.Errorf("${binary:Version} expanded to %q", got)
	}
	if len(dev.BuildProfiles) != 2 || len(dev.BuildProfiles[1].Stages) != 2 || !dev.BuildProfiles[1].Stages[1].Not {
		t.Errorf("Build-Profiles = %+v", dev.BuildProfiles)
	}
	if s.Binaries[0].MultiArch != "same" {
		t.Errorf("Multi-Arch = %q", s.Binaries[0].MultiArch)
	}
}

func TestParseChangelog(t *testing.T) {
	good := "hello (2.10-3) unstable; urgency=medium\n\n  * Foo.\n\n -- Jane Doe <jane@example.org>  Fri, 23 Sep 2022 12:00:00 +0200\n\nhello (2.10-2) unstable; urgency=low\n"
	c, err := ParseChangelog("cl", []byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if c.Source != "hello" || c.Version != "2.10-3" || !c.Date.Equal(time.Date(2022, 9, 23, 10, 0, 0, 0, time.UTC)) {
		t.Errorf("got %+v", c)
	}
	bad := []struct{ in, want string }{
		{"", "cl:1: empty changelog"},
		{"hello 2.10 unstable\n", `cl:1: expected "source (version) distribution; urgency=...", got "hello 2.10 unstable"`},
		{"hello (a:b) unstable; urgency=low\n", `cl:1: version: bad version "a:b"`},
		{"hello (1.0) unstable; urgency=low\n\n  * x\n", `cl:1: top entry has no trailer line`},
		{"hello (1.0) unstable; urgency=low\n\n -- J <j@x>  yesterday\n", `cl:3: trailer: bad date "yesterday"`},
	}
	for _, b := range bad {
		if _, err := ParseChangelog("cl", []byte(b.in)); err == nil || !strings.HasPrefix(err.Error(), b.want) {
			t.Errorf("ParseChangelog(%q) err = %v, want prefix %q", b.in, err, b.want)
		}
	}
}

func TestParseDSC(t *testing.T) {
	dsc := `-----BEGIN PGP SIGNED MESSAGE-----
Hash: SHA512

Format: 3.0 (quilt)
Source: foo
Binary: libfoo1, foo-doc
Architecture: any all
Version: 1:2.0-1
Build-Depends: debhelper-compat (= 13), zlib1g-dev
Build-Depends-Indep: doxygen <!nodoc>
Package-List:
 foo-doc deb doc optional arch=all profile=!nodoc
 libfoo1 deb libs optional arch=any
 libfoo1-udeb udeb debian-installer optional arch=linux-any,kfreebsd-any profile=!noudeb+stage1
Checksums-Sha256:
 0000000000000000000000000000000000000000000000000000000000000000 1 foo_2.0.orig.tar.gz
-----BEGIN PGP SIGNATURE-----
xyz
-----END PGP SIGNATURE-----
`
	s, err := ParseDSC("foo.dsc", []byte(dsc))
	if err != nil {
		t.Fatal(err)
	}
	if s.Name != "foo" || s.Version != "1:2.0-1" || len(s.Binaries) != 3 {
		t.Fatalf("got %+v", s)
	}
	if !s.Binaries[0].IsIndep() || s.Binaries[1].IsIndep() {
		t.Errorf("arch of binaries wrong: %+v", s.Binaries)
	}
	if got := len(s.Binaries[2].BuildProfiles); got != 2 {
		t.Errorf("udeb profile sets = %d, want 2", got)
	}
	if _, err := ParseDSC("x.dsc", []byte("Source: foo\nVersion: 1\n")); err == nil || err.Error() != "x.dsc:1: Package-List: missing" {
		t.Errorf("missing Package-List: %v", err)
	}
	// Line numbers count the stripped signature header.
	if _, err := ParseDSC("x.dsc", []byte("-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\nSource: foo\nVersion: 1\nPackage-List:\n foo deb\n")); err == nil || err.Error() != `x.dsc:7: Package-List: expected "name type section priority [key=value...]", got "foo deb"` {
		t.Errorf("bad Package-List: %v", err)
	}
}
