package cache

import (
	"strings"
	"testing"
)

func TestKeyOf(t *testing.T) {
	in := func(kv ...string) []Input {
		var out []Input
		for i := 0; i+2 < len(kv)+1; i += 3 {
			out = append(out, Input{Kind: kv[i], Name: kv[i+1], Value: kv[i+2]})
		}
		return out
	}
	ref, err := KeyOf(in("source", "a.c", "file 1", "build", "arch", "amd64"))
	if err != nil {
		t.Fatal(err)
	}
	if !ref.Valid() {
		t.Fatalf("key %q is not valid", ref)
	}
	tests := []struct {
		name   string
		inputs []Input
		same   bool
	}{
		{"same inputs in another order", in("build", "arch", "amd64", "source", "a.c", "file 1"), true},
		{"value changed", in("source", "a.c", "file 2", "build", "arch", "amd64"), false},
		{"name changed", in("source", "b.c", "file 1", "build", "arch", "amd64"), false},
		{"kind changed", in("patch", "a.c", "file 1", "build", "arch", "amd64"), false},
		{"input added", in("source", "a.c", "file 1", "build", "arch", "amd64", "dep", "x/amd64", "k"), false},
		{"field boundary moved", in("source", "a.c", "file 1", "build", "arc", "hamd64"), false},
		{"input removed", in("source", "a.c", "file 1"), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k, err := KeyOf(tc.inputs)
			if err != nil {
				t.Fatal(err)
			}
			if (k == ref) != tc.same {
				t.Errorf("key same=%v, want %v", k == ref, tc.same)
			}
		})
	}
	if _, err := KeyOf(in("source", "a", "1", "source", "a", "2")); err == nil {
		t.Error("duplicate input accepted")
	}
}

func TestKeyValid(t *testing.T) {
	for k, want := range map[Key]bool{
		Key(strings.Repeat("a", 64)):         true,
		Key(strings.Repeat("0", 64)):         true,
		Key(strings.Repeat("A", 64)):         false,
		Key(strings.Repeat("a", 63)):         false,
		Key("../" + strings.Repeat("a", 61)): false,
		"":                                   false,
	} {
		if k.Valid() != want {
			t.Errorf("%q.Valid() = %v", k, !want)
		}
	}
}

func TestDiffAndWords(t *testing.T) {
	prev := []Input{
		{KindBase, "archive", "aaa"},
		{KindBuild, "profiles", ""},
		{KindDep, "libstx/amd64", "1111111111111111111"},
		{KindSource, "debian/rules", "exec 1"},
		{KindSource, "old.c", "file 2"},
		{KindSource, "stx.c", "file 3"},
		{KindSource, "x", "file 5"},
	}
	cur := []Input{
		{KindBase, "archive", "bbb"},
		{KindBuild, "profiles", "nocheck"},
		{KindDep, "libstx/amd64", "2222222222222222222"},
		{KindSource, "debian/rules", "file 1"},
		{KindSource, "new.c", "file 4"},
		{KindSource, "stx.c", "file 9"},
		{KindSource, "x", "exec 6"},
	}
	got := Diff(prev, cur)
	want := []string{
		"archive state (the base root's apt Release files) changed",
		`build setting profiles changed ("" -> "nocheck")`,
		"build-dependency libstx/amd64 changed (key 111111111111 -> 222222222222)",
		"source file debian/rules changed (mode: exec -> file)",
		"source file new.c added",
		"source file old.c removed",
		"source file stx.c changed (content)",
		"source file x changed (file -> exec, content)",
	}
	if len(got) != len(want) {
		t.Fatalf("got %d changes: %v", len(got), got)
	}
	for i := range want {
		if s := got[i].String(); s != want[i] {
			t.Errorf("change %d: %q, want %q", i, s, want[i])
		}
	}
	if d := Diff(cur, cur); len(d) != 0 {
		t.Errorf("no change: %v", d)
	}
}
