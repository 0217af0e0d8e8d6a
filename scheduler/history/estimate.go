package history

// The setup phases whose results are cached: the build-dependency
// resolution and the environment (the build-dependency layer). What they
// cost depends less on the package than on whether the cache holds them,
// which differs from one build of the same package to the next: the
// first build of a package resolves and makes its layer, a rebuild with
// the same build-dependencies takes both from the cache, and a rebuild
// after one of its build-dependencies changed makes a new layer. So an
// estimate from history counts each of them as what the coming build is
// expected to do, not as what the recorded one did.
const (
	PhaseResolve     = "resolve"
	PhaseEnvironment = "environment"
)

// CachedPhaseSeconds is what a cacheable phase costs when it is taken
// from the cache and the record never measured that: a cached resolution
// is read in milliseconds, a cached layer checked in a few hundred
// (docs/performance.md).
const CachedPhaseSeconds = 0.3

// Expect says which cacheable phases a coming build is expected to find
// in the cache.
type Expect struct {
	Resolve, Environment bool
}

// cached reports whether e expects the named cacheable phase cached; ok
// is false for a phase that is not cacheable.
func (e Expect) cached(phase string) (cached, ok bool) {
	switch phase {
	case PhaseResolve:
		return e.Resolve, true
	case PhaseEnvironment:
		return e.Environment, true
	}
	return false, false
}

// Estimate is the wall time, in seconds, of a build like r's that finds
// in the cache what e says: r's phases, each cacheable one costing what
// r measured when r did the same (took it from the cache, or made it),
// CachedPhaseSeconds when r made it and the build will not, and what
// making it took last (Made) when r took it from the cache and the build
// will make it. Time r spent outside its phases counts as it was. A
// record without phases gives its Seconds.
func (r Record) Estimate(e Expect) float64 {
	if len(r.Phases) == 0 {
		return r.Seconds
	}
	total := r.Seconds
	for _, p := range r.Phases {
		want, ok := e.cached(p.Name)
		if !ok || want == p.Cached {
			continue
		}
		switch {
		case want: // made then, taken from the cache now
			total += min(CachedPhaseSeconds, p.Seconds) - p.Seconds
		case r.Made[p.Name] > 0: // taken from the cache then, made now
			total += r.Made[p.Name] - p.Seconds
		}
	}
	return max(total, 0)
}

// Carry returns r with the Made times of prev (an earlier record of the
// same build) that r does not measure itself: r's own made phases
// replace prev's, the phases r took from the cache keep prev's times.
func Carry(prev, r Record) Record {
	made := map[string]float64{}
	for name, s := range prev.Made {
		made[name] = s
	}
	for _, p := range prev.Phases {
		if _, ok := (Expect{}).cached(p.Name); ok && !p.Cached {
			made[p.Name] = p.Seconds
		}
	}
	for _, p := range r.Phases {
		if _, ok := (Expect{}).cached(p.Name); ok && !p.Cached {
			made[p.Name] = p.Seconds
		}
	}
	r.Made = nil
	if len(made) > 0 {
		r.Made = made
	}
	return r
}
