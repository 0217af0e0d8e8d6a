package history

import (
	"math"
	"reflect"
	"testing"
)

// phases of a build: unpack 1, resolve 20, environment 10, build 30,
// collect 1 (62 s, 1 s of it outside the phases), cached as given.
func phases(resolveCached, envCached bool) []Phase {
	return []Phase{
		{Name: "unpack", Seconds: 1},
		{Name: PhaseResolve, Seconds: 20, Cached: resolveCached},
		{Name: PhaseEnvironment, Seconds: 10, Cached: envCached},
		{Name: "build", Seconds: 30},
		{Name: "collect", Seconds: 1},
	}
}

func TestEstimate(t *testing.T) {
	cold := Record{Seconds: 63, Phases: phases(false, false)}
	// A later build that took both from the cache: 0.01 s and 0.2 s.
	warm := Record{Seconds: 33.21, Phases: []Phase{
		{Name: "unpack", Seconds: 1}, {Name: PhaseResolve, Seconds: 0.01, Cached: true},
		{Name: PhaseEnvironment, Seconds: 0.2, Cached: true}, {Name: "build", Seconds: 30}, {Name: "collect", Seconds: 1},
	}, Made: map[string]float64{PhaseResolve: 20, PhaseEnvironment: 10}}
	for _, c := range []struct {
		name string
		r    Record
		e    Expect
		want float64
	}{
		{"no phases: as recorded", Record{Seconds: 50}, Expect{Resolve: true, Environment: true}, 50},
		{"made, made again", cold, Expect{}, 63},
		{"made, now cached", cold, Expect{Resolve: true, Environment: true}, 63 - 20 - 10 + 2*CachedPhaseSeconds},
		{"made, layer made again (a build-dependency changed)", cold, Expect{Resolve: true}, 63 - 20 + CachedPhaseSeconds},
		{"cached, cached again", warm, Expect{Resolve: true, Environment: true}, 33.21},
		{"cached, layer made now", warm, Expect{Resolve: true}, 33.21 - 0.2 + 10},
		{"cached, nothing known of making it", Record{Seconds: 33.21, Phases: warm.Phases}, Expect{}, 33.21},
	} {
		if got := c.r.Estimate(c.e); math.Abs(got-c.want) > 1e-9 {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

func TestCarry(t *testing.T) {
	prev := Record{Phases: phases(false, false)}
	// The next build took the resolution from the cache and made a new
	// layer: the resolution's made time is prev's, the layer's its own.
	next := Record{Phases: phases(true, false)}
	next.Phases[2].Seconds = 12
	got := Carry(prev, next).Made
	if want := map[string]float64{PhaseResolve: 20, PhaseEnvironment: 12}; !reflect.DeepEqual(got, want) {
		t.Errorf("Made = %v, want %v", got, want)
	}
	// Through a record that made neither, the times stay.
	again := Carry(Record{Phases: phases(true, true), Made: got}, Record{Phases: phases(true, true)})
	if !reflect.DeepEqual(again.Made, got) {
		t.Errorf("Made = %v, want %v", again.Made, got)
	}
	if r := Carry(Record{}, Record{Seconds: 5}); r.Made != nil {
		t.Errorf("Made = %v for records without phases", r.Made)
	}
}
