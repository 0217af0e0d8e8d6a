package runner

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSpecValidate(t *testing.T) {
	ok := func() Spec {
		return Spec{Layers: []string{"/l"}, Upper: "/u", Args: []string{"true"}}
	}
	tests := []struct {
		name string
		edit func(*Spec)
		want string // substring of the error; "" for no error
	}{
		{"ok", func(*Spec) {}, ""},
		{"no layers", func(s *Spec) { s.Layers = nil }, "no layers"},
		{"relative layer", func(s *Spec) { s.Layers = []string{"l"} }, "layer 0: \"l\" is not an absolute path"},
		{"comma in layer", func(s *Spec) { s.Layers = []string{"/l", "/a,b"} }, "layer 1"},
		{"colon in upper", func(s *Spec) { s.Upper = "/u:v" }, "upper"},
		{"no upper", func(s *Spec) { s.Upper = "" }, "no upper"},
		{"no args", func(s *Spec) { s.Args = nil }, "no command"},
		{"relative dir", func(s *Spec) { s.Dir = "build" }, "not absolute"},
		{"negative uid", func(s *Spec) { s.UID = -1 }, "negative uid"},
		{"long hostname", func(s *Spec) { s.Hostname = strings.Repeat("h", 65) }, "hostname"},
		{"relative target", func(s *Spec) { s.Mounts = []Mount{{Source: "/s", Target: "t"}} }, "mount 0: target"},
		{"root target", func(s *Spec) { s.Mounts = []Mount{{Source: "/s", Target: "/"}} }, "other than /"},
		{"relative source", func(s *Spec) { s.Mounts = []Mount{{Source: "s", Target: "/t"}} }, "bind source"},
		{"tmpfs", func(s *Spec) { s.Mounts = []Mount{{Target: "/t", Type: "tmpfs", Size: 1 << 20}} }, ""},
		{"negative size", func(s *Spec) { s.Mounts = []Mount{{Target: "/t", Type: "tmpfs", Size: -1}} }, "negative tmpfs size"},
		{"unknown type", func(s *Spec) { s.Mounts = []Mount{{Target: "/t", Type: "nfs"}} }, "unknown type \"nfs\""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := ok()
			tt.edit(&s)
			err := s.validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("validate: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("validate: got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestSortMounts(t *testing.T) {
	in := []Mount{{Target: "/a/b/c"}, {Target: "/b"}, {Target: "/a/b"}, {Target: "/a/"}, {Target: "/c"}}
	var got []string
	for _, m := range sortMounts(in) {
		got = append(got, m.Target)
	}
	want := "/b /a/ /c /a/b /a/b/c"
	if strings.Join(got, " ") != want {
		t.Errorf("sortMounts: got %v, want %s", got, want)
	}
	if in[0].Target != "/a/b/c" {
		t.Error("sortMounts changed its input")
	}
}

func TestResolveIn(t *testing.T) {
	root := t.TempDir()
	for _, d := range []string{"etc/sub", "usr/lib"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	links := map[string]string{
		"abs":      "/etc",
		"rel":      "../../../../etc",
		"usr/up":   "../etc/sub",
		"loop":     "loop",
		"dangling": "/nowhere/x",
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(root, name)); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct{ in, want string }{
		{"/etc", "/etc"},
		{"/abs", "/etc"},
		{"/abs/sub/new", "/etc/sub/new"},
		{"/rel/x", "/etc/x"},
		{"/usr/up", "/etc/sub"},
		{"/../../..", "/"},
		{"/missing/../etc", "/etc"},
		{"/dangling", "/nowhere/x"},
		{"usr//lib/./", "/usr/lib"},
	}
	for _, tt := range tests {
		got, err := resolveIn(root, tt.in)
		if err != nil {
			t.Errorf("resolveIn(%q): %v", tt.in, err)
			continue
		}
		if want := filepath.Join(root, tt.want); got != want {
			t.Errorf("resolveIn(%q) = %s, want %s", tt.in, got, want)
		}
	}
	if _, err := resolveIn(root, "/loop/x"); err == nil || !strings.Contains(err.Error(), "symbolic links") {
		t.Errorf("resolveIn(/loop/x): got %v, want a symlink loop error", err)
	}
}
