package workspace

import (
	"fmt"
	"slices"
)

// ArchError is an architecture asked for that a project, or one of its
// manifests, does not build.
type ArchError struct {
	// Arch is the architecture asked for.
	Arch string
	// Builder says what does not build it: "the project", or a manifest's
	// file name such as "iso.yaml".
	Builder string
	// Archs are the architectures Builder builds.
	Archs []string
}

func (e *ArchError) Error() string {
	return fmt.Sprintf("architecture %s: %s builds %v", e.Arch, e.Builder, e.Archs)
}

// CheckArchs returns want when each of its architectures is one of have
// (what builder builds; see ArchError), else an *ArchError for the first
// that is not. Empty want selects all of have. The result is a new slice,
// in want's order.
func CheckArchs(want, have []string, builder string) ([]string, error) {
	if len(want) == 0 {
		return slices.Clone(have), nil
	}
	for _, a := range want {
		if !slices.Contains(have, a) {
			return nil, &ArchError{Arch: a, Builder: builder, Archs: slices.Clone(have)}
		}
	}
	return slices.Clone(want), nil
}

// Archs returns the project's architectures to build: want, each of which
// the project must build (else an *ArchError), or all of the project's
// when want is empty.
func (w *Workspace) Archs(want []string) ([]string, error) {
	return CheckArchs(want, w.Project.Architectures, "the project")
}

// IndepArch is the architecture that builds the project's Architecture:
// all packages, its first; builds for the others take those packages
// from its repository.
func (w *Workspace) IndepArch() string {
	if len(w.Project.Architectures) == 0 {
		return ""
	}
	return w.Project.Architectures[0]
}
