package ramdisk

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"syscall"
	"time"
)

// NoSpaceFraction is how full a tmpfs slot must have been (of its size) for
// a failed build to count as out of space even when its error does not say
// so: a build's error is often just "exit status 2", with the real message
// in a log.
const NoSpaceFraction = 0.95

var noSpaceText = []byte("no space left on device")

// LogSaysNoSpace reports whether a build log (typically its tail) contains
// "No space left on device", the strerror(ENOSPC) text that make, gcc, ld,
// tar and Go's runtime all print, in any letter case.
func LogSaysNoSpace(logTail []byte) bool {
	return bytes.Contains(bytes.ToLower(logTail), noSpaceText)
}

// IsNoSpace reports whether err means a file system ran out of space: it
// wraps ENOSPC, or its text (or an *exec.ExitError's captured stderr) says
// "No space left on device".
func IsNoSpace(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, syscall.ENOSPC) || LogSaysNoSpace([]byte(err.Error())) {
		return true
	}
	var ee *exec.ExitError
	return errors.As(err, &ee) && LogSaysNoSpace(ee.Stderr)
}

// Attempt describes one run in one slot.
type Attempt struct {
	Name     string
	Dir      string
	OnTmpfs  bool
	Size     int64 // the slot's Size
	Cap      int64 // the slot's Cap (a capped disk slot)
	Peak     int64 // the slot's Peak after Release
	Duration time.Duration
	// NoSpace says that the run failed for lack of space: IsNoSpace(Err), or
	// a tmpfs slot that reached NoSpaceFraction of its size.
	NoSpace bool
	Err     error // the run's error (nil on success)
}

// Result says where RetryOnDisk ran a build.
type Result struct {
	// Attempts are the runs in order: one, or a tmpfs run that ran out of
	// space followed by a disk run.
	Attempts []Attempt
	// Peak is the largest usage over all attempts: the truest estimate of
	// the build's size for its history (a tmpfs attempt that ran out of
	// space only gives a lower bound).
	Peak int64
}

// OnTmpfs says whether the last attempt ran on tmpfs.
func (r Result) OnTmpfs() bool {
	return len(r.Attempts) > 0 && r.Attempts[len(r.Attempts)-1].OnTmpfs
}

// RetryOnDisk acquires a slot for r (tmpfs if it fits now, disk otherwise)
// and calls run in it. If run fails on tmpfs for lack of space (IsNoSpace,
// or usage reached NoSpaceFraction of the slot's size) and ctx is not done,
// the slot is released and run is called once more in a disk slot of the
// same name. Other failures are never retried. Every slot is released
// before RetryOnDisk returns, also when run panics. The error is the last
// run's error (or an Acquire or Release error).
func RetryOnDisk(ctx context.Context, m *Manager, r Request, run func(*Slot) error) (Result, error) {
	var res Result
	a, err := attempt(ctx, m, r, run)
	if err != nil {
		return res.add(a), withRunErr(a, err)
	}
	res.add(a)
	if a.Err == nil || !a.OnTmpfs || !a.NoSpace || ctx.Err() != nil {
		return res, a.Err
	}
	r.Disk = true
	a, err = attempt(ctx, m, r, run)
	res.add(a)
	if err != nil {
		return res, withRunErr(a, err)
	}
	return res, a.Err
}

// withRunErr joins a slot error with the run's own error, if any.
func withRunErr(a *Attempt, err error) error {
	if a != nil && a.Err != nil {
		return errors.Join(a.Err, err)
	}
	return err
}

func (r *Result) add(a *Attempt) Result {
	if a != nil {
		r.Attempts = append(r.Attempts, *a)
		r.Peak = max(r.Peak, a.Peak)
	}
	return *r
}

// attempt runs once in a fresh slot. The returned error is about the slot
// (acquire, release); the run's own error is in the Attempt.
func attempt(ctx context.Context, m *Manager, r Request, run func(*Slot) error) (*Attempt, error) {
	s, err := m.Acquire(ctx, r)
	if err != nil {
		return nil, err
	}
	released := false
	defer func() {
		if !released {
			s.Release() // run panicked: still unmount
		}
	}()
	start := time.Now()
	runErr := run(s)
	a := &Attempt{Name: s.Name, Dir: s.Dir, OnTmpfs: s.OnTmpfs, Size: s.Size, Cap: s.Cap, Duration: time.Since(start), Err: runErr}
	if runErr != nil && s.OnTmpfs {
		s.Usage() // a sample at the moment of failure, before anything is cleaned
	}
	relErr := s.Release()
	released = true
	a.Peak = s.Peak()
	if runErr != nil {
		a.NoSpace = IsNoSpace(runErr) ||
			(s.OnTmpfs && float64(a.Peak) >= NoSpaceFraction*float64(s.Size))
		if a.NoSpace && a.Cap > 0 {
			a.Err = fmt.Errorf("%w (the build tree filled its disk slot, capped at %s)", runErr, FormatSize(a.Cap))
		}
	}
	return a, relErr
}
