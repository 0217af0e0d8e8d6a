package runner

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// A step is a value: deriving one leaves the original as it was.
func TestStepIsAValue(t *testing.T) {
	base := NewStep("build", "make").WithEnv("A=1").WithInput("/src", "/in")
	derived := base.WithEnv("B=2").WithInput("/other", "/more").WithNetwork().WithUser(1000, 1000)
	if got := base.Env(); !reflect.DeepEqual(got, []string{"A=1"}) {
		t.Errorf("base env = %q", got)
	}
	if len(base.Mounts()) != 1 || base.Network() || base.Dir() != "/" {
		t.Errorf("base changed: %+v", base)
	}
	args := base.Args()
	args[0] = "rm"
	if base.Args()[0] != "make" {
		t.Error("Args returns the step's own slice")
	}
	if uid, _ := derived.User(); uid != 1000 || len(derived.Mounts()) != 2 || !derived.Network() {
		t.Errorf("derived: %+v", derived)
	}
}

func TestStepSpec(t *testing.T) {
	s := NewStep("build", "dpkg-buildpackage", "-b").WithEnv("PATH=/bin").WithDir("/build/x").
		WithUser(1000, 1000).WithTree("/slot/build", "/build", 1<<20).WithInput("/slot/kconfig", "/stx/kconfig")
	got := s.Spec([]string{"/layer", "/base"}, "/slot/root")
	want := &Spec{
		Layers: []string{"/layer", "/base"}, Upper: "/slot/root",
		Mounts: []Mount{{Source: "/slot/build", Target: "/build"}, {Source: "/slot/kconfig", Target: "/stx/kconfig", ReadOnly: true}},
		Args:   []string{"dpkg-buildpackage", "-b"}, Env: []string{"PATH=/bin"}, Dir: "/build/x", UID: 1000, GID: 1000,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("spec:\n got %+v\nwant %+v", got, want)
	}
}

func TestBuildValidate(t *testing.T) {
	tree := NewStep("build", "make").WithTree("/t", "/build", 0)
	for _, tc := range []struct {
		name string
		b    Build
		ok   bool
	}{
		{"ok", Build{Steps: []Step{NewStep("environment", "true").Keep("k"), tree}}, true},
		{"no steps", Build{}, false},
		{"no command", Build{Steps: []Step{NewStep("environment"), tree}}, false},
		{"kept without key", Build{Steps: []Step{NewStep("environment", "true").Keep(""), tree}}, false},
		{"no tree", Build{Steps: []Step{NewStep("build", "make")}}, false},
	} {
		if err := tc.b.Validate(); (err == nil) != tc.ok {
			t.Errorf("%s: Validate() = %v", tc.name, err)
		}
	}
}

// fakeRunner records the specs it runs and leaves a file in each upper.
type fakeRunner struct {
	specs []*Spec
	fail  string // Args[0] that fails
}

func (f *fakeRunner) Run(ctx context.Context, s *Spec) error {
	f.specs = append(f.specs, s)
	if s.Args[0] == f.fail {
		return &ExitError{Code: 2}
	}
	if err := os.MkdirAll(filepath.Join(s.Upper, "upper"), 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(s.Upper, "upper", s.Args[0]), nil, 0o644)
}

func (f *fakeRunner) Usable(context.Context) error { return nil }

// The local executor runs each step on the base and the kept roots above
// it, saves a kept root under its key and reuses it the next time, gives
// network steps the host's resolver, and names the failing step.
func TestLocalExecutor(t *testing.T) {
	dir := t.TempDir()
	layers := filepath.Join(dir, "layers")
	b := &Build{Name: "p 1 amd64", Steps: []Step{
		NewStep("environment", "install").WithNetwork().Keep("0123456789abcdef"),
		NewStep("build", "make").WithTree(filepath.Join(dir, "tree"), "/build", 0),
	}}
	run := func(f *fakeRunner) (*Outcome, error) {
		work := t.TempDir()
		return (&LocalExecutor{Runner: f, Base: "/base", LayerDir: layers}).Execute(context.Background(), b, work, io.Discard)
	}
	f := &fakeRunner{}
	oc, err := run(f)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.specs) != 2 || oc.Cached || oc.Dir != filepath.Join(dir, "tree") {
		t.Fatalf("first run: %d specs, outcome %+v", len(f.specs), oc)
	}
	kept := filepath.Join(layers, "0123456789abcdef")
	if _, err := os.Stat(filepath.Join(kept, "install")); err != nil {
		t.Errorf("kept root not saved: %v", err)
	}
	if got := f.specs[1].Layers; !reflect.DeepEqual(got, []string{kept, "/base"}) {
		t.Errorf("build layers = %q", got)
	}
	if _, err := os.Stat("/etc/resolv.conf"); err == nil {
		if m := f.specs[0].Mounts; len(m) != 1 || m[0].Target != "/etc/resolv.conf" || !m[0].ReadOnly {
			t.Errorf("network step mounts = %+v", m)
		}
	}
	if len(f.specs[1].Mounts) != 1 {
		t.Errorf("build step mounts = %+v", f.specs[1].Mounts)
	}

	f = &fakeRunner{}
	if oc, err = run(f); err != nil || !oc.Cached || len(f.specs) != 1 {
		t.Errorf("second run: cached %v, %d specs, %v", oc.Cached, len(f.specs), err)
	}

	_, err = run(&fakeRunner{fail: "make"})
	var se *StepError
	if !errors.As(err, &se) || se.Step != "build" {
		t.Errorf("failing build: %v, want a StepError of build", err)
	}
}
