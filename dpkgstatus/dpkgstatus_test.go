package dpkgstatus

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"syscall"
	"testing"

	"github.com/stx-build/stx-build/internal/regularfile"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name, data string
		want       []Package
	}{{
		name: "installed, held and selected for removal count; config-files and half-installed do not",
		data: `Package: zlib1g
Status: install ok installed
Architecture: arm64
Source: zlib (1:1.2.13.dfsg-1)
Version: 1:1.2.13.dfsg-1+b1

Package: removed
Status: deinstall ok config-files
Version: 1
Architecture: all

Package: held
Status: hold ok installed
Version: 2
Architecture: all

Package: going
Status: deinstall ok installed
Version: 3
Architecture: amd64
Source: gone

Package: broken
Status: install reinstreq half-installed
Version: 4
Architecture: all

Package: base-files
Status: install ok installed
Architecture: arm64
Version: 12.4+deb12u5
`,
		want: []Package{
			{"base-files", "12.4+deb12u5", "arm64", "base-files", "12.4+deb12u5"},
			{"going", "3", "amd64", "gone", "3"},
			{"held", "2", "all", "held", "2"},
			{"zlib1g", "1:1.2.13.dfsg-1+b1", "arm64", "zlib", "1:1.2.13.dfsg-1"},
		},
	}, {
		name: "sorted by name, then architecture; nameless entries left out",
		data: "Package: libc6\nStatus: install ok installed\nArchitecture: i386\nVersion: 1\n\n" +
			"Package: libc6\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1\n\n" +
			"Status: install ok installed\nVersion: 1\n",
		want: []Package{{"libc6", "1", "amd64", "libc6", "1"}, {"libc6", "1", "i386", "libc6", "1"}},
	}, {
		name: "empty",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse("status", []byte(tc.data))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %v\nwant %v", got, tc.want)
			}
		})
	}
}

func TestParseError(t *testing.T) {
	_, err := Parse("root/var/lib/dpkg/status", []byte("Package: a\nnot a field\n"))
	if err == nil || err.Error() != `root/var/lib/dpkg/status:2: expected "Field: value", got "not a field"` {
		t.Errorf("error %v", err)
	}
}

func TestRoot(t *testing.T) {
	root := t.TempDir()
	file := filepath.Join(root, Path)
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := Root(root); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing status: %v", err)
	}
	if err := syscall.Mkfifo(file, 0o644); err != nil {
		t.Fatal(err)
	}
	var refusal *regularfile.Refusal
	if _, err := Root(root); !errors.As(err, &refusal) {
		t.Errorf("a FIFO is read: %v", err)
	}
	if err := os.Remove(file); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, []byte("Package: a\nStatus: install ok installed\nVersion: 1\nArchitecture: all\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := Root(root)
	if err != nil || !reflect.DeepEqual(got, []Package{{"a", "1", "all", "a", "1"}}) {
		t.Errorf("got %v, %v", got, err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("Package: a\nStatus: install ok installed\nVersion: 1\nArchitecture: all\nSource: b (2)\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		pkgs, err := Parse("status", data)
		if err != nil {
			return
		}
		for i, p := range pkgs {
			if p.Name == "" || p.Source == "" {
				t.Fatalf("package %d: %+v", i, p)
			}
			if i > 0 && Compare(pkgs[i-1], p) > 0 {
				t.Fatalf("not sorted: %+v before %+v", pkgs[i-1], p)
			}
		}
	})
}
