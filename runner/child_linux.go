package runner

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"unsafe"
)

// childArg0 marks a re-executed binary as a sandbox init.
const childArg0 = "stx-build-sandbox-init"

// File descriptors the parent passes to the child (exec.Cmd.ExtraFiles).
const (
	specFD   = 3 // the childConfig, JSON
	statusFD = 4 // childStatus reports, JSON
)

// childConfig is what the parent sends the child: Spec without its I/O,
// with defaults applied and the Upper directories spelled out.
type childConfig struct {
	Layers              []string
	Upper, Work, Merged string
	Mounts              []Mount
	Args, Env           []string
	Dir                 string
	UID, GID            int
	Network             bool
	Hostname            string
	// Probe sets the sandbox up and reports Ready instead of running Args.
	Probe bool
}

// childStatus is one report from the child. The last one counts.
type childStatus struct {
	Error  string `json:",omitempty"`
	Errno  int    `json:",omitempty"`
	Ready  bool   `json:",omitempty"`
	Code   int    `json:",omitempty"`
	Signal int    `json:",omitempty"`
}

// MaybeChild runs the sandbox init and exits if this process is one (the
// local runner re-executes its own binary for that); otherwise it returns
// at once. Call it first thing in main, and in TestMain of packages whose
// tests use the local runner.
func MaybeChild() {
	if len(os.Args) != 1 || os.Args[0] != childArg0 {
		return
	}
	// syscall.Exit, not os.Exit: a race-enabled binary would sleep a
	// second in os.Exit (GORACE atexit_sleep_ms), for every sandbox.
	syscall.Exit(childMain())
}

// childMain is the sandbox's PID 1: it builds the root, starts the command
// and reaps processes until the command exits.
func childMain() int {
	syscall.CloseOnExec(specFD)
	syscall.CloseOnExec(statusFD)
	// Our umask came from the parent; the directories we create must be
	// usable by the sandbox user.
	syscall.Umask(0o022)
	status := json.NewEncoder(os.NewFile(statusFD, "status"))
	fail := func(err error) int {
		st := childStatus{Error: err.Error()}
		var errno syscall.Errno
		if errors.As(err, &errno) {
			st.Errno = int(errno)
		}
		_ = status.Encode(st)
		return 125
	}

	var cfg childConfig
	specFile := os.NewFile(specFD, "spec")
	if err := json.NewDecoder(specFile).Decode(&cfg); err != nil {
		return fail(fmt.Errorf("read spec: %w", err))
	}
	specFile.Close()
	if err := setupRoot(&cfg); err != nil {
		return fail(err)
	}
	if cfg.Probe {
		// The restrictions every command gets must be possible here.
		runtime.LockOSThread()
		if err := restrictThread(); err != nil {
			return fail(err)
		}
		_ = status.Encode(childStatus{Ready: true})
		return 0
	}

	argv0, err := lookPath(cfg.Args[0], cfg.Env)
	if err != nil {
		return fail(err)
	}
	if fi, err := os.Stat(cfg.Dir); err != nil {
		return fail(fmt.Errorf("working directory: %w", err))
	} else if !fi.IsDir() {
		return fail(fmt.Errorf("working directory %s is not a directory", cfg.Dir))
	}
	// The capability bounding set is per thread, and ForkExec clones the
	// calling thread: stay on it.
	runtime.LockOSThread()
	if err := dropCapabilities(); err != nil {
		return fail(err)
	}
	if err := restrictThread(); err != nil {
		return fail(err)
	}
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGINT, syscall.SIGQUIT)
	pid, err := syscall.ForkExec(argv0, cfg.Args, &syscall.ProcAttr{
		Dir:   cfg.Dir,
		Env:   cfg.Env,
		Files: []uintptr{0, 1, 2},
		Sys: &syscall.SysProcAttr{
			Credential: &syscall.Credential{Uid: uint32(cfg.UID), Gid: uint32(cfg.GID), Groups: []uint32{}},
		},
	})
	if err != nil {
		return fail(fmt.Errorf("start %s as uid %d gid %d in %s: %w", argv0, cfg.UID, cfg.GID, cfg.Dir, err))
	}
	go func() {
		for s := range sigs {
			// SIGINT and SIGQUIT from a terminal reach the command
			// directly (same process group); forwarding them would
			// deliver them twice.
			if s == syscall.SIGTERM || s == syscall.SIGHUP {
				_ = syscall.Kill(pid, s.(syscall.Signal))
			}
		}
	}()

	// As PID 1 we inherit orphans: reap everything, and stop when the
	// command exits. Our exit makes the kernel kill what is left.
	for {
		var ws syscall.WaitStatus
		wpid, err := syscall.Wait4(-1, &ws, 0, nil)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return fail(fmt.Errorf("wait for %s: %w", argv0, err))
		}
		if wpid != pid {
			continue
		}
		var st childStatus
		code := 0
		switch {
		case ws.Exited():
			st.Code = ws.ExitStatus()
			code = st.Code
		case ws.Signaled():
			st.Signal = int(ws.Signal())
			code = 128 + st.Signal
		}
		_ = status.Encode(st)
		return code
	}
}

// setupRoot builds the sandbox's filesystem and switches into it.
func setupRoot(cfg *childConfig) error {
	// Mounts made from here on must not propagate to the host.
	if err := syscall.Mount("", "/", "", syscall.MS_REC|syscall.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make mounts private: %w", err)
	}
	if err := syscall.Sethostname([]byte(cfg.Hostname)); err != nil {
		return fmt.Errorf("set hostname %q: %w", cfg.Hostname, err)
	}
	if !cfg.Network {
		if err := loopbackUp(); err != nil {
			return fmt.Errorf("bring up lo: %w", err)
		}
	}
	root := cfg.Merged
	if err := mountOverlay(cfg.Layers, cfg.Upper, cfg.Work, root); err != nil {
		return err
	}
	if err := mountProc(root); err != nil {
		return err
	}
	if err := mountSys(root); err != nil {
		return err
	}
	if err := mountDev(root); err != nil {
		return err
	}
	for _, m := range cfg.Mounts {
		if err := mountExtra(root, m); err != nil {
			return err
		}
	}
	return pivotRoot(root)
}

func mountProc(root string) error {
	p, err := mkdirIn(root, "/proc")
	if err != nil {
		return fmt.Errorf("mount /proc: %w", err)
	}
	if err := mount("proc", p, "proc", syscall.MS_NOSUID|syscall.MS_NODEV|syscall.MS_NOEXEC, ""); err != nil {
		return err
	}
	// Root in the sandbox must not tune the host kernel.
	for _, sub := range []string{"sys", "sysrq-trigger", "irq", "bus"} {
		q := filepath.Join(p, sub)
		if _, err := os.Lstat(q); errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err := bindMount(q, q, true); err != nil {
			return err
		}
	}
	return nil
}

func mountSys(root string) error {
	p, err := mkdirIn(root, "/sys")
	if err != nil {
		return fmt.Errorf("mount /sys: %w", err)
	}
	return mount("sysfs", p, "sysfs", syscall.MS_RDONLY|syscall.MS_NOSUID|syscall.MS_NODEV|syscall.MS_NOEXEC, "")
}

// devNodes are bind-mounted from the host's /dev.
var devNodes = []string{"null", "zero", "full", "random", "urandom", "tty"}

// mountDev mounts a minimal /dev: a tmpfs with a few host device nodes,
// a private devpts instance and a /dev/shm.
func mountDev(root string) error {
	d, err := mkdirIn(root, "/dev")
	if err != nil {
		return fmt.Errorf("mount /dev: %w", err)
	}
	if err := mount("tmpfs", d, "tmpfs", syscall.MS_NOSUID|syscall.MS_NOEXEC, "mode=755,size=65536k"); err != nil {
		return err
	}
	// d is a fresh tmpfs: plain joins cannot meet symlinks below it.
	for _, n := range devNodes {
		p := filepath.Join(d, n)
		if err := os.WriteFile(p, nil, 0o666); err != nil {
			return fmt.Errorf("mount /dev/%s: %w", n, err)
		}
		if err := bindMount("/dev/"+n, p, false); err != nil {
			return err
		}
	}
	pts := filepath.Join(d, "pts")
	if err := os.Mkdir(pts, 0o755); err != nil {
		return fmt.Errorf("mount /dev/pts: %w", err)
	}
	if err := mount("devpts", pts, "devpts", syscall.MS_NOSUID|syscall.MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620,gid=5"); err != nil {
		return err
	}
	shm := filepath.Join(d, "shm")
	if err := os.Mkdir(shm, 0o755); err != nil {
		return fmt.Errorf("mount /dev/shm: %w", err)
	}
	if err := mount("shm", shm, "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV, "mode=1777,size="+strconv.Itoa(DefaultShmSize)); err != nil {
		return err
	}
	for _, l := range [][2]string{
		{"ptmx", "pts/ptmx"},
		{"fd", "/proc/self/fd"},
		{"stdin", "/proc/self/fd/0"},
		{"stdout", "/proc/self/fd/1"},
		{"stderr", "/proc/self/fd/2"},
	} {
		if err := os.Symlink(l[1], filepath.Join(d, l[0])); err != nil {
			return fmt.Errorf("mount /dev: %w", err)
		}
	}
	return nil
}

// mountExtra applies one of the caller's mounts.
func mountExtra(root string, m Mount) error {
	if m.Type == "tmpfs" {
		p, err := mkdirIn(root, m.Target)
		if err != nil {
			return fmt.Errorf("mount tmpfs on %s: %w", m.Target, err)
		}
		flags := uintptr(syscall.MS_NOSUID | syscall.MS_NODEV)
		if m.ReadOnly {
			flags |= syscall.MS_RDONLY
		}
		data := "mode=1777"
		if m.Size > 0 {
			data += ",size=" + strconv.FormatInt(m.Size, 10)
		}
		return mount("tmpfs", p, "tmpfs", flags, data)
	}
	fi, err := os.Stat(m.Source)
	if err != nil {
		return fmt.Errorf("mount %s on %s: %w", m.Source, m.Target, err)
	}
	var p string
	if fi.IsDir() {
		p, err = mkdirIn(root, m.Target)
	} else {
		p, err = mkfileIn(root, m.Target)
	}
	if err != nil {
		return fmt.Errorf("mount %s on %s: %w", m.Source, m.Target, err)
	}
	// What a step's tree or inputs hold (a setuid file, a device node)
	// gives no privileges inside.
	if err := mount(m.Source, p, "", syscall.MS_BIND|syscall.MS_REC, ""); err != nil {
		return err
	}
	flags := uintptr(syscall.MS_NOSUID | syscall.MS_NODEV)
	if m.ReadOnly {
		flags |= syscall.MS_RDONLY
	}
	return remount(p, flags)
}

// pivotRoot makes root the process's "/" and detaches the host's root.
func pivotRoot(root string) error {
	if err := syscall.Chdir(root); err != nil {
		return fmt.Errorf("pivot_root: %w", err)
	}
	// pivot_root(".", ".") stacks the old root on top of the new one;
	// detaching "." then drops it (pivot_root(2), NOTES).
	if err := syscall.PivotRoot(".", "."); err != nil {
		return fmt.Errorf("pivot_root %s: %w", root, err)
	}
	if err := syscall.Unmount(".", syscall.MNT_DETACH); err != nil {
		return fmt.Errorf("detach the host root: %w", err)
	}
	if err := syscall.Chdir("/"); err != nil {
		return fmt.Errorf("pivot_root: %w", err)
	}
	return nil
}

// lookPath finds name inside the sandbox like execvp does, in env's PATH
// or DefaultPath.
func lookPath(name string, env []string) (string, error) {
	if strings.Contains(name, "/") {
		return name, nil
	}
	pathVar := DefaultPath
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			pathVar = v
		}
	}
	for _, dir := range filepath.SplitList(pathVar) {
		if dir == "" {
			dir = "."
		}
		p := path.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("exec %q: executable file not found in PATH=%s: %w", name, pathVar, syscall.ENOENT)
}

// keptCapabilities are what a root process in the sandbox may use: what
// apt, dpkg and maintainer scripts need (Docker's default set without
// CAP_MKNOD). Without CAP_SYS_ADMIN, CAP_MKNOD and CAP_DAC_READ_SEARCH
// root cannot mount, create device nodes or open files by handle, so it
// cannot reach the host's filesystem.
var keptCapabilities = map[int]bool{
	0:  true, // CAP_CHOWN
	1:  true, // CAP_DAC_OVERRIDE
	3:  true, // CAP_FOWNER
	4:  true, // CAP_FSETID
	5:  true, // CAP_KILL
	6:  true, // CAP_SETGID
	7:  true, // CAP_SETUID
	8:  true, // CAP_SETPCAP
	10: true, // CAP_NET_BIND_SERVICE
	13: true, // CAP_NET_RAW
	18: true, // CAP_SYS_CHROOT
	29: true, // CAP_AUDIT_WRITE
	31: true, // CAP_SETFCAP
}

// keptCapabilityMask is keptCapabilities as a bit mask (CapBnd in
// /proc/PID/status).
func keptCapabilityMask() uint64 {
	var m uint64
	for c := range keptCapabilities {
		m |= 1 << c
	}
	return m
}

const prCapbsetDrop = 24 // PR_CAPBSET_DROP

// dropCapabilities shrinks the calling thread's bounding set to
// keptCapabilities and clears its inheritable set, so that no process it
// starts, even as root or through setuid binaries, gets more.
func dropCapabilities() error {
	last := 63
	if b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap"); err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			last = n
		}
	}
	for c := 0; c <= last; c++ {
		if keptCapabilities[c] {
			continue
		}
		if _, _, e := syscall.RawSyscall(syscall.SYS_PRCTL, prCapbsetDrop, uintptr(c), 0); e != 0 && e != syscall.EINVAL {
			return fmt.Errorf("drop capability %d: %w", c, e)
		}
	}
	// capget/capset with _LINUX_CAPABILITY_VERSION_3 (two 32-bit words).
	hdr := struct {
		version uint32
		pid     int32
	}{version: 0x20080522}
	var data [2]struct{ effective, permitted, inheritable uint32 }
	if _, _, e := syscall.RawSyscall(syscall.SYS_CAPGET, uintptr(unsafe.Pointer(&hdr)), uintptr(unsafe.Pointer(&data[0])), 0); e != 0 {
		return fmt.Errorf("capget: %w", e)
	}
	if data[0].inheritable == 0 && data[1].inheritable == 0 {
		return nil
	}
	data[0].inheritable, data[1].inheritable = 0, 0
	if _, _, e := syscall.RawSyscall(syscall.SYS_CAPSET, uintptr(unsafe.Pointer(&hdr)), uintptr(unsafe.Pointer(&data[0])), 0); e != 0 {
		return fmt.Errorf("capset: %w", e)
	}
	return nil
}

// loopbackUp sets IFF_UP on lo, as `ip link set lo up` does.
func loopbackUp() error {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_DGRAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer syscall.Close(fd)
	var ifr struct { // struct ifreq: name, then a union (flags first), 40 bytes
		name  [syscall.IFNAMSIZ]byte
		flags uint16
		_     [22]byte
	}
	copy(ifr.name[:], "lo")
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), syscall.SIOCGIFFLAGS, uintptr(unsafe.Pointer(&ifr))); e != 0 {
		return fmt.Errorf("SIOCGIFFLAGS: %w", e)
	}
	ifr.flags |= syscall.IFF_UP
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), syscall.SIOCSIFFLAGS, uintptr(unsafe.Pointer(&ifr))); e != 0 {
		return fmt.Errorf("SIOCSIFFLAGS: %w", e)
	}
	return nil
}
