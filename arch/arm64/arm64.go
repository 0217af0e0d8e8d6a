// Package arm64 is the arm64 architecture profile (see package arch).
package arm64

import (
	_ "embed"

	"github.com/stx-build/stx-build/arch"
)

//go:embed profile.yaml
var data []byte

var profile = arch.MustParse("arch/arm64/profile.yaml", data)

// Profile returns the arm64 profile. Callers must not modify it.
func Profile() *arch.Profile { return profile }
