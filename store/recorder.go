package store

import "sync"

// Recorder collects a lock from what builds resolve and roots install;
// it is safe for concurrent use (builds report their sets in parallel).
type Recorder struct {
	mu    sync.Mutex
	lock  Lock
	suite string
}

// NewRecorder returns an empty Recorder for a project on suite.
func NewRecorder(suite string) *Recorder { return &Recorder{suite: suite} }

// AddSet adds a resolved set (buildrun.Options.OnResolved): its packages
// join the set of its suite and architecture, and its Release digests,
// when it has any, replace that set's.
func (r *Recorder) AddSet(s *LockSet) {
	r.mu.Lock()
	defer r.mu.Unlock()
	set := r.lock.Set(s.Suite, s.Arch)
	if len(s.Releases) > 0 {
		set.Releases = s.Releases
	}
	for _, p := range s.Packages {
		set.Add(p)
	}
}

// AddRoot adds the archive packages installed in root (its dpkg status)
// and the Release digests of its apt lists to the sets of archs.
func (r *Recorder) AddRoot(root string, archs ...string) error {
	pkgs, err := RootPackages(root)
	if err != nil {
		return err
	}
	rel, err := RootReleases(root)
	if err != nil {
		return err
	}
	for _, a := range archs {
		r.AddSet(&LockSet{Suite: r.suite, Arch: a, Releases: rel, Packages: pkgs})
	}
	return nil
}

// AddPackages adds archive files installed or used another way (the
// ISO's boot packages, extracted, not installed) to the set of arch.
func (r *Recorder) AddPackages(arch string, pkgs []LockedPackage) {
	r.AddSet(&LockSet{Suite: r.suite, Arch: arch, Packages: pkgs})
}

// Lock returns the lock recorded so far.
func (r *Recorder) Lock() *Lock {
	r.mu.Lock()
	defer r.mu.Unlock()
	return &r.lock
}
