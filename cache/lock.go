package cache

import (
	"context"
	"fmt"

	"github.com/stx-build/stx-build/internal/flock"
)

// How lock locks. Readers and writers of entries share the lock: entries
// appear and disappear only by rename, so they never see half an entry.
// Prune and Verify, which remove entries a reader might be restoring,
// take it exclusively.
const (
	lockShared    = flock.Shared
	lockExclusive = flock.Exclusive
)

// lock takes the flock(2) lock on path, waiting until ctx is done.
func lock(ctx context.Context, path string, how int) (unlock func(), err error) {
	unlock, err = flock.LockPath(ctx, path, how)
	if err != nil {
		return nil, fmt.Errorf("cache %w", err)
	}
	return unlock, nil
}

// tryLock takes the lock only if it is free at once.
func tryLock(path string, how int) (unlock func(), ok bool) {
	return flock.TryPath(path, how)
}
