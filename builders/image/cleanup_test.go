package image

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestRemovePaths(t *testing.T) {
	outside := t.TempDir()
	os.WriteFile(filepath.Join(outside, "precious"), []byte("host file"), 0o644)
	root := t.TempDir()
	makeTree(t, root, map[string]string{
		"usr/share/man/man1/a.1":              "a",
		"usr/share/doc/a/changelog.gz":        "c",
		"usr/share/doc/a/copyright":           "c",
		"usr/share/doc/b/changelog.Debian.gz": "c",
		"usr/lib/x":                           "x",
		"lib":                                 "->usr/lib",
		"evil":                                "->" + outside,
	})
	removed, err := removePaths(root, []string{"/usr/share/man", "/usr/share/doc/*/changelog*", "/lib/x", "/evil/*", "/nothing/*"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"usr/share/doc/a/changelog.gz", "usr/share/doc/b/changelog.Debian.gz", "usr/share/man"}
	if !reflect.DeepEqual(removed, want) {
		t.Errorf("removed %q, want %q", removed, want)
	}
	for _, keep := range []string{"usr/share/doc/a/copyright", "usr/lib/x"} {
		if _, err := os.Stat(filepath.Join(root, keep)); err != nil {
			t.Errorf("%s removed: %v", keep, err)
		}
	}
	if _, err := os.Stat(filepath.Join(outside, "precious")); err != nil {
		t.Errorf("a pattern through a symlink removed a file outside the root: %v", err)
	}
}
