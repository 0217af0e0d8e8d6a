package buildrun

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stx-build/stx-build/builders/deb"
)

func TestFallsBack(t *testing.T) {
	yes := true
	notCross := &deb.Error{Package: "brotli", Arch: "arm64", Step: "build-deps", Err: fmt.Errorf("resolve build-deps: %w", deb.ErrNotCrossBuildable)}
	other := &deb.Error{Package: "brotli", Arch: "arm64", Step: "dpkg-buildpackage", Err: errors.New("exit status 2")}
	tests := []struct {
		name     string
		err      error
		emulated bool
		cross    *bool
		want     bool
	}{
		{"cross build-deps not installable", notCross, false, nil, true},
		{"wrapped further", fmt.Errorf("build: %w", notCross), false, nil, true},
		{"another failure", other, false, nil, false},
		{"success", nil, false, nil, false},
		{"emulated already", notCross, true, nil, false},
		{"build.cross: true said explicitly", notCross, false, &yes, false},
	}
	for _, tt := range tests {
		if got := fallsBack(tt.err, tt.emulated, tt.cross); got != tt.want {
			t.Errorf("%s: fallsBack = %v, want %v", tt.name, got, tt.want)
		}
	}
}
