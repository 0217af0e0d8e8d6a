package deb

import (
	"errors"
	"strings"
	"testing"
)

func TestWithCause(t *testing.T) {
	base := errors.New("resolve build-deps: sandbox command exited with status 100")
	tests := []struct {
		name, out string
		arch      string
		cross     bool
		want      []string
		unchanged bool
		notCross  bool // errors.Is ErrNotCrossBuildable: the run builds it emulated
	}{
		{name: "not cross-buildable", arch: "arm64", cross: true, notCross: true, out: `Reading package lists...
Some packages could not be installed. This may mean that you have
The following packages have unmet dependencies:
 builddeps:/build/brotli-1.0.9:arm64 : Depends: cmake:arm64 but it is not installable
E: Unable to correct problems, you have held broken packages.
`, want: []string{
			"status 100: apt: builddeps:/build/brotli-1.0.9:arm64 : Depends: cmake:arm64 but it is not installable; E: Unable to correct problems",
			"(brotli is not cross-buildable as written: it needs cmake for the target architecture arm64",
		}},
		{name: "not cross-buildable, deeper", arch: "arm64", cross: true, notCross: true, out: `  gobject-introspection:arm64 : Depends: build-essential:arm64 but it is not installable
                                Depends: python3-mako:arm64 but it is not installable
E: Unable to correct problems, you have held broken packages.
`, want: []string{"apt: gobject-introspection:arm64 : Depends: build-essential:arm64", "(brotli is not cross-buildable as written: it needs gobject-introspection for the target architecture arm64"}},
		{name: "downgrade", arch: "amd64", out: "E: Packages were downgraded and -y was used without --allow-downgrades.\n",
			want: []string{"apt: E: Packages were downgraded", "a project package is older than the one installed in the base root"}},
		{name: "missing package", arch: "amd64", out: "E: Unable to locate package libnope-dev\n",
			want: []string{"libnope-dev is neither in the archive's indexes nor built by the project"}},
		{name: "native unmet", arch: "amd64", out: " builddeps:/build/x:amd64 : Depends: libfoo-dev (>= 2.0) but it is not going to be installed\nE: Unable to correct problems, you have held broken packages.\n",
			want: []string{"libfoo-dev cannot be installed for amd64"}},
		{name: "no apt words", arch: "amd64", out: "make: *** [all] Error 2\n", unchanged: true},
		{name: "emulated build unmet", arch: "arm64", out: " builddeps:/build/x:arm64 : Depends: cmake:arm64 but it is not installable\n",
			want: []string{"cmake cannot be installed for arm64"}},
		{name: "cross, but a dependency of the build machine", arch: "arm64", cross: true, out: " builddeps:/build/x:arm64 : Depends: cmake:amd64 but it is not installable\n",
			want: []string{"cmake cannot be installed for arm64"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := withCause(base, []byte(tt.out), "brotli", tt.arch, tt.cross)
			if !errors.Is(got, base) {
				t.Errorf("the cause lost the error it wraps")
			}
			if errors.Is(got, ErrNotCrossBuildable) != tt.notCross {
				t.Errorf("errors.Is(err, ErrNotCrossBuildable) = %v, want %v", !tt.notCross, tt.notCross)
			}
			if tt.unchanged {
				if got != base {
					t.Errorf("got %q, want the error unchanged", got)
				}
				return
			}
			for _, w := range tt.want {
				if !strings.Contains(got.Error(), w) {
					t.Errorf("error %q lacks %q", got, w)
				}
			}
		})
	}
}
