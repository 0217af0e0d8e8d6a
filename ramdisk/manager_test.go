package ramdisk

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func TestNewManagerErrors(t *testing.T) {
	shm := "/dev/shm"
	if typ, err := fsType(shm); err != nil || typ != tmpfsMagic {
		shm = ""
	}
	tests := []struct {
		name string
		opts func(t *testing.T) Options
		err  string
	}{
		{"no root", func(*testing.T) Options { return Options{} }, "no root directory"},
		{"root on tmpfs", func(t *testing.T) Options {
			if shm == "" {
				t.Skip("no tmpfs at /dev/shm")
			}
			d, err := os.MkdirTemp(shm, "ramdisk-test-")
			if err != nil {
				t.Skip(err)
			}
			t.Cleanup(func() { os.RemoveAll(d) })
			return Options{Root: d, Disable: true}
		}, "must be on disk"},
		{"negative minimum", func(t *testing.T) Options {
			return Options{Root: testRoot(t), MinTmpfsSize: -1, Disable: true}
		}, "negative minimum"},
		{"root is a file", func(t *testing.T) Options {
			f := filepath.Join(t.TempDir(), "file")
			os.WriteFile(f, nil, 0o644)
			return Options{Root: f, Disable: true}
		}, "create root"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := NewManager(tt.opts(t))
			if err == nil {
				m.Close()
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tt.err) || !strings.HasPrefix(err.Error(), "ramdisk: ") {
				t.Errorf("err = %q, want one containing %q", err, tt.err)
			}
		})
	}
}

// Runs share a root: each has its own directory, neither cleans up the
// other's slots, and the budget counts the tmpfs slots of both.
func TestManagersShareRoot(t *testing.T) {
	needMount(t)
	root := testRoot(t)
	ctx := context.Background()
	// Uncapped disk slots: a capped one is a mount, which the cleanup of
	// the other managers on this root would see as left behind.
	m1 := newManager(t, Options{Root: root, Budget: NewBudget(10 * MiB), DiskCap: -1})
	m2 := newManager(t, Options{Root: root, Budget: NewBudget(10 * MiB), DiskCap: -1})
	if m1.RunDir() == m2.RunDir() || filepath.Dir(m1.RunDir()) != filepath.Join(m1.Root(), "runs") {
		t.Fatalf("run directories %s and %s", m1.RunDir(), m2.RunDir())
	}
	a, err := m1.Acquire(ctx, Request{Name: "same", Size: 5 * MiB}) // pads to 7 MiB
	if err != nil {
		t.Fatal(err)
	}
	if !a.OnTmpfs || a.Dir != filepath.Join(m1.RunDir(), "tmpfs", "same") {
		t.Fatalf("first slot: tmpfs %v at %s", a.OnTmpfs, a.Dir)
	}
	if got := m2.Budget().Others(); got != 7*MiB {
		t.Errorf("m2 sees %d bytes reserved by others, want %d", got, 7*MiB)
	}
	if m2.Fits(5 * MiB) {
		t.Error("m2.Fits(5 MiB) with 7 of 10 MiB held by m1")
	}
	// The same slot name in another run; the budget sends it to disk.
	b, err := m2.Acquire(ctx, Request{Name: "same", Size: 5 * MiB})
	if err != nil {
		t.Fatal(err)
	}
	if b.OnTmpfs || b.Dir != filepath.Join(m2.RunDir(), "disk", "same") {
		t.Errorf("second slot: tmpfs %v at %s, want disk in its own run", b.OnTmpfs, b.Dir)
	}
	// A third run opening meanwhile leaves both alone.
	m3 := newManager(t, Options{Root: root, Budget: NewBudget(10 * MiB), DiskCap: -1})
	if !exists(a.Dir) || !exists(b.Dir) || !slices.Contains(mountPoints(t, root), a.Dir) {
		t.Error("a new run cleaned up a live run's slots")
	}
	if err := a.Release(); err != nil {
		t.Fatal(err)
	}
	if !m2.Fits(5*MiB) || m3.Budget().Others() != 0 {
		t.Errorf("after release: fits %v, others %d", m2.Fits(5*MiB), m3.Budget().Others())
	}
	if err := m1.Close(); err != nil {
		t.Fatal(err)
	}
	if exists(m1.RunDir()) {
		t.Errorf("closed run's directory %s left", m1.RunDir())
	}
	if _, err := m1.Acquire(ctx, Request{Name: "late"}); err == nil {
		t.Error("Acquire on a closed manager succeeded")
	}
}

// A dead run's directory (its lock free) is cleaned up by the next run even
// while other runs are open, and its reservation stops counting.
func TestNewManagerCleansDeadRun(t *testing.T) {
	needMount(t)
	root := testRoot(t)
	live := newManager(t, Options{Root: root, Budget: NewBudget(10 * MiB)})
	dead := filepath.Join(root, "runs", "run-dead")
	slot := filepath.Join(dead, "tmpfs", "x")
	if err := os.MkdirAll(slot, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dead, "reserved"), []byte("9437184\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := live.Budget().Others(); got != 0 {
		t.Errorf("a dead run's reservation counts: %d", got)
	}
	if err := syscall.Mount("stx-build", slot, "tmpfs", 0, "size=1m"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unmountUnder(dead, true, nil) })
	var log bytes.Buffer
	newManager(t, Options{Root: root, Budget: NewBudget(10 * MiB), Log: &log})
	if exists(dead) || slices.Contains(mountPoints(t, root), slot) {
		t.Errorf("dead run %s not cleaned up", dead)
	}
	if !strings.Contains(log.String(), "unmounted stale tmpfs at "+slot) {
		t.Errorf("log: %s", log.String())
	}
	if !exists(live.RunDir()) {
		t.Error("the live run's directory was removed")
	}
}

// A crashed run's mounts (nested ones too) and directories are cleaned up
// by the next NewManager.
func TestNewManagerCleansStaleSlots(t *testing.T) {
	needMount(t)
	root := testRoot(t)
	stale := filepath.Join(root, "tmpfs", "hello_2.10-3_amd64")
	nested := filepath.Join(stale, "build", "proc-like")
	oldDisk := filepath.Join(root, "disk", "big_1.0_amd64")
	for _, d := range []string{stale, oldDisk} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := syscall.Mount("stx-build", stale, "tmpfs", 0, "size=1m"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unmountUnder(root, false, nil) }) // if the test fails
	if err := os.MkdirAll(nested, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", nested, "tmpfs", 0, "size=1m"); err != nil {
		t.Fatal(err)
	}
	// Busy too: an open file in the stale mount.
	f, err := os.Create(filepath.Join(stale, "build", "log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := writeFile(filepath.Join(oldDisk, "obj"), MiB); err != nil {
		t.Fatal(err)
	}
	if got := mountPoints(t, root); len(got) != 2 {
		t.Fatalf("setup: mounts %q", got)
	}

	var log bytes.Buffer
	m := newManager(t, Options{Root: root, Budget: NewBudget(GiB), Log: &log})
	if got := mountPoints(t, m.Root()); len(got) > 0 {
		t.Errorf("stale mounts left: %q", got)
	}
	for _, d := range []string{stale, oldDisk} {
		if exists(d) {
			t.Errorf("%s still exists", d)
		}
	}
	for _, want := range []string{"unmounted stale tmpfs at " + nested, "unmounted stale tmpfs at " + stale, "removing stale slot " + oldDisk} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, log.String())
		}
	}
	// The same name can be used again (in the run's own directory now).
	s, err := m.Acquire(context.Background(), Request{Name: "hello_2.10-3_amd64", Size: MiB})
	if err != nil {
		t.Fatal(err)
	}
	if s.Dir != filepath.Join(m.RunDir(), "tmpfs", "hello_2.10-3_amd64") || !s.OnTmpfs {
		t.Errorf("slot %+v", s)
	}
}

func TestPeakGrows(t *testing.T) {
	for _, tmpfs := range []bool{false, true} {
		t.Run(map[bool]string{false: "disk", true: "tmpfs"}[tmpfs], func(t *testing.T) {
			if tmpfs {
				needMount(t)
			}
			m := newManager(t, Options{Budget: NewBudget(GiB), Disable: !tmpfs})
			s, err := m.Acquire(context.Background(), Request{Name: "peak", Size: 16 * MiB})
			if err != nil {
				t.Fatal(err)
			}
			if s.OnTmpfs != tmpfs {
				t.Fatalf("OnTmpfs = %v", s.OnTmpfs)
			}
			if p := s.Peak(); p > MiB {
				t.Errorf("initial Peak = %s", FormatSize(p))
			}
			big := filepath.Join(s.Dir, "big")
			for _, n := range []int64{2 * MiB, 6 * MiB} {
				if err := writeFile(big, n); err != nil {
					t.Fatal(err)
				}
				waitFor(t, func() bool { return s.Peak() >= n }, "Peak >= %s (is %s)", FormatSize(n), FormatSize(s.Peak()))
			}
			// Deleting files lowers usage, not the peak.
			if err := os.Remove(big); err != nil {
				t.Fatal(err)
			}
			if u, err := s.Usage(); err != nil || u >= MiB {
				t.Errorf("Usage after delete = %s, %v", FormatSize(u), err)
			}
			// The final sample at Release catches what the sampler missed.
			if err := writeFile(filepath.Join(s.Dir, "last"), 9*MiB); err != nil {
				t.Fatal(err)
			}
			if err := s.Release(); err != nil {
				t.Fatal(err)
			}
			if p := s.Peak(); p < 9*MiB || p > 11*MiB {
				t.Errorf("Peak after Release = %s, want about 9 MiB", FormatSize(p))
			}
		})
	}
}

func waitFor(t *testing.T, cond func() bool, format string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for "+format, args...)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Many builds acquiring and releasing at once never overrun the budget,
// and every mount is undone.
func TestManagerConcurrent(t *testing.T) {
	needMount(t)
	const total = 12 * MiB
	m := newManager(t, Options{Budget: NewBudget(total)})
	var (
		wg              sync.WaitGroup
		mu              sync.Mutex
		onTmpfs, onDisk int
		errs            []error
	)
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 6 {
				s, err := m.Acquire(context.Background(), Request{Name: fmt.Sprintf("pkg%d_%d", g, i), Size: int64(1+(g+i)%3) * MiB})
				if err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
					return
				}
				if u := m.Budget().InUse(); u < 0 || u > total {
					t.Errorf("budget in use %d outside [0, %d]", u, total)
				}
				if err := os.WriteFile(filepath.Join(s.Dir, "f"), []byte("x"), 0o644); err != nil {
					t.Error(err)
				}
				mu.Lock()
				if s.OnTmpfs {
					onTmpfs++
				} else {
					onDisk++
				}
				mu.Unlock()
				if err := s.Release(); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if u := m.Budget().InUse(); u != 0 {
		t.Errorf("budget in use at the end: %d", u)
	}
	if onTmpfs == 0 {
		t.Errorf("no slot went on tmpfs (%d on disk)", onDisk)
	}
	if ms := mountPoints(t, m.Root()); len(ms) > 0 {
		t.Errorf("mounts left: %q", ms)
	}
	if len(m.Held()) != 0 {
		t.Errorf("held: %q", m.Held())
	}
}
