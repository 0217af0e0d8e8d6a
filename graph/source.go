// Package graph compiles source packages into a build-dependency DAG for one
// architecture. It is pure: no disk, no network. Its input is what each
// source package declares (Build-Depends*, binary stanzas with Provides,
// Multi-Arch and Build-Profiles); its output says which local source must be
// built before which, what comes from the archive, and in which order.
package graph

import (
	"pault.ag/go/debian/dependency"
)

// Source is what the graph needs to know about one source package.
type Source struct {
	// Name is the source package name.
	Name string
	// Version is the full Debian version (epoch:upstream-revision).
	Version string
	// BuildDepends, BuildDependsArch and BuildDependsIndep are the parsed
	// relation fields of the source stanza.
	BuildDepends      dependency.Dependency
	BuildDependsArch  dependency.Dependency
	BuildDependsIndep dependency.Dependency
	// Binaries are the binary packages the source declares.
	Binaries []Binary
	// Architectures restricts the source to these Debian architectures
	// (from its manifest). Empty means no restriction.
	Architectures []string
	// Profiles are build profiles active for this source only.
	Profiles []string
	// Cost is the estimated build time in seconds; <= 0 counts as 1.
	Cost float64
	// Origin names where the source was declared (a file), for messages.
	Origin string
}

// Binary is one binary package stanza.
type Binary struct {
	Name string
	// Architectures is the Architecture field: "all", "any", "linux-any",
	// or a list of concrete architectures.
	Architectures []dependency.Arch
	// MultiArch is the Multi-Arch field (same, foreign, allowed, or empty).
	MultiArch string
	// Provides lists the virtual packages this binary provides; versioned
	// provides carry an "=" version relation.
	Provides dependency.Dependency
	// BuildProfiles is the Build-Profiles restriction formula of the stanza:
	// the binary is built only when one of the sets holds.
	BuildProfiles []dependency.StageSet
}

// IsIndep reports whether the binary is Architecture: all.
func (b *Binary) IsIndep() bool {
	for _, a := range b.Architectures {
		if a.CPU == "all" {
			return true
		}
	}
	return false
}

// builtFor reports whether the binary is architecture-specific and built
// for arch.
func (b *Binary) builtFor(arch *dependency.Arch) bool {
	for i := range b.Architectures {
		a := b.Architectures[i]
		if a.CPU == "all" {
			continue
		}
		if a.Is(arch) {
			return true
		}
	}
	return false
}

// profilesHold evaluates a restriction formula (OR of AND-sets) against the
// active profiles. An empty formula always holds.
func profilesHold(sets []dependency.StageSet, active map[string]bool) bool {
	if len(sets) == 0 {
		return true
	}
	for _, set := range sets {
		ok := true
		for _, st := range set.Stages {
			if active[st.Name] == st.Not {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}
