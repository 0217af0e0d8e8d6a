package ramdisk

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// SampleInterval is how often a held slot's usage is sampled for Peak.
// Disk slots are walked like du, so their interval stretches to ten times
// the duration of the last walk: a huge tree costs at most about a tenth of
// one CPU.
const SampleInterval = 500 * time.Millisecond

// mount is syscall.Mount; tests replace it to see how failures are handled.
var mount = syscall.Mount

// Options configure NewManager.
type Options struct {
	// Root is the parent directory for slots: Root/tmpfs/<name> mounts and
	// Root/disk/<name> directories. It must be on disk (not tmpfs), since
	// disk slots are where builds go that do not fit in RAM. It is created
	// if missing.
	Root string
	// Budget is the RAM budget for tmpfs slots. Nil: a new budget of
	// DefaultBudget bytes.
	Budget *Budget
	// Disable never uses tmpfs (e.g. when not root, or inside a container
	// that may not mount).
	Disable bool
	// MinTmpfsSize is the smallest tmpfs mounted. 0: MinTmpfsSize
	// (256 MiB). Tests use a small value to fill a tmpfs cheaply.
	MinTmpfsSize int64
	// SampleInterval is how often usage is sampled. 0: SampleInterval.
	SampleInterval time.Duration
	// Log receives a line for each stale mount or directory cleaned up.
	// Nil: discard.
	Log io.Writer
	// DiskCap is the size of each disk slot's own file system (see
	// disk.go): 0 means DefaultDiskCap, a negative value plain
	// directories without a cap. When the image cannot be made (no loop
	// devices, not root), the slot is an uncapped directory, unless
	// DiskCapRequired.
	DiskCap int64
	// DiskCapRequired fails Acquire for a disk slot that cannot be capped.
	DiskCapRequired bool
}

// Manager hands out slots under one root directory, which any number of
// processes may use at once: each open Manager is a run with its own
// directory under the root (see the package doc), and the RAM budget counts
// the tmpfs slots of all of them. A Manager is safe for concurrent use.
type Manager struct {
	root     string
	tmpfsDir string
	diskDir  string
	budget   *Budget
	disable  bool
	minSize  int64
	interval time.Duration
	diskCap  int64
	// diskCapRequired: see Options.DiskCapRequired.
	diskCapRequired bool
	log             io.Writer
	lock            *os.File // Root/lock, held shared
	runDir          string   // Root/runs/<id>: this run's slots
	// runUnlock drops the run directory's lock.
	runUnlock func()

	mu     sync.Mutex
	slots  map[string]*Slot // held (or being set up), by name
	closed bool
}

// NewManager opens the root directory as one run among any others open on
// it, and removes what crashed earlier runs left: the directories of runs
// whose lock is free, after unmounting every mount under them (found in
// /proc/self/mountinfo, deepest first, lazily if busy).
func NewManager(opts Options) (*Manager, error) {
	if opts.Root == "" {
		return nil, errors.New("ramdisk: no root directory given")
	}
	root, err := filepath.Abs(opts.Root)
	if err != nil {
		return nil, fmt.Errorf("ramdisk: root %s: %w", opts.Root, err)
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, fmt.Errorf("ramdisk: create root: %w", err)
	}
	// Mount points in mountinfo are canonical paths.
	if root, err = filepath.EvalSymlinks(root); err != nil {
		return nil, fmt.Errorf("ramdisk: root %s: %w", opts.Root, err)
	}
	switch t, err := fsType(root); {
	case err != nil:
		return nil, fmt.Errorf("ramdisk: root %s: statfs: %w", root, err)
	case t == tmpfsMagic || t == ramfsMagic:
		return nil, fmt.Errorf("ramdisk: root %s is in RAM (tmpfs); it must be on disk, where builds that do not fit the RAM budget go", root)
	}
	if opts.MinTmpfsSize < 0 {
		return nil, fmt.Errorf("ramdisk: negative minimum tmpfs size %d", opts.MinTmpfsSize)
	}
	m := &Manager{
		root:     root,
		budget:   opts.Budget,
		disable:  opts.Disable,
		minSize:  opts.MinTmpfsSize,
		interval: opts.SampleInterval,
		slots:    map[string]*Slot{},
		diskCap:  opts.DiskCap,
		log:      opts.Log,

		diskCapRequired: opts.DiskCapRequired,
	}
	if m.diskCap == 0 {
		m.diskCap = DefaultDiskCap
	}
	if m.minSize == 0 {
		m.minSize = MinTmpfsSize
	}
	if m.interval <= 0 {
		m.interval = SampleInterval
	}
	if m.budget == nil {
		if m.disable {
			m.budget = NewBudget(0)
		} else {
			total, err := DefaultBudget()
			if err != nil {
				return nil, err
			}
			m.budget = NewBudget(total)
		}
	}

	if err := m.openRun(opts.Log); err != nil {
		m.unlock()
		return nil, err
	}
	l := &ledger{lock: filepath.Join(root, budgetLock), runs: filepath.Join(root, runsDirName), self: filepath.Base(m.runDir)}
	if err := m.budget.share(l); err != nil {
		m.unlock()
		return nil, err
	}
	return m, nil
}

// Root is the manager's root directory (absolute, symlinks resolved).
func (m *Manager) Root() string { return m.root }

// RunDir is this run's directory under Root, where its slots are:
// RunDir/tmpfs/<name> and RunDir/disk/<name>.
func (m *Manager) RunDir() string { return m.runDir }

// Budget is the RAM budget tmpfs slots reserve from.
func (m *Manager) Budget() *Budget { return m.budget }

// PaddedSize is the tmpfs size this manager mounts for a predicted size
// (see the package function PaddedSize).
func (m *Manager) PaddedSize(size int64) int64 { return PaddedSize(size, m.minSize) }

// Fits reports whether a build of the predicted size (0: unknown) would go
// on tmpfs if acquired now. The scheduler uses it to choose between waiting
// for RAM and building on disk; Acquire itself never waits.
func (m *Manager) Fits(size int64) bool {
	return !m.disable && size >= 0 && m.budget.Fits(m.PaddedSize(size))
}

// Held lists the names of the slots held now, sorted.
func (m *Manager) Held() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	names := make([]string, 0, len(m.slots))
	for n := range m.slots {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Request asks for a slot.
type Request struct {
	// Name is the slot's unique name, e.g. "hello_2.10-3_amd64". It becomes
	// a directory name, so it must not contain "/", whitespace or "\".
	Name string
	// Size is the predicted peak size of the build tree in bytes; 0 means
	// unknown and counts as DefaultSize (2 GiB).
	Size int64
	// Disk forces a disk slot (the manifest says "tmpfs: disk").
	Disk bool
}

func checkName(name string) error {
	switch {
	case name == "":
		return errors.New("empty slot name")
	case name == "." || name == "..":
		return fmt.Errorf("invalid slot name %q", name)
	case strings.ContainsFunc(name, func(r rune) bool { return r == '/' || r == '\\' || r <= ' ' || r == 0x7f }):
		return fmt.Errorf("invalid slot name %q: no '/', '\\', spaces or control characters", name)
	case len(name) > 200:
		return fmt.Errorf("invalid slot name %q: longer than 200 bytes", name)
	}
	return nil
}

// Acquire creates a slot: a tmpfs of PaddedSize(r.Size) at Root/tmpfs/<Name>
// when that fits the budget now (and neither r.Disk nor Options.Disable
// says otherwise), a directory at Root/disk/<Name> otherwise. It never
// waits for RAM. The caller must Release the slot; ctx only cancels the
// acquisition itself.
func (m *Manager) Acquire(ctx context.Context, r Request) (*Slot, error) {
	if err := checkName(r.Name); err != nil {
		return nil, fmt.Errorf("ramdisk: %w", err)
	}
	if r.Size < 0 {
		return nil, fmt.Errorf("ramdisk: slot %s: negative size %d", r.Name, r.Size)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("ramdisk: slot %s: %w", r.Name, err)
	}
	predicted := r.Size
	if predicted == 0 {
		predicted = DefaultSize
	}
	s := &Slot{Name: r.Name, m: m, stop: make(chan struct{}), done: make(chan struct{})}
	// Hold the slot's lock during setup so that a concurrent ReleaseAll
	// (a signal handler) waits for the mount and then undoes it.
	s.mu.Lock()
	defer s.mu.Unlock()

	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil, fmt.Errorf("ramdisk: slot %s: manager is closed", r.Name)
	}
	if _, dup := m.slots[r.Name]; dup {
		m.mu.Unlock()
		return nil, fmt.Errorf("ramdisk: slot %s is already held", r.Name)
	}
	m.slots[r.Name] = s
	m.mu.Unlock()

	err := m.setUp(s, r, predicted)
	if err == nil && ctx.Err() != nil {
		err = fmt.Errorf("ramdisk: slot %s: %w", r.Name, ctx.Err())
		if rerr := s.releaseLocked(); rerr != nil {
			err = errors.Join(err, rerr)
		}
	}
	if err != nil {
		s.released = true
		m.forget(s)
		return nil, err
	}
	s.sampling = true
	go s.sample(m.interval)
	return s, nil
}

// setUp mounts or creates the slot's directory.
func (m *Manager) setUp(s *Slot, r Request, predicted int64) error {
	padded := m.PaddedSize(predicted)
	if !r.Disk && !m.disable && m.budget.TryReserve(padded) {
		dir := filepath.Join(m.tmpfsDir, r.Name)
		if err := os.Mkdir(dir, 0o755); err != nil {
			m.budget.Release(padded)
			return fmt.Errorf("ramdisk: slot %s: %w", r.Name, err)
		}
		opts := fmt.Sprintf("size=%d,mode=0755", padded)
		if err := mount("stx-build", dir, "tmpfs", 0, opts); err != nil {
			m.budget.Release(padded)
			os.Remove(dir)
			return fmt.Errorf("ramdisk: mount tmpfs at %s (size %s): %w", dir, FormatSize(padded), err)
		}
		s.Dir, s.OnTmpfs, s.Size, s.reserved = dir, true, padded, padded
		return nil
	}
	return m.setUpDisk(s, r, predicted)
}

func (m *Manager) forget(s *Slot) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.slots[s.Name] == s {
		delete(m.slots, s.Name)
	}
}

// ReleaseAll releases every held slot (in name order) and returns all
// errors joined. It is meant for signal handlers and shutdown; slots being
// acquired concurrently are released once their setup finishes.
func (m *Manager) ReleaseAll() error {
	m.mu.Lock()
	slots := make([]*Slot, 0, len(m.slots))
	for _, s := range m.slots {
		slots = append(slots, s)
	}
	m.mu.Unlock()
	slices.SortFunc(slots, func(a, b *Slot) int { return strings.Compare(a.Name, b.Name) })
	var errs []error
	for _, s := range slots {
		if err := s.Release(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Close releases every slot, refuses further Acquires and gives up the
// root's lock. Closing twice is harmless.
func (m *Manager) Close() error {
	m.mu.Lock()
	m.closed = true
	m.mu.Unlock()
	err := m.ReleaseAll()
	m.unlock()
	return err
}

func (m *Manager) unlock() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.runUnlock != nil {
		if m.runDir != "" {
			// Nothing is mounted here any more: the slots are released.
			_ = removeTree(m.runDir) // never crosses into a mount left behind
		}
		m.runUnlock()
		m.runUnlock = nil
	}
	if m.lock != nil {
		m.lock.Close() // closing the last descriptor drops the flock
		m.lock = nil
	}
}
