package ramdisk

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Slot is one build's work directory, on tmpfs or on disk. Its exported
// fields do not change after Acquire.
type Slot struct {
	// Name is the name it was requested under.
	Name string
	// Dir is the directory to build in: Root/tmpfs/<Name> or
	// Root/disk/<Name>.
	Dir string
	// OnTmpfs says whether Dir is a tmpfs mount.
	OnTmpfs bool
	// Size is the tmpfs size limit (the padded size, which is also what the
	// slot reserves from the budget) for a tmpfs slot, and the predicted
	// size for a disk slot.
	Size int64
	// Cap is the size of a disk slot's own file system, which the build
	// cannot grow beyond; 0 for a tmpfs slot (Size is its limit) and for
	// an uncapped disk slot.
	Cap int64

	m        *Manager
	onImage  bool  // Dir is a loop-mounted image (disk.go)
	reserved int64 // bytes still reserved from the budget
	peak     atomic.Int64

	// mu serializes Release (and Acquire's setup); the fields below it are
	// guarded by it.
	mu        sync.Mutex
	sampling  bool
	unmounted bool // the tmpfs is unmounted (or the slot is on disk)
	released  bool

	stop chan struct{} // closed to stop the sampler
	done chan struct{} // closed by the sampler when it stops

	// fs guards measuring against unmounting: Usage holds it for reading,
	// Release sets gone under it before unmounting.
	fs   sync.RWMutex
	gone bool
}

// Usage returns the bytes in use in the slot now: statfs for a tmpfs, a du
// walk for a disk directory. Each call also counts as a sample for Peak.
func (s *Slot) Usage() (int64, error) {
	s.fs.RLock()
	defer s.fs.RUnlock()
	if s.gone {
		return 0, fmt.Errorf("ramdisk: usage of slot %s: released", s.Name)
	}
	return s.measure()
}

// measure samples usage and records it in the peak; callers make sure the
// slot is still there.
func (s *Slot) measure() (int64, error) {
	var n int64
	var err error
	if s.OnTmpfs {
		n, err = statfsUsage(s.Dir)
	} else {
		n, err = diskUsage(s.Dir)
	}
	if err != nil {
		return 0, fmt.Errorf("ramdisk: usage of %s: %w", s.Dir, err)
	}
	for {
		p := s.peak.Load()
		if n <= p || s.peak.CompareAndSwap(p, n) {
			break
		}
	}
	return n, nil
}

// Peak is the largest usage seen: by the sampler (every SampleInterval
// while the slot is held), by Usage calls, and by a final sample at
// Release. It stays valid after Release.
func (s *Slot) Peak() int64 { return s.peak.Load() }

// sample runs until stop is closed, measuring usage every interval (longer
// for disk slots whose walk is slow; see SampleInterval).
func (s *Slot) sample(interval time.Duration) {
	defer close(s.done)
	t := time.NewTimer(interval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		start := time.Now()
		s.Usage() // errors (a vanished file) only cost a sample
		t.Reset(max(interval, 10*time.Since(start)))
	}
}

// Release takes a final usage sample, unmounts the tmpfs (lazily with
// MNT_DETACH if it is busy), deletes the directory and returns the reserved
// RAM to the budget. Releasing a released slot does nothing; after a failed
// Release, calling it again retries what is left.
func (s *Slot) Release() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.releaseLocked()
}

func (s *Slot) releaseLocked() error {
	if s.released {
		return nil
	}
	if s.sampling {
		close(s.stop)
		<-s.done
		s.sampling = false
	}
	s.fs.Lock()
	if !s.gone {
		s.measure() // best effort: the final sample
		s.gone = true
	}
	s.fs.Unlock()

	if s.OnTmpfs && !s.unmounted {
		if err := unmount(s.Dir); err != nil && !errors.Is(err, syscall.EINVAL) {
			return fmt.Errorf("ramdisk: release %s: unmount tmpfs at %s: %w", s.Name, s.Dir, err)
		}
		// EINVAL means it was not mounted (any more); make sure.
		if mp, err := isMountPoint(s.Dir); err != nil || mp {
			if err == nil {
				err = errors.New("still mounted after unmount")
			}
			return fmt.Errorf("ramdisk: release %s: unmount tmpfs at %s: %w", s.Name, s.Dir, err)
		}
	}
	s.unmounted = true
	// The RAM is free once the tmpfs is gone (or, if it was detached while
	// busy, as soon as its last user lets go).
	s.m.budget.Release(s.reserved)
	s.reserved = 0

	// Anything a build runner left mounted inside (bind mounts, proc)
	// goes before the tree is deleted.
	if err := unmountUnder(s.Dir, false, nil); err != nil {
		return fmt.Errorf("ramdisk: release %s: %w", s.Name, err)
	}
	if err := s.releaseImage(); err != nil {
		return fmt.Errorf("ramdisk: release %s: %w", s.Name, err)
	}
	if err := removeTree(s.Dir); err != nil {
		return fmt.Errorf("ramdisk: release %s: remove %s: %w", s.Name, s.Dir, err)
	}
	s.released = true
	s.m.forget(s)
	return nil
}
