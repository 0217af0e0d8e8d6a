package buildkey_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stx-build/stx-build/cache"
	"github.com/stx-build/stx-build/cache/buildkey"
)

// An emulated build's key differs from the cross build's: the target is
// the build architecture, the base is the emulated one, no cross
// profiles, and it takes no build machine's builds. Without the emulated
// base nothing on that architecture is keyed.
func TestEmulatedKeys(t *testing.T) {
	dir := copyExample(t)
	crossKeys := keys(plan(t, dir, nil))
	f, err := os.OpenFile(filepath.Join(dir, "packages", "stx-hello", "package.yaml"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("build:\n  cross: false\n"); err != nil {
		t.Fatal(err)
	}
	f.Close()
	emuBase := buildkey.Base{Key: "arm64-base-key", Archive: "arm64-archive-digest"}
	p := plan(t, dir, func(o *buildkey.Options) { o.Emulated = map[string]buildkey.Base{"arm64": emuBase} })
	b, ok := p.Build("stx-hello", "arm64")
	if !ok {
		t.Fatal("no emulated build of stx-hello on arm64")
	}
	for _, in := range []cache.Input{
		{Kind: cache.KindBuild, Name: "build-arch", Value: "arm64"},
		{Kind: cache.KindBuild, Name: "emulated", Value: "qemu-user on amd64"},
		{Kind: cache.KindBuild, Name: "profiles", Value: ""},
		{Kind: cache.KindBase, Name: "rootfs", Value: "arm64-base-key"},
		{Kind: cache.KindBase, Name: "archive", Value: "arm64-archive-digest"},
	} {
		if !slices.Contains(b.Inputs, in) {
			t.Errorf("emulated stx-hello/arm64 lacks input %+v: %v", in, b.Inputs)
		}
	}
	var deps []string
	for _, in := range b.Inputs {
		if in.Kind == cache.KindDep {
			deps = append(deps, in.Name)
		}
	}
	if fmt.Sprint(deps) != "[libstx/arm64]" {
		t.Errorf("emulated stx-hello/arm64 deps %v, want only libstx/arm64", deps)
	}
	if b.Key == crossKeys["stx-hello/arm64"] {
		t.Error("the emulated build has the cross build's key")
	}
	// A cross build on arm64 next to it keeps its key.
	if got := keys(p)["libstx/arm64"]; got != crossKeys["libstx/arm64"] {
		t.Errorf("libstx/arm64 (cross) changed key: %s vs %s", got, crossKeys["libstx/arm64"])
	}

	p = plan(t, dir, nil)
	for _, id := range [][2]string{{"stx-hello", "arm64"}, {"libstx", "arm64"}} {
		if _, ok := p.Build(id[0], id[1]); ok {
			t.Errorf("%s/%s has a key without the emulated base root", id[0], id[1])
		}
	}
	if _, ok := p.Build("libstx", "amd64"); !ok {
		t.Error("libstx/amd64 lost its key with the arm64 emulated base missing")
	}
}
