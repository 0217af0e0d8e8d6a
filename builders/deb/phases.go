package deb

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// Phase names, in the order a build goes through them.
const (
	PhaseUnpack      = "unpack"      // the source tree in the slot, patched
	PhaseResolve     = "resolve"     // the build-dependency set, its archive packages fetched
	PhaseEnvironment = "environment" // the build-dependency layer, cached or installed
	PhaseBuild       = "build"       // dpkg-buildpackage (make bindeb-pkg)
	PhaseCollect     = "collect"     // the results out of the slot
)

// Phase is the time one phase of a build took.
type Phase struct {
	Name     string
	Duration time.Duration
	// Cached says the phase's result came from a cache (the resolution,
	// the layer) instead of being made.
	Cached bool
}

// addPhase appends a phase to res.
func (res *Result) addPhase(name string, d time.Duration, cached bool) {
	res.Phases = append(res.Phases, Phase{Name: name, Duration: d, Cached: cached})
}

// logPhases writes the phases to the build log, on one line.
func logPhases(log io.Writer, phases []Phase) {
	if len(phases) == 0 {
		return
	}
	parts := make([]string, len(phases))
	for i, p := range phases {
		parts[i] = p.Name + " " + p.Duration.Round(time.Millisecond).String()
		if p.Cached {
			parts[i] += " (cached)"
		}
	}
	fmt.Fprintf(log, "stx-build: phases: %s\n", strings.Join(parts, ", "))
}
