package repo

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/stx-build/stx-build/internal/flock"
)

// lockFile serializes writers of one repository. It is a flock(2) lock on
// a file in the repository: a lock held by one open file description
// excludes every other, so it works between processes (two stx-build runs
// on one output tree) as well as between goroutines, since every lock call
// opens the file anew. The kernel drops it when a holder dies, so a killed
// Publish never leaves the repository locked.
const lockFile = ".lock"

// How lock locks.
const (
	lockExclusive = flock.Exclusive // writers
	lockShared    = flock.Shared    // readers
)

// lock takes the repository's lock, exclusive (LOCK_EX) for writers or
// shared (LOCK_SH) for readers, waiting until ctx is done. A reader on a
// read-only copy without a lock file reads unlocked: nothing can publish
// there.
func (r *Repo) lock(ctx context.Context, how int) (unlock func(), err error) {
	name := r.path(lockFile)
	var f *os.File
	if how == lockExclusive {
		f, err = os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o644)
	} else {
		f, err = os.Open(name)
		if errors.Is(err, os.ErrNotExist) {
			return func() {}, nil
		}
	}
	if err != nil {
		return nil, fmt.Errorf("lock: %w", err)
	}
	return flock.Lock(ctx, f, how)
}
