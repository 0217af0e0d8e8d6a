// Package flock takes flock(2) locks that a context can give up waiting
// for. Every lock opens the file anew, so a lock excludes other goroutines
// of this process as well as other processes; the kernel drops it when its
// holder dies, so a killed run never leaves anything locked.
package flock

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"
)

// How a lock is held.
const (
	Shared    = syscall.LOCK_SH // readers
	Exclusive = syscall.LOCK_EX // writers
)

// Lock takes the lock on the open file f (which it closes on failure),
// waiting until ctx is done. Closing f (the returned unlock) releases it.
// It polls rather than blocking in flock, so that ctx can cancel the wait.
func Lock(ctx context.Context, f *os.File, how int) (unlock func(), err error) {
	wait := time.Millisecond
	for {
		err := syscall.Flock(int(f.Fd()), how|syscall.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", f.Name(), err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", f.Name(), ctx.Err())
		case <-time.After(wait):
		}
		wait = min(2*wait, 100*time.Millisecond)
	}
}

// LockPath opens (creating) path and takes the lock on it.
func LockPath(ctx context.Context, path string, how int) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock: %w", err)
	}
	return Lock(ctx, f, how)
}

// TryPath takes the lock on path only if it is free at once.
func TryPath(path string, how int) (unlock func(), ok bool) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, false
	}
	if syscall.Flock(int(f.Fd()), how|syscall.LOCK_NB) != nil {
		f.Close()
		return nil, false
	}
	return func() { f.Close() }, true
}

// LockPathWait is LockPath, but calls waiting once, before it starts to
// wait, when another holder has the lock: callers say in their progress
// what they are waiting for.
func LockPathWait(ctx context.Context, path string, how int, waiting func()) (unlock func(), err error) {
	if unlock, ok := TryPath(path, how); ok {
		return unlock, nil
	}
	if waiting != nil {
		waiting()
	}
	return LockPath(ctx, path, how)
}
