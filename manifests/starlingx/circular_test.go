package starlingx

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestCircularGroups reads a circular_dep.conf the way dsc_depend.py
// does (comments, SRC SET then BUILD ORDER, runs of spaces) and checks
// Before (first appearance decides) and Repeated.
func TestCircularGroups(t *testing.T) {
	root := t.TempDir()
	conf := filepath.Join(root, "cgcs-root", "build-tools", "stx", "circular_dep.conf")
	if err := os.MkdirAll(filepath.Dir(conf), 0o755); err != nil {
		t.Fatal(err)
	}
	data := "# a b c\n# BUILD ORDER: x\nSRC SET: a b c\nBUILD ORDER: c   a b c a\n\nSRC SET: d\nBUILD ORDER: d\nBUILD ORDER: orphan\n"
	if err := os.WriteFile(conf, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	tr := &Tree{Config: Config{Root: root}, MyRepo: filepath.Join(root, "cgcs-root")}
	groups := tr.CircularGroups()
	if len(groups) != 2 {
		t.Fatalf("groups %+v, want 2 (an order without a set is not a group)", groups)
	}
	g := groups[0]
	if g.Line != 4 || g.File != "cgcs-root/build-tools/stx/circular_dep.conf" || !slices.Equal(g.Order, []string{"c", "a", "b", "c", "a"}) {
		t.Errorf("group %+v", g)
	}
	for _, c := range []struct {
		a, b string
		want bool
	}{{"c", "a", true}, {"a", "c", false}, {"a", "b", true}, {"b", "a", false}, {"a", "d", false}} {
		if got := g.Before(c.a, c.b); got != c.want {
			t.Errorf("Before(%s, %s) = %v, want %v", c.a, c.b, got, c.want)
		}
	}
	if r := g.Repeated(); !slices.Equal(r, []string{"c", "a"}) {
		t.Errorf("Repeated = %v, want [c a]", r)
	}
	if r := groups[1].Repeated(); r != nil {
		t.Errorf("Repeated of a plain group = %v", r)
	}
}
