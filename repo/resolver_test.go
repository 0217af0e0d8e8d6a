package repo

import (
	"testing"
)

// TestResolverDigest: the digest build-dependency resolutions are cached
// under changes with what apt resolves from (a version, a relation, a
// package more) and not with a rebuild's bytes alone.
func TestResolverDigest(t *testing.T) {
	r := open(t, "amd64")
	digest := func() string {
		t.Helper()
		d, err := r.ResolverDigest()
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	empty := digest()

	rebuilt := libstx1
	rebuilt.payload = "a rebuild with other bytes\n"
	newer := libstx1
	newer.version = "1.1-1"
	related := libstx1
	related.fields += "Breaks: libstx0\n"
	// A debug package names its binaries' build IDs: any rebuild that
	// changes a binary changes them, and apt does not read them.
	dbgsym := pkg{name: "libstx1-dbgsym", version: "1.0-1", arch: "amd64", source: "libstx",
		fields: "Depends: libstx1 (= 1.0-1)\nBuild-Ids: 2e59b058bce96bc945e4b54ea09d300ae596e765\n"}
	dbgsymRebuilt := dbgsym
	dbgsymRebuilt.fields = "Depends: libstx1 (= 1.0-1)\nBuild-Ids: 57433019ed82f8f91adcfde2cc5cb4874d5abff0\n"
	dbgsymRebuilt.payload = "other bytes\n"

	steps := []struct {
		name    string
		deb     pkg
		changed bool
	}{
		{"first", libstx1, true},
		{"same package again", libstx1, false},
		{"same version, other bytes", rebuilt, false},
		{"new version", newer, true},
		{"back to the old version", libstx1, true},
		{"a changed relation", related, true},
		{"another package", libstxDev, true},
		{"a debug package", dbgsym, true},
		{"its rebuild with other Build-Ids", dbgsymRebuilt, false},
	}
	seen := map[string]string{empty: "empty"}
	prev := empty
	for _, s := range steps {
		publish(t, r, buildDebs(t, "xz", s.deb)...)
		d := digest()
		if got := d != prev; got != s.changed {
			t.Errorf("%s: digest changed %v, want %v", s.name, got, s.changed)
		}
		if s.changed && s.name != "back to the old version" {
			if other, ok := seen[d]; ok {
				t.Errorf("%s: same digest as %s", s.name, other)
			}
		}
		seen[d] = s.name
		prev = d
	}

	// Another architecture's repository with the same packages is another
	// view: its indexes name the other architecture.
	if o := open(t, "arm64"); mustDigest(t, o) == empty {
		t.Error("an empty arm64 repository has the empty amd64 one's digest")
	}
}

func mustDigest(t *testing.T, r *Repo) string {
	t.Helper()
	d, err := r.ResolverDigest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestResolverView(t *testing.T) {
	idx := "Package: a\nVersion: 1\nArchitecture: amd64\nInstalled-Size: 3\nDepends: b\nFilename: pool/a.deb\nSize: 10\nMD5sum: x\nSHA1: y\nSHA256: z\n\n" +
		"Package: b\nVersion: 2\nArchitecture: all\nBuild-Ids: 2e59b058 7dc14b1e\nSHA512: w\n"
	got, err := resolverView("Packages", []byte(idx))
	if err != nil {
		t.Fatal(err)
	}
	want := "Package: a\nVersion: 1\nArchitecture: amd64\nDepends: b\n\nPackage: b\nVersion: 2\nArchitecture: all\n\n"
	if got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if _, err := resolverView("Packages", []byte("not deb822\n")); err == nil {
		t.Error("a broken index: no error")
	}
}
