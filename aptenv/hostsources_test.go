package aptenv

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseHostSources(t *testing.T) {
	const key = "/usr/share/keyrings/example-archive.gpg"
	tests := []struct {
		root string
		want []Source
	}{
		{
			root: "oneline",
			want: []Source{
				{Types: []string{"deb"}, URIs: []string{"http://mirror.example/debian"}, Suites: []string{"bookworm"},
					Components: []string{"main", "contrib"}, File: "etc/apt/sources.list", Line: 2},
				{Types: []string{"deb-src"}, URIs: []string{"http://mirror.example/debian"}, Suites: []string{"bookworm"},
					Components: []string{"main", "contrib"}, File: "etc/apt/sources.list", Line: 3},
				{Types: []string{"deb"}, URIs: []string{"http://mirror.example/debian"}, Suites: []string{"bookworm-updates"},
					Components: []string{"contrib", "main"}, SignedBy: key, Arch: []string{"amd64", "arm64"},
					File: "etc/apt/sources.list", Line: 5},
				{Types: []string{"deb"}, URIs: []string{"http://security.example/debian-security"}, Suites: []string{"bookworm-security"},
					Components: []string{"main"}, File: "etc/apt/sources.list", Line: 6},
				{Types: []string{"deb"}, URIs: []string{"http://mirror.example/debian"}, Suites: []string{"trixie"},
					Components: []string{"main"}, File: "etc/apt/sources.list", Line: 7},
				{Types: []string{"deb"}, URIs: []string{"file:/srv/repo"}, Suites: []string{"./"},
					File: "etc/apt/sources.list.d/local.list", Line: 1},
			},
		},
		{
			root: "deb822",
			want: []Source{
				{Types: []string{"deb"}, URIs: []string{"http://mirror.example/debian"}, Suites: []string{"bookworm", "bookworm-updates"},
					Components: []string{"main"}, SignedBy: key, File: "etc/apt/sources.list.d/debian.sources", Line: 1},
				{Types: []string{"deb"}, URIs: []string{"http://security.example/debian-security"}, Suites: []string{"bookworm-security"},
					Components: []string{"main"}, SignedBy: key, File: "etc/apt/sources.list.d/debian.sources", Line: 8},
				{Types: []string{"deb"}, URIs: []string{"http://other.example/apt"}, Suites: []string{"bookworm-extra"},
					Components: []string{"main", "non-free"}, Arch: []string{"amd64"},
					SignedBy: "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nbm90IGEgcmVhbCBrZXk=\n-----END PGP PUBLIC KEY BLOCK-----",
					File:     "etc/apt/sources.list.d/inline-key.sources", Line: 1},
			},
		},
		{
			root: "mixed",
			want: []Source{
				{Types: []string{"deb"}, URIs: []string{"http://mirror.example/debian"}, Suites: []string{"bookworm"},
					Components: []string{"main"}, File: "etc/apt/sources.list", Line: 1},
				{Types: []string{"deb", "deb-src"}, URIs: []string{"http://security.example/debian-security"}, Suites: []string{"bookworm-security"},
					Components: []string{"main"}, SignedBy: key, File: "etc/apt/sources.list.d/security.sources", Line: 1},
				{Types: []string{"deb"}, URIs: []string{"http://mirror.example/debian"}, Suites: []string{"bookworm-updates"},
					Components: []string{"main"}, File: "etc/apt/sources.list.d/updates.list", Line: 1},
			},
		},
		{root: "empty", want: nil},
		{root: "does-not-exist", want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.root, func(t *testing.T) {
			root := filepath.Join("testdata/hosts", tt.root)
			got, err := ParseHostSources(root)
			if err != nil {
				t.Fatal(err)
			}
			for i := range tt.want {
				tt.want[i].File = filepath.Join(root, tt.want[i].File)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseHostSources(%s):\n got %+v\nwant %+v", root, got, tt.want)
			}
		})
	}
}

func TestParseHostSourcesErrors(t *testing.T) {
	tests := []struct {
		root, want string
	}{
		{"bad-oneline", "testdata/hosts/bad-oneline/etc/apt/sources.list:3: want"},
		{"bad-deb822", "testdata/hosts/bad-deb822/etc/apt/sources.list.d/debian.sources:6: stanza has no Suites field"},
	}
	for _, tt := range tests {
		t.Run(tt.root, func(t *testing.T) {
			_, err := ParseHostSources(filepath.Join("testdata/hosts", tt.root))
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("error = %v, want prefix %q", err, tt.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, file, data, want string
	}{
		{"unknown type", "a.list", "rpm http://mirror.example/ bookworm main\n", `a.list:1: unknown type "rpm"`},
		{"no components", "a.list", "\ndeb http://mirror.example/debian bookworm\n", `a.list:2: suite "bookworm" needs at least one component`},
		{"exact path with components", "a.list", "deb http://mirror.example/repo ./ main\n", `a.list:1: suite "./" is an exact path`},
		{"unterminated options", "a.list", "deb [arch=amd64 http://mirror.example/debian bookworm main\n", `a.list:1: unterminated option list`},
		{"bad option", "a.list", "deb [arch] http://mirror.example/debian bookworm main\n", `a.list:1: option "arch" is not key=value`},
		{"deb822 bad enabled", "a.sources", "Types: deb\nURIs: http://mirror.example/debian\nSuites: bookworm\nComponents: main\nEnabled: maybe\n", `a.sources:5: Enabled: want yes or no`},
		{"deb822 bad type", "a.sources", "Types: deb rpm\nURIs: http://mirror.example/debian\nSuites: bookworm\nComponents: main\n", `a.sources:1: unknown type "rpm"`},
		{"deb822 no components", "a.sources", "\n\nTypes: deb\nURIs: http://mirror.example/debian\nSuites: bookworm\n", `a.sources:3: suite "bookworm" needs at least one component`},
		{"deb822 repeated field", "a.sources", "Types: deb\nTypes: deb-src\n", `a.sources:2: Types: duplicate field (first on line 1)`},
		{"deb822 stray continuation", "a.sources", " main\n", `a.sources:1: continuation line outside a field`},
		{"deb822 not a field", "a.sources", "Types deb\n", `a.sources:1: expected "Field: value"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			if strings.HasSuffix(tt.file, ".sources") {
				_, err = parseDeb822(tt.file, []byte(tt.data))
			} else {
				_, err = parseOneLine(tt.file, []byte(tt.data))
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestParseDeb822Enabled(t *testing.T) {
	data := "Types: deb\nURIs: http://mirror.example/debian\nSuites: bookworm\nComponents: main\nEnabled: yes\n\n" +
		"Types: deb\nURIs: http://mirror.example/debian\nSuites: trixie\nComponents: main\nEnabled: no\n"
	got, err := parseDeb822("a.sources", []byte(data))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Suites[0] != "bookworm" {
		t.Errorf("got %+v, want only the enabled bookworm stanza", got)
	}
}
