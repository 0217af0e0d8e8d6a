package deb822

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	data := "# a comment\r\n" +
		"Source: hello\n" +
		"Build-Depends: debhelper-compat (= 13),\n" +
		" texinfo\n" +
		"\n" +
		"\n" +
		"Package: hello\n" +
		"# inside a paragraph\n" +
		"Description: greets\n" +
		" .\n" +
		" the world\n"
	got, err := Parse("debian/control", []byte(data))
	if err != nil {
		t.Fatal(err)
	}
	want := []Paragraph{
		{Line: 2, Fields: []Field{
			{Name: "Source", Value: "hello", Line: 2},
			{Name: "Build-Depends", Value: "debhelper-compat (= 13),\ntexinfo", Line: 3},
		}},
		{Line: 7, Fields: []Field{
			{Name: "Package", Value: "hello", Line: 7},
			{Name: "Description", Value: "greets\n.\nthe world", Line: 9},
		}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
	if v := got[0].Value("build-depends"); v != "debhelper-compat (= 13),\ntexinfo" {
		t.Errorf("Value is not case-insensitive: %q", v)
	}
	if _, ok := got[1].Get("Source"); ok {
		t.Error("Get found a field of another paragraph")
	}
}

// The body of a signed .dsc is read; lines count from the file's start.
func TestParseSigned(t *testing.T) {
	data := "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\nFormat: 3.0 (quilt)\nSource: hello\n\n-----BEGIN PGP SIGNATURE-----\nxyz\n-----END PGP SIGNATURE-----\n"
	got, err := Parse("hello.dsc", []byte(data))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Value("Source") != "hello" || got[0].Line != 4 {
		t.Errorf("got %+v", got)
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		data string
		want string
	}{
		{" leading continuation\n", "f:1: continuation line outside a field"},
		{"A: 1\n\n continuation after a blank line\n", "f:3: continuation line outside a field"},
		{"A: 1\nno colon here\n", `f:2: expected "Field: value", got "no colon here"`},
		{"A: 1\nTwo words: x\n", `f:2: expected "Field: value", got "Two words: x"`},
		{": empty name\n", `f:1: expected "Field: value", got ": empty name"`},
		{"A: 1\nB: 2\na: 3\n", "f:3: a: duplicate field (first on line 1)"},
	} {
		_, err := Parse("f", []byte(tc.data))
		var pe *ParseError
		if !errors.As(err, &pe) || err.Error() != tc.want {
			t.Errorf("%q: error %v, want %s", tc.data, err, tc.want)
		}
	}
}

// Where Parse fails, ParseLenient skips the line or keeps the last of a
// repeated field, and continuation lines go to the field before them.
func TestParseLenient(t *testing.T) {
	data := " stray continuation\n" +
		"Format: copyright-format/1.0\n" +
		"\n" +
		"Files: *\n" +
		"License: GPL-2\n" +
		"not a field\n" +
		" continues License\n" +
		"License: MIT\n" +
		" the text\n" +
		"Copyright: 2024 someone\n"
	got := ParseLenient([]byte(data))
	want := []Paragraph{
		{Line: 2, Fields: []Field{{Name: "Format", Value: "copyright-format/1.0", Line: 2}}},
		{Line: 4, Fields: []Field{
			{Name: "Files", Value: "*", Line: 4},
			{Name: "License", Value: "MIT\nthe text", Line: 8},
			{Name: "Copyright", Value: "2024 someone", Line: 10},
		}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
	if _, err := Parse("copyright", []byte(data)); err == nil {
		t.Error("Parse accepted what only ParseLenient should")
	}
	// Free text with a colon is a paragraph of its own, so the structured
	// paragraph after it is not taken for the first one.
	free := ParseLenient([]byte("This package was made on\nMon, 15 Jan 2001 18:21:37 -0500.\n\nFormat: copyright-format/1.0\n"))
	if len(free) != 2 || free[0].Value("Format") != "" || free[1].Value("Format") == "" {
		t.Errorf("free text: %+v", free)
	}
}

// Both parsers take any input without panicking, and agree on what the
// strict one accepts.
func FuzzParse(f *testing.F) {
	f.Add([]byte("Source: a\nBuild-Depends: b,\n c\n\nPackage: a\n"))
	f.Add([]byte("-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\nA: 1\n-----BEGIN PGP SIGNATURE-----\n"))
	f.Add([]byte("A: 1\na: 2\n x\n#c\n\n y\nno field\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		strict, err := Parse("f", data)
		lenient := ParseLenient(data)
		if err == nil && !reflect.DeepEqual(strict, lenient) {
			t.Errorf("strict %+v, lenient %+v", strict, lenient)
		}
	})
}

func TestParseFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "control")
	if err := os.WriteFile(file, []byte("Source: x\n\nPackage: y\nArchitecture: all\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ps, err := ParseFile(file)
	if err != nil || len(ps) != 2 || ps[1].Value("Package") != "y" {
		t.Fatalf("ParseFile: %v %+v", err, ps)
	}
	if err := os.WriteFile(file, []byte("Source: x\n bad continuation\nno colon\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ParseFile(file); err == nil || !strings.Contains(err.Error(), file) {
		t.Errorf("a malformed file: %v, want an error naming it", err)
	}
	if _, err := ParseFile(filepath.Join(t.TempDir(), "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a missing file: %v", err)
	}
}
