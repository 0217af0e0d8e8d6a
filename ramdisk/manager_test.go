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

// Two runs must not share a root: the second would clean up the first's
// slots.
func TestNewManagerLocksRoot(t *testing.T) {
	root := testRoot(t)
	m1 := newManager(t, Options{Root: root, Disable: true})
	if _, err := NewManager(Options{Root: root, Disable: true}); err == nil || !strings.Contains(err.Error(), "in use by another") {
		t.Fatalf("second NewManager: err = %v", err)
	}
	if err := m1.Close(); err != nil {
		t.Fatal(err)
	}
	m2, err := NewManager(Options{Root: root, Disable: true})
	if err != nil {
		t.Fatalf("after Close: %v", err)
	}
	m2.Close()
	if _, err := m1.Acquire(context.Background(), Request{Name: "late"}); err == nil {
		t.Error("Acquire on a closed manager succeeded")
	}
}

func TestAcquireNames(t *testing.T) {
	m := newManager(t, Options{Disable: true})
	tests := []struct {
		name string
		ok   bool
	}{
		{"hello_2.10-3_amd64", true},
		{"stx-tools_1:1.0~rc1+b2_arm64", true},
		{"", false},
		{".", false},
		{"..", false},
		{"a/b", false},
		{"a b", false},
		{"a\\b", false},
		{"tab\there", false},
		{strings.Repeat("x", 201), false},
	}
	for _, tt := range tests {
		s, err := m.Acquire(context.Background(), Request{Name: tt.name, Size: MiB})
		if (err == nil) != tt.ok {
			t.Errorf("Acquire(%q): err = %v, want ok=%v", tt.name, err, tt.ok)
		}
		if err == nil {
			if filepath.Base(s.Dir) != tt.name {
				t.Errorf("Acquire(%q).Dir = %s", tt.name, s.Dir)
			}
			s.Release()
		}
	}
	if _, err := m.Acquire(context.Background(), Request{Name: "neg", Size: -1}); err == nil {
		t.Error("negative size accepted")
	}
}

// Placement follows the budget; without mounting (Disable, or r.Disk) it
// needs no privileges.
func TestAcquirePlacement(t *testing.T) {
	type acq struct {
		name      string
		size      int64
		disk      bool
		release   []string // released before this acquisition
		wantTmpfs bool
		wantSize  int64
	}
	tests := []struct {
		name    string
		mount   bool
		budget  int64
		disable bool
		steps   []acq
	}{
		{"budget", true, 10 * MiB, false, []acq{
			{name: "a", size: MiB, wantTmpfs: true, wantSize: 2 * MiB},      // 1.25 MiB rounds up
			{name: "b", size: 4 * MiB, wantTmpfs: true, wantSize: 5 * MiB},  // 7 of 10 in use
			{name: "c", size: 4 * MiB, wantTmpfs: false, wantSize: 4 * MiB}, // 5 more do not fit
			{name: "d", size: MiB, disk: true, wantSize: MiB},               // forced to disk
			{name: "e", size: 0, wantSize: DefaultSize},                     // unknown: 2 GiB, disk
			{name: "f", size: 2 * MiB, wantTmpfs: true, wantSize: 3 * MiB},  // exactly fills 10
			{name: "g", size: 4 * MiB, release: []string{"b"}, wantTmpfs: true, wantSize: 5 * MiB},
		}},
		{"disabled", false, 10 * GiB, true, []acq{
			{name: "a", size: MiB, wantSize: MiB},
			{name: "b", size: 0, wantSize: DefaultSize},
		}},
		{"forced disk", false, 10 * GiB, false, []acq{
			{name: "a", size: MiB, disk: true, wantSize: MiB},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.mount {
				needMount(t)
			}
			m := newManager(t, Options{Budget: NewBudget(tt.budget), Disable: tt.disable})
			held := map[string]*Slot{}
			for _, st := range tt.steps {
				for _, n := range st.release {
					if err := held[n].Release(); err != nil {
						t.Fatal(err)
					}
				}
				fits := m.Fits(st.size)
				s, err := m.Acquire(context.Background(), Request{Name: st.name, Size: st.size, Disk: st.disk})
				if err != nil {
					t.Fatalf("%s: %v", st.name, err)
				}
				held[st.name] = s
				if s.OnTmpfs != st.wantTmpfs || s.Size != st.wantSize {
					t.Errorf("%s: OnTmpfs=%v Size=%s, want %v %s", st.name, s.OnTmpfs, FormatSize(s.Size), st.wantTmpfs, FormatSize(st.wantSize))
				}
				if !st.disk && fits != s.OnTmpfs {
					t.Errorf("%s: Fits = %v before an Acquire that chose tmpfs=%v", st.name, fits, s.OnTmpfs)
				}
				wantDir := filepath.Join(m.Root(), map[bool]string{true: "tmpfs", false: "disk"}[s.OnTmpfs], st.name)
				if s.Dir != wantDir {
					t.Errorf("%s: Dir = %s, want %s", st.name, s.Dir, wantDir)
				}
				mounted := slices.Contains(mountPoints(t, m.Root()), s.Dir)
				if mounted != s.OnTmpfs {
					t.Errorf("%s: mounted = %v, OnTmpfs = %v", st.name, mounted, s.OnTmpfs)
				}
				if u := m.Budget().InUse(); u < 0 || u > tt.budget {
					t.Errorf("budget in use %d outside [0, %d]", u, tt.budget)
				}
			}
			if _, err := m.Acquire(context.Background(), Request{Name: tt.steps[0].name}); err == nil || !strings.Contains(err.Error(), "already held") {
				t.Errorf("duplicate name: err = %v", err)
			}
			released := 0
			for _, st := range tt.steps {
				released += len(st.release)
			}
			if got, want := len(m.Held()), len(held)-released; got != want {
				t.Errorf("Held = %q, want %d slots", m.Held(), want)
			}
			if err := m.ReleaseAll(); err != nil {
				t.Fatal(err)
			}
			if u := m.Budget().InUse(); u != 0 {
				t.Errorf("budget in use after ReleaseAll: %d", u)
			}
			for n, s := range held {
				if exists(s.Dir) {
					t.Errorf("%s: %s still exists", n, s.Dir)
				}
			}
			if ms := mountPoints(t, m.Root()); len(ms) > 0 {
				t.Errorf("mounts left: %q", ms)
			}
		})
	}
}

func TestAcquireMountError(t *testing.T) {
	// What an unprivileged user gets, also when the tests run as root.
	mount = func(string, string, string, uintptr, string) error { return syscall.EPERM }
	defer func() { mount = syscall.Mount }()
	m := newManager(t, Options{Budget: NewBudget(GiB), MinTmpfsSize: MinTmpfsSize})
	_, err := m.Acquire(context.Background(), Request{Name: "x", Size: MiB})
	want := fmt.Sprintf("ramdisk: mount tmpfs at %s (size 256.0 MiB): ", filepath.Join(m.Root(), "tmpfs", "x"))
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("err = %v, want %q...", err, want)
	}
	if !errors.Is(err, syscall.EPERM) {
		t.Errorf("err does not wrap EPERM: %v", err)
	}
	if u := m.Budget().InUse(); u != 0 {
		t.Errorf("budget in use after a failed mount: %d", u)
	}
	if len(m.Held()) != 0 || exists(filepath.Join(m.Root(), "tmpfs", "x")) {
		t.Error("failed Acquire left a slot behind")
	}
}

func TestAcquireCanceled(t *testing.T) {
	m := newManager(t, Options{Disable: true})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := m.Acquire(ctx, Request{Name: "x"}); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if len(m.Held()) != 0 || exists(filepath.Join(m.Root(), "disk", "x")) {
		t.Error("canceled Acquire left a slot behind")
	}
}

// Release unmounts even a busy tmpfs (lazily), and is idempotent.
func TestReleaseUnmounts(t *testing.T) {
	needMount(t)
	for _, busy := range []bool{false, true} {
		t.Run(fmt.Sprintf("busy=%v", busy), func(t *testing.T) {
			m := newManager(t, Options{Budget: NewBudget(GiB)})
			s, err := m.Acquire(context.Background(), Request{Name: "hello_2.10-3_amd64", Size: MiB})
			if err != nil {
				t.Fatal(err)
			}
			if !s.OnTmpfs || !slices.Contains(mountPoints(t, m.Root()), s.Dir) {
				t.Fatalf("not a tmpfs mount: %+v", s)
			}
			if busy {
				f, err := os.Create(filepath.Join(s.Dir, "open"))
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
			}
			for i := range 2 {
				if err := s.Release(); err != nil {
					t.Fatalf("Release #%d: %v", i+1, err)
				}
			}
			if ms := mountPoints(t, m.Root()); len(ms) > 0 {
				t.Errorf("still mounted: %q", ms)
			}
			if exists(s.Dir) {
				t.Errorf("%s still exists", s.Dir)
			}
			if u := m.Budget().InUse(); u != 0 {
				t.Errorf("budget in use: %d", u)
			}
			if _, err := s.Usage(); err == nil {
				t.Error("Usage after Release succeeded")
			}
		})
	}
}

// A bind mount left inside a disk slot is unmounted, not emptied.
func TestReleaseLeavesBindMountsAlone(t *testing.T) {
	needMount(t)
	m := newManager(t, Options{Disable: true})
	host := t.TempDir()
	precious := filepath.Join(host, "precious")
	if err := os.WriteFile(precious, []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := m.Acquire(context.Background(), Request{Name: "bind"})
	if err != nil {
		t.Fatal(err)
	}
	mnt := filepath.Join(s.Dir, "sub", "host")
	if err := os.MkdirAll(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount(host, mnt, "", syscall.MS_BIND, ""); err != nil {
		t.Fatal(err)
	}
	if err := s.Release(); err != nil {
		t.Fatal(err)
	}
	if !exists(precious) {
		t.Error("Release deleted a file through a bind mount")
	}
	if exists(s.Dir) {
		t.Errorf("%s still exists", s.Dir)
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
	// The same name can be used again.
	s, err := m.Acquire(context.Background(), Request{Name: "hello_2.10-3_amd64", Size: MiB})
	if err != nil {
		t.Fatal(err)
	}
	if s.Dir != stale || !s.OnTmpfs {
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
