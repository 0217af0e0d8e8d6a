package ramdisk

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestIsNoSpace(t *testing.T) {
	exitErr := func(stderr string) error {
		err := exec.Command("false").Run()
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("false: %v", err)
		}
		ee.Stderr = []byte(stderr)
		return fmt.Errorf("dpkg-buildpackage: %w", ee)
	}
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"ENOSPC", syscall.ENOSPC, true},
		{"wrapped path error", fmt.Errorf("build: %w", &os.PathError{Op: "write", Path: "/x", Err: syscall.ENOSPC}), true},
		{"log text in error", errors.New("exit status 2: cc1: error: /build/x.o: No space left on device"), true},
		{"exit error stderr", exitErr("ld: final link failed: No space left on device\n"), true},
		{"exit error other", exitErr("undefined reference to `main'\n"), false},
		{"other errno", fmt.Errorf("x: %w", syscall.EIO), false},
		{"plain failure", errors.New("exit status 2"), false},
		{"quota is not space", syscall.EDQUOT, false},
	}
	for _, tt := range tests {
		if got := IsNoSpace(tt.err); got != tt.want {
			t.Errorf("%s: IsNoSpace(%v) = %v, want %v", tt.name, tt.err, got, tt.want)
		}
	}
}

func TestLogSaysNoSpace(t *testing.T) {
	tests := []struct {
		log  string
		want bool
	}{
		{"", false},
		{"make[2]: *** [Makefile:12: all] Error 1\n", false},
		{"tar: ./usr/lib/x.so: Cannot write: No space left on device\n", true},
		{"write /build/out: no space left on device", true},
		{"NO SPACE LEFT ON DEVICE", true},
		{"No space left on", false},
	}
	for _, tt := range tests {
		if got := LogSaysNoSpace([]byte(tt.log)); got != tt.want {
			t.Errorf("LogSaysNoSpace(%q) = %v, want %v", tt.log, got, tt.want)
		}
	}
}

// errPlain is what a build step usually returns: no hint of the cause.
var errPlain = errors.New("exit status 2")

func TestRetryOnDisk(t *testing.T) {
	// Runs that fill the slot. On tmpfs a 2 MiB slot (1 MiB predicted,
	// padded) cannot take 4 MiB; on disk it can.
	writeBig := func(s *Slot) error { return writeFile(filepath.Join(s.Dir, "big"), 4*MiB) }
	writeBigPlain := func(s *Slot) error {
		if err := writeBig(s); err != nil {
			return errPlain // the ENOSPC is only in the log
		}
		return nil
	}
	tests := []struct {
		name      string
		mount     bool
		disk      bool // the request forces disk
		run       func(*Slot) error
		want      []bool // OnTmpfs of each attempt
		wantErr   error
		wantSpace []bool // NoSpace of each attempt
	}{
		{"fits", true, false, func(s *Slot) error { return os.WriteFile(filepath.Join(s.Dir, "f"), []byte("x"), 0o644) },
			[]bool{true}, nil, []bool{false}},
		{"ENOSPC on tmpfs, retried on disk", true, false, writeBig,
			[]bool{true, false}, nil, []bool{true, false}},
		{"full tmpfs, plain error, retried", true, false, writeBigPlain,
			[]bool{true, false}, nil, []bool{true, false}},
		{"no-space text, retried", true, false, func(s *Slot) error {
			if s.OnTmpfs {
				return errors.New("exit status 2: ld: final link failed: No space left on device")
			}
			return nil
		}, []bool{true, false}, nil, []bool{true, false}},
		{"fails on disk too", true, false, func(s *Slot) error { return syscall.ENOSPC },
			[]bool{true, false}, syscall.ENOSPC, []bool{true, true}},
		{"other failure not retried", true, false, func(s *Slot) error { return errPlain },
			[]bool{true}, errPlain, []bool{false}},
		{"disk ENOSPC not retried", false, true, func(s *Slot) error { return syscall.ENOSPC },
			[]bool{false}, syscall.ENOSPC, []bool{true}},
		{"disk success", false, true, writeBig,
			[]bool{false}, nil, []bool{false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.mount {
				needMount(t)
			}
			m := newManager(t, Options{Budget: NewBudget(GiB), Disable: !tt.mount})
			var dirs []string
			res, err := RetryOnDisk(context.Background(), m, Request{Name: "pkg_1.0_amd64", Size: MiB, Disk: tt.disk}, func(s *Slot) error {
				dirs = append(dirs, s.Dir)
				return tt.run(s)
			})
			if !errors.Is(err, tt.wantErr) || (err == nil) != (tt.wantErr == nil) {
				t.Errorf("err = %v, want %v", err, tt.wantErr)
			}
			if len(res.Attempts) != len(tt.want) {
				t.Fatalf("%d attempts (%+v), want %d", len(res.Attempts), res.Attempts, len(tt.want))
			}
			for i, a := range res.Attempts {
				if a.OnTmpfs != tt.want[i] || a.NoSpace != tt.wantSpace[i] || a.Dir != dirs[i] {
					t.Errorf("attempt %d: %+v, want OnTmpfs=%v NoSpace=%v", i, a, tt.want[i], tt.wantSpace[i])
				}
				if a.Peak > res.Peak {
					t.Errorf("attempt %d: Peak %d above the result's %d", i, a.Peak, res.Peak)
				}
				if exists(a.Dir) {
					t.Errorf("attempt %d: %s still exists", i, a.Dir)
				}
			}
			if res.OnTmpfs() != tt.want[len(tt.want)-1] {
				t.Errorf("OnTmpfs() = %v", res.OnTmpfs())
			}
			if u := m.Budget().InUse(); u != 0 {
				t.Errorf("budget in use: %d", u)
			}
			if ms := mountPoints(t, m.Root()); len(ms) > 0 {
				t.Errorf("mounts left: %q", ms)
			}
		})
	}
}

// The peak of a build that outgrew tmpfs is its disk run's.
func TestRetryOnDiskPeak(t *testing.T) {
	needMount(t)
	m := newManager(t, Options{Budget: NewBudget(GiB)})
	res, err := RetryOnDisk(context.Background(), m, Request{Name: "big", Size: MiB}, func(s *Slot) error {
		return writeFile(filepath.Join(s.Dir, "big"), 4*MiB)
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Attempts) != 2 || res.Peak < 4*MiB || res.Attempts[0].Peak > res.Attempts[0].Size {
		t.Errorf("result %+v", res)
	}
}

func TestRetryOnDiskCanceled(t *testing.T) {
	needMount(t)
	m := newManager(t, Options{Budget: NewBudget(GiB)})
	ctx, cancel := context.WithCancel(context.Background())
	res, err := RetryOnDisk(ctx, m, Request{Name: "x", Size: MiB}, func(s *Slot) error {
		cancel() // the build is interrupted and fails for lack of space
		return syscall.ENOSPC
	})
	if !errors.Is(err, syscall.ENOSPC) || len(res.Attempts) != 1 {
		t.Errorf("err = %v, attempts %+v; want one ENOSPC attempt", err, res.Attempts)
	}
	if _, err := RetryOnDisk(ctx, m, Request{Name: "y"}, func(*Slot) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("already canceled: err = %v", err)
	}
	if ms := mountPoints(t, m.Root()); len(ms) > 0 {
		t.Errorf("mounts left: %q", ms)
	}
}

func TestRetryOnDiskPanic(t *testing.T) {
	needMount(t)
	m := newManager(t, Options{Budget: NewBudget(GiB)})
	func() {
		defer func() {
			if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "boom") {
				t.Errorf("recovered %v", r)
			}
		}()
		RetryOnDisk(context.Background(), m, Request{Name: "x", Size: MiB}, func(*Slot) error { panic("boom") })
	}()
	if ms := mountPoints(t, m.Root()); len(ms) > 0 {
		t.Errorf("mounts left after a panic: %q", ms)
	}
	if u := m.Budget().InUse(); u != 0 {
		t.Errorf("budget in use: %d", u)
	}
}
