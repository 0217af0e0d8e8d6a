// Package boot boot-tests an ISO in qemu: it starts the architecture's
// machine (KVM when usable, else TCG emulation) with the ISO as a CD-ROM
// or USB stick, watches the serial console, and reports whether an
// expected line appeared before a timeout.
package bootcheck

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/stx-build/stx-build/arch"
)

// Options configure Run.
type Options struct {
	// ISO is the image to boot.
	ISO string
	// Profile is the ISO's architecture.
	Profile *arch.Profile
	// Firmware is bios or uefi ("" for the architecture's default).
	Firmware string
	// Media is cdrom (default) or usb.
	Media string
	// Expect is the text to wait for on the console.
	Expect string
	// Fail are texts that end the boot as failed as soon as they appear
	// (default DefaultFail; an empty non-nil list disables it).
	Fail []string
	// Timeout bounds the whole boot (default 10 minutes).
	Timeout time.Duration
	// Accel is auto (KVM when usable), kvm or tcg.
	Accel string
	// Console receives everything qemu prints (optional).
	Console io.Writer
	// TailLines is how many console lines a failure reports (default 40).
	TailLines int
}

// Result describes a boot.
type Result struct {
	// Accel is what ran the machine: kvm or tcg.
	Accel string
	// Command is the qemu command line.
	Command []string
	// Elapsed is the time from starting qemu to the expected line.
	Elapsed time.Duration
	// Line is the console line holding the expected text.
	Line string
}

// Error is a boot that did not reach the expected text; Tail holds the
// last console lines.
type Error struct {
	Reason string
	Tail   string
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s; last console lines:\n%s", e.Reason, e.Tail)
}

// DefaultFail are console texts after which a boot will not succeed: a
// kernel panic, and the live initramfs giving up.
var DefaultFail = []string{"Kernel panic - not syncing", "stx-live: error:"}

// Run boots opts.ISO and waits for opts.Expect. qemu is stopped when the
// text appears, on timeout and when ctx ends.
func Run(ctx context.Context, opts Options) (*Result, error) {
	opts, err := withDefaults(opts)
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "stx-boot-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	res, err := command(opts, tmp)
	if err != nil {
		return nil, err
	}
	return res, watch(ctx, opts, res)
}

// withDefaults checks opts and fills in the defaults.
func withDefaults(opts Options) (Options, error) {
	if opts.Profile == nil || opts.ISO == "" || opts.Expect == "" {
		return opts, errors.New("boot: ISO, Profile and Expect are required")
	}
	if _, err := os.Stat(opts.ISO); err != nil {
		return opts, err
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 10 * time.Minute
	}
	if opts.TailLines <= 0 {
		opts.TailLines = 40
	}
	if opts.Fail == nil {
		opts.Fail = DefaultFail
	}
	return opts, nil
}

// command makes the qemu command line of opts's boot (the profile's
// machine, firmware and accelerator); a firmware's variables are copied
// into tmp, which qemu writes.
func command(opts Options, tmp string) (*Result, error) {
	p := opts.Profile
	if _, err := exec.LookPath(p.Qemu.Command); err != nil {
		return nil, fmt.Errorf("%s not found (install %s)", p.Qemu.Command, p.Qemu.Package)
	}
	fw, err := p.Firmware(opts.Firmware)
	if err != nil {
		return nil, err
	}
	if err := fw.Check(); err != nil {
		return nil, err
	}
	kvm, err := useKVM(opts.Accel, p.Arch)
	if err != nil {
		return nil, err
	}
	iso, err := filepath.Abs(opts.ISO)
	if err != nil {
		return nil, err
	}
	run := arch.QemuRun{ISO: iso, Firmware: fw.Name, Media: opts.Media, KVM: kvm}
	if fw.Vars != "" {
		run.VarsCopy = filepath.Join(tmp, filepath.Base(fw.Vars))
		data, err := os.ReadFile(fw.Vars)
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(run.VarsCopy, data, 0o600); err != nil {
			return nil, err
		}
	}
	argv, err := p.QemuCommand(run)
	if err != nil {
		return nil, err
	}
	res := &Result{Accel: "tcg", Command: argv}
	if kvm {
		res.Accel = "kvm"
	}
	return res, nil
}

// watch runs res.Command and reads its console until opts.Expect (res's
// Elapsed and Line set), a fail text, qemu's exit, the timeout or the end
// of ctx (an *Error with the console's last lines).
func watch(ctx context.Context, opts Options, res *Result) error {
	argv := res.Command
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	// qemu reads the serial console's input from stdin: an open pipe that
	// stays silent.
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	defer stdin.Close()
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	cmd.Stderr = cmd.Stdout
	// Ask qemu to quit first; kill it if it has not after a few seconds.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 5 * time.Second
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", argv[0], err)
	}
	w := &watcher{expect: opts.Expect, fail: opts.Fail, found: make(chan string, 1), failed: make(chan string, 1)}
	var console io.Writer = w
	if opts.Console != nil {
		console = io.MultiWriter(opts.Console, w)
	}
	copied := make(chan error, 1)
	go func() {
		_, err := io.Copy(console, out)
		copied <- err
	}()
	select {
	case line := <-w.found:
		res.Elapsed = time.Since(start)
		res.Line = line
		cancel()
		<-copied
		cmd.Wait()
		return nil
	case line := <-w.failed:
		// Let the console run on briefly: what follows explains it.
		select {
		case <-time.After(3 * time.Second):
			cancel()
			<-copied
		case <-copied:
		}
		cmd.Wait()
		return &Error{Reason: fmt.Sprintf("failed after %s: %q", time.Since(start).Round(time.Second), stripControl(line)), Tail: w.tail(opts.TailLines)}
	case <-copied:
		// qemu closed its output: it exited.
		werr := cmd.Wait()
		select {
		case line := <-w.found:
			res.Elapsed = time.Since(start)
			res.Line = line
			return nil
		default:
		}
		return &Error{Reason: fmt.Sprintf("qemu exited (%v) after %s before %q appeared", werr, time.Since(start).Round(time.Second), opts.Expect), Tail: w.tail(opts.TailLines)}
	case <-ctx.Done():
		<-copied
		cmd.Wait()
		reason := fmt.Sprintf("%q did not appear within %s", opts.Expect, opts.Timeout)
		if ctx.Err() == context.Canceled {
			reason = "interrupted before " + fmt.Sprintf("%q", opts.Expect) + " appeared"
		}
		return &Error{Reason: reason, Tail: w.tail(opts.TailLines)}
	}
}

// useKVM decides on hardware virtualization: only for the host's own
// architecture, and in auto mode only when /dev/kvm works.
func useKVM(accel, guest string) (bool, error) {
	native := guest == map[string]string{"amd64": "amd64", "arm64": "arm64"}[runtime.GOARCH]
	switch accel {
	case "", "auto":
		return native && KVMUsable() == nil, nil
	case "tcg":
		return false, nil
	case "kvm":
		if !native {
			return false, fmt.Errorf("KVM cannot run %s guests on this %s host", guest, runtime.GOARCH)
		}
		if err := KVMUsable(); err != nil {
			return false, err
		}
		return true, nil
	}
	return false, fmt.Errorf("unknown accelerator %q (auto, kvm or tcg)", accel)
}

// KVMUsable reports why /dev/kvm cannot run a virtual machine, or nil: on
// x86 the CPU must have virtualization extensions (vmx or svm; a /dev/kvm
// without them can create a VM that qemu then fails to run), and /dev/kvm
// must open, speak API version 12 and create a VM.
func KVMUsable() error {
	if runtime.GOARCH == "amd64" {
		data, err := os.ReadFile("/proc/cpuinfo")
		if err != nil {
			return fmt.Errorf("KVM: %w", err)
		}
		if !hasCPUFlag(data, "vmx") && !hasCPUFlag(data, "svm") {
			return errors.New("KVM: the CPU has no virtualization extensions (vmx, svm)")
		}
	}
	f, err := os.OpenFile("/dev/kvm", os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("KVM: %w", err)
	}
	defer f.Close()
	const kvmGetAPIVersion, kvmCreateVM = 0xAE00, 0xAE01
	v, _, errno := syscall.Syscall(syscall.SYS_IOCTL, f.Fd(), kvmGetAPIVersion, 0)
	if errno != 0 || v != 12 {
		return fmt.Errorf("KVM: unexpected API version (%d, %v)", v, errno)
	}
	fd, _, errno := syscall.Syscall(syscall.SYS_IOCTL, f.Fd(), kvmCreateVM, 0)
	if errno != 0 {
		return fmt.Errorf("KVM: cannot create a VM: %v", errno)
	}
	syscall.Close(int(fd))
	return nil
}

// hasCPUFlag reports whether /proc/cpuinfo data lists flag.
func hasCPUFlag(cpuinfo []byte, flag string) bool {
	for _, l := range strings.Split(string(cpuinfo), "\n") {
		k, v, ok := strings.Cut(l, ":")
		if ok && strings.TrimSpace(k) == "flags" {
			for _, f := range strings.Fields(v) {
				if f == flag {
					return true
				}
			}
		}
	}
	return false
}

// watcher scans the console for the expected text and keeps the last
// lines. The text may arrive split across reads and mixed with carriage
// returns.
type watcher struct {
	expect string
	fail   []string
	found  chan string
	failed chan string

	mu    sync.Mutex
	cur   []byte   // the line being received
	lines []string // complete lines, the last few hundred
	done  bool
}

func (w *watcher) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, c := range p {
		switch c {
		case '\r':
			continue
		case '\n':
			w.check()
			w.lines = append(w.lines, string(w.cur))
			if len(w.lines) > 500 {
				w.lines = w.lines[len(w.lines)-400:]
			}
			w.cur = w.cur[:0]
		default:
			w.cur = append(w.cur, c)
		}
	}
	w.check()
	return len(p), nil
}

func (w *watcher) check() {
	if w.done {
		return
	}
	if bytes.Contains(w.cur, []byte(w.expect)) {
		w.done = true
		w.found <- string(w.cur)
		return
	}
	for _, f := range w.fail {
		if f != "" && bytes.Contains(w.cur, []byte(f)) {
			w.done = true
			w.failed <- string(w.cur)
			return
		}
	}
}

func (w *watcher) tail(n int) string {
	w.mu.Lock()
	defer w.mu.Unlock()
	lines := w.lines
	if len(w.cur) > 0 {
		lines = append(append([]string(nil), lines...), string(w.cur))
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	var b strings.Builder
	for _, l := range lines {
		b.WriteString("    | ")
		b.WriteString(stripControl(l))
		b.WriteByte('\n')
	}
	return b.String()
}

// stripControl drops terminal escape sequences (the firmware draws menus
// with them) and other control characters from a console line.
func stripControl(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == 0x1b:
			// ESC [ ... final byte, or ESC and one more byte.
			if i+1 < len(s) && s[i+1] == '[' {
				i += 2
				for i < len(s) && (s[i] < 0x40 || s[i] > 0x7e) {
					i++
				}
			} else {
				i++
			}
		case c < 0x20 && c != '\t':
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
