// Package amd64 is the amd64 architecture profile (see package arch).
package amd64

import (
	_ "embed"

	"github.com/stx-build/stx-build/arch"
)

//go:embed profile.yaml
var data []byte

var profile = arch.MustParse("arch/amd64/profile.yaml", data)

// Profile returns the amd64 profile. Callers must not modify it.
func Profile() *arch.Profile { return profile }
