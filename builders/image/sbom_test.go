package image

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

const statusFile = `Package: libc6
Status: install ok installed
Architecture: amd64
Multi-Arch: same
Source: glibc
Version: 2.36-9+deb12u14
Description: GNU C Library
 continuation line

Package: gone
Status: deinstall ok config-files
Architecture: amd64
Version: 1.0

Package: bash
Status: install ok installed
Architecture: amd64
Source: bash (5.2.15-2)
Version: 5.2.15-2+b13

Package: stx-hello
Status: install ok installed
Architecture: amd64
Version: 1.0
`

func TestReadInstalled(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "var/lib/dpkg"), 0o755)
	os.WriteFile(filepath.Join(root, "var/lib/dpkg/status"), []byte(statusFile), 0o644)
	got, err := readInstalled(root)
	if err != nil {
		t.Fatal(err)
	}
	want := []Package{
		{Name: "bash", Version: "5.2.15-2+b13", Architecture: "amd64", Source: "bash", SourceVersion: "5.2.15-2"},
		{Name: "libc6", Version: "2.36-9+deb12u14", Architecture: "amd64", Source: "glibc", SourceVersion: "2.36-9+deb12u14"},
		{Name: "stx-hello", Version: "1.0", Architecture: "amd64", Source: "stx-hello", SourceVersion: "1.0"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
}

func TestCopyrightLicense(t *testing.T) {
	const header = "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\nUpstream-Name: x\n\n"
	tests := []struct{ name, text, want string }{
		{"not machine-readable", "This is hello, written by ...\nLicense: GPL\n", ""},
		{"one", header + "Files: *\nCopyright: 2024 x\nLicense: MIT\n\nLicense: MIT\n Permission is hereby granted\n", "MIT"},
		{"debian names", header + "Files: *\nLicense: GPL-2+\n\nFiles: debian/*\nLicense: Expat\n", "GPL-2.0-or-later AND MIT"},
		{"and, or, dedup", header + "Files: *\nLicense: GPL-3+\n\nFiles: a/*\nLicense: GPL-3+ and ISC\n\nFiles: b/*\nLicense: GPL-2+ or Artistic\n",
			"(GPL-2.0-or-later OR Artistic-1.0-Perl) AND GPL-3.0-or-later AND ISC"},
		{"or only", header + "Files: *\nLicense: GPL-1+ or Artistic\n", "GPL-1.0-or-later OR Artistic-1.0-Perl"},
		{"exception and unknown", header + "Files: *\nLicense: GPL-3+ with Bison exception\n\nFiles: x\nLicense: permissive\n",
			"LicenseRef-GPL-3-with-Bison-exception AND LicenseRef-permissive"},
		{"header license", "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\nLicense: BSD-3-clause\n", "BSD-3-Clause"},
	}
	for _, tt := range tests {
		if got := copyrightLicense([]byte(tt.text)); got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestLocalClosureEpoch(t *testing.T) {
	dir := t.TempDir()
	idx := filepath.Join(dir, "dists/stx/main/binary-amd64")
	os.MkdirAll(idx, 0o755)
	os.WriteFile(filepath.Join(idx, "Packages"), []byte(`Package: stx-hello
Version: 1.0
Architecture: amd64
Depends: libstx1 (>= 1.0), libc6 (>= 2.34)
SHA256: aa

Package: libstx1
Source: libstx
Version: 1.0
Architecture: amd64
Pre-Depends: stx-base | other:any
SHA256: bb

Package: stx-base
Source: stx-base-src (2)
Version: 2
Architecture: all

Package: unrelated
Version: 1
Architecture: amd64
`), 0o644)
	local, err := readLocalRepo(dir, "amd64")
	if err != nil {
		t.Fatal(err)
	}
	closure := localClosure(local, []string{"stx-hello=1.0", "bash"})
	var got []string
	for _, b := range closure {
		got = append(got, b.name+"/"+b.source)
	}
	if want := []string{"libstx1/libstx", "stx-base/stx-base-src", "stx-hello/stx-hello"}; !reflect.DeepEqual(got, want) {
		t.Errorf("closure %v, want %v", got, want)
	}
	day := func(d int) time.Time { return time.Date(2024, 1, d, 0, 0, 0, 0, time.UTC) }
	logs := map[string]time.Time{"libstx": day(5), "stx-hello": day(3), "unrelated": day(20)}
	if got := imageEpoch(closure, logs, day(1)); !got.Equal(day(5)) {
		t.Errorf("epoch %v", got)
	}
	if got := imageEpoch(localClosure(local, []string{"bash"}), logs, day(1)); !got.Equal(day(1)) {
		t.Errorf("fallback epoch %v", got)
	}
	if none, err := readLocalRepo(filepath.Join(dir, "missing"), "amd64"); err != nil || len(none) != 0 {
		t.Errorf("missing repository: %v %v", none, err)
	}
}

func TestMakeSBOM(t *testing.T) {
	in := sbomInput{
		Project: "Example OS", Image: "app", Suite: "bookworm", Arch: "arm64", Epoch: testEpoch,
		Manifest: v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("ab", 32)},
		Packages: []Package{
			{Name: "libc6", Version: "2.36-9", Architecture: "arm64", Source: "glibc", SourceVersion: "2.36-9"},
			{Name: "libstdc++6", Version: "1:12.2.0-14", Architecture: "arm64", Source: "gcc-12", SourceVersion: "12.2.0-14", License: "GPL-3.0-or-later AND LicenseRef-GPL-3-with-GCC-exception"},
			{Name: "stx-hello", Version: "1.0", Architecture: "arm64", Source: "stx-hello", SourceVersion: "1.0", License: "MIT", Local: true, SHA256: "cd"},
		},
	}
	a, err := makeSBOM(in)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := makeSBOM(in)
	if string(a) != string(b) {
		t.Error("SBOM not deterministic")
	}
	var doc map[string]any
	if err := json.Unmarshal(a, &doc); err != nil {
		t.Fatal(err)
	}
	if doc["spdxVersion"] != "SPDX-2.3" || doc["creationInfo"].(map[string]any)["created"] != "2024-01-01T00:00:00Z" {
		t.Errorf("header: %v", doc)
	}
	pkgs := doc["packages"].([]any)
	if len(pkgs) != 4 {
		t.Fatalf("%d packages", len(pkgs))
	}
	purl := func(i int) string {
		return pkgs[i].(map[string]any)["externalRefs"].([]any)[0].(map[string]any)["referenceLocator"].(string)
	}
	for i, want := range []string{
		"pkg:oci/app@sha256%3A" + strings.Repeat("ab", 32) + "?arch=arm64",
		"pkg:deb/debian/libc6@2.36-9?arch=arm64&distro=bookworm&upstream=glibc%402.36-9",
		"pkg:deb/debian/libstdc++6@1:12.2.0-14?arch=arm64&distro=bookworm&upstream=gcc-12%4012.2.0-14",
		"pkg:deb/example-os/stx-hello@1.0?arch=arm64&distro=bookworm",
	} {
		if got := purl(i); got != want {
			t.Errorf("purl %d: %s, want %s", i, got, want)
		}
	}
	if id := pkgs[2].(map[string]any)["SPDXID"]; id != "SPDXRef-Package-deb-libstdc-6-arm64" {
		t.Errorf("SPDXID %v", id)
	}
	rels := doc["relationships"].([]any)
	if len(rels) != 4 {
		t.Errorf("%d relationships", len(rels))
	}
	ext := doc["hasExtractedLicensingInfos"].([]any)
	if len(ext) != 1 || ext[0].(map[string]any)["licenseId"] != "LicenseRef-GPL-3-with-GCC-exception" {
		t.Errorf("extracted licenses: %v", ext)
	}
	if !strings.Contains(string(a), `"checksumValue": "cd"`) {
		t.Error("local package checksum missing")
	}
}
