package ramdisk

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/stx-build/stx-build/internal/flock"
)

// Several stx-build processes share one root. Each open Manager is a run
// with a directory of its own, Root/runs/<id>, whose lock file it holds
// exclusively while open; a run directory whose lock is free belongs to a
// process that died, and is cleaned up by the next Manager. The root's own
// lock is held shared by every run, so that a run of an older stx-build
// (which takes it exclusively) and a newer one never clean up each other.
const (
	runsDirName   = "runs"
	runLockName   = "lock"
	reservedName  = "reserved" // a run's tmpfs reservation in bytes, decimal
	budgetLock    = "budget.lock"
	newRunPrefix  = ".new-" // a run directory before its lock is held
	runNamePrefix = "run-"
)

// openRun takes the root's lock (shared, or exclusive to clean up everything
// when no other run is open), cleans up the runs of dead processes and
// creates this run's directory with its lock held.
func (m *Manager) openRun(log io.Writer) error {
	if log == nil {
		log = io.Discard
	}
	lockPath := filepath.Join(m.root, "lock")
	f, err := os.OpenFile(lockPath, os.O_RDWR|os.O_CREATE|syscall.O_CLOEXEC, 0o644)
	if err != nil {
		return fmt.Errorf("ramdisk: open lock: %w", err)
	}
	alone := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) == nil
	if !alone {
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB); err != nil {
			f.Close()
			if errors.Is(err, syscall.EWOULDBLOCK) {
				return fmt.Errorf("ramdisk: %s is in use by another stx-build run of an older version (lock %s held exclusively)", m.root, lockPath)
			}
			return fmt.Errorf("ramdisk: lock %s: %w", lockPath, err)
		}
	}
	m.lock = f
	runs := filepath.Join(m.root, runsDirName)
	if err := os.MkdirAll(runs, 0o755); err != nil {
		return fmt.Errorf("ramdisk: %w", err)
	}
	if alone {
		// No other run is open: whatever is here is stale, including the
		// single-run layout of older versions (Root/tmpfs, Root/disk).
		if err := cleanTree(m.root, []string{filepath.Join(m.root, "tmpfs"), filepath.Join(m.root, "disk")}, log); err != nil {
			return err
		}
	}
	if err := m.cleanDeadRuns(runs, alone, log); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(runs, newRunPrefix)
	if err != nil {
		return fmt.Errorf("ramdisk: create run directory: %w", err)
	}
	unlock, ok := flock.TryPath(filepath.Join(tmp, runLockName), flock.Exclusive)
	if !ok {
		os.RemoveAll(tmp)
		return fmt.Errorf("ramdisk: lock run directory %s", tmp)
	}
	dir := filepath.Join(runs, runNamePrefix+strings.TrimPrefix(filepath.Base(tmp), newRunPrefix))
	if err := os.Rename(tmp, dir); err != nil {
		unlock()
		os.RemoveAll(tmp)
		return fmt.Errorf("ramdisk: create run directory: %w", err)
	}
	m.runDir, m.runUnlock = dir, unlock
	m.tmpfsDir, m.diskDir = filepath.Join(dir, "tmpfs"), filepath.Join(dir, "disk")
	for _, d := range []string{m.tmpfsDir, m.diskDir} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return fmt.Errorf("ramdisk: %w", err)
		}
	}
	if !alone {
		return nil
	}
	// Let other runs in: from now on this run is one of many.
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH); err != nil {
		return fmt.Errorf("ramdisk: lock %s: %w", lockPath, err)
	}
	return nil
}

// cleanDeadRuns removes the directories of runs whose lock is free (their
// process is gone), and, when no other run is open, half-made ones.
func (m *Manager) cleanDeadRuns(runs string, alone bool, log io.Writer) error {
	names, err := readDirNames(runs)
	if err != nil {
		return fmt.Errorf("ramdisk: clean up %s: %w", runs, err)
	}
	for _, name := range names {
		dir := filepath.Join(runs, name)
		if strings.HasPrefix(name, newRunPrefix) {
			if alone {
				if err := cleanTree(dir, []string{dir}, log); err != nil {
					return err
				}
			}
			continue
		}
		unlock, ok := flock.TryPath(filepath.Join(dir, runLockName), flock.Exclusive)
		if !ok {
			continue // a live run, or one being cleaned up by another
		}
		err := cleanTree(dir, []string{dir}, log)
		unlock()
		if err != nil {
			return err
		}
	}
	return nil
}

// cleanTree unmounts every mount under top and deletes each of dirs.
func cleanTree(top string, dirs []string, log io.Writer) error {
	err := unmountUnder(top, false, func(mi mountInfo) {
		fmt.Fprintf(log, "ramdisk: unmounted stale %s at %s\n", mi.FSType, mi.Point)
	})
	if err != nil {
		return fmt.Errorf("ramdisk: clean up stale mounts under %s: %w", top, err)
	}
	for _, dir := range dirs {
		names, err := readDirNames(dir)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("ramdisk: clean up %s: %w", dir, err)
		}
		for _, name := range names {
			p := filepath.Join(dir, name)
			if fi, err := os.Lstat(p); err == nil && fi.IsDir() {
				fmt.Fprintf(log, "ramdisk: removing stale slot %s\n", p)
			}
			if err := removeTree(p); err != nil {
				return fmt.Errorf("ramdisk: clean up stale slot: %w", err)
			}
		}
		if err := os.Remove(dir); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("ramdisk: clean up %s: %w", dir, err)
		}
	}
	return nil
}

// ledger shares a Budget among the runs on one root: each run writes what
// it has reserved to its run directory, and a reservation counts what every
// live run holds, under the root's budget lock.
type ledger struct {
	lock string // Root/budget.lock
	runs string // Root/runs
	self string // this run's directory name
}

// locked runs f with the budget lock held and the bytes reserved by the
// other live runs.
func (l *ledger) locked(f func(others int64) error) error {
	unlock, err := flock.LockPath(context.Background(), l.lock, flock.Exclusive)
	if err != nil {
		return fmt.Errorf("ramdisk: budget %w", err)
	}
	defer unlock()
	others, err := l.others()
	if err != nil {
		return err
	}
	return f(others)
}

// others sums the reservations of the other live runs. A run is live while
// its lock is held; the reservation of a dead one counts for nothing.
func (l *ledger) others() (int64, error) {
	names, err := readDirNames(l.runs)
	if err != nil {
		return 0, fmt.Errorf("ramdisk: budget: %w", err)
	}
	var sum int64
	for _, name := range names {
		if name == l.self || !strings.HasPrefix(name, runNamePrefix) {
			continue
		}
		dir := filepath.Join(l.runs, name)
		b, err := os.ReadFile(filepath.Join(dir, reservedName))
		if err != nil {
			continue // nothing reserved yet, or cleaned up meanwhile
		}
		n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		if err != nil || n <= 0 {
			continue
		}
		if unlock, ok := flock.TryPath(filepath.Join(dir, runLockName), flock.Exclusive); ok {
			unlock() // dead: its tmpfs mounts are gone with it, or stale
			continue
		}
		sum += n
	}
	return sum, nil
}

// write records this run's reservation.
func (l *ledger) write(n int64) error {
	p := filepath.Join(l.runs, l.self, reservedName)
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, []byte(strconv.FormatInt(n, 10)+"\n"), 0o644); err != nil {
		return fmt.Errorf("ramdisk: budget: %w", err)
	}
	if err := os.Rename(tmp, p); err != nil {
		return fmt.Errorf("ramdisk: budget: %w", err)
	}
	return nil
}
