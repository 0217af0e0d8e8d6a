package aptenv

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseBinaries(t *testing.T) {
	in := `Package: libc6
Version: 2.36-9+deb12u9
Architecture: amd64
Multi-Arch: same
Essential: no
Pre-Depends: libgcc-s1
Depends: libc-bin (>= 2.36),
 tzdata
Description: GNU C Library
 continuation that is not a relation

Package: dash
Essential: yes
Version: 0.5.12-2
Architecture: amd64
Pre-Depends: libc6 (>= 2.34), debianutils (>= 5.6-0.1)

Package: doc
Version: 1
Architecture: all
`
	got, err := ParseBinaries(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []Binary{
		{Name: "libc6", Version: "2.36-9+deb12u9", Architecture: "amd64", MultiArch: "same", Depends: "libgcc-s1, libc-bin (>= 2.36), tzdata"},
		{Name: "dash", Version: "0.5.12-2", Architecture: "amd64", Essential: true, Depends: "libc6 (>= 2.34), debianutils (>= 5.6-0.1)"},
		{Name: "doc", Version: "1", Architecture: "all"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
	if _, err := ParseBinaries(strings.NewReader("Package: x\nnot a field\n")); err == nil {
		t.Error("a line without a colon was accepted")
	}
}
