package runner

import (
	"fmt"
	"runtime"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Every sandboxed command runs under a seccomp filter (on top of the
// dropped capabilities, which already deny most of what it names): the
// system calls below fail with their errno, whatever the caller's uid.
// Nothing a package build or its maintainer scripts need is among them:
// they change the kernel, the mounts or the namespaces, reach the
// kernel's keyrings, BPF or perf, or open files by handle (the way out of
// a chroot). ptrace stays allowed: the sandbox has its own PID namespace,
// CAP_SYS_PTRACE is dropped (a process can trace only its own uid's
// sandbox processes), and test suites use strace and gdb.

// deniedSyscall is one system call the filter refuses, with its number on
// each architecture the runner supports (0: not on that architecture).
type deniedSyscall struct {
	name         string
	amd64, arm64 uint32
	// errno is what the call returns; ENOSYS for clone3, whose flags a
	// filter cannot read (libc then falls back to clone, which it can).
	errno syscall.Errno
	// newUserOnly denies the call only when its first argument (the
	// clone/unshare flags) asks for a new user namespace: the only one an
	// unprivileged process may create, and the door to the kernel's
	// namespaced root-only interfaces. Other namespaces need
	// CAP_SYS_ADMIN, which is dropped.
	newUserOnly bool
}

// deniedSyscalls is the filter's table, in the order it is checked.
var deniedSyscalls = []deniedSyscall{
	{name: "mount", amd64: 165, arm64: 40},
	{name: "umount2", amd64: 166, arm64: 39},
	{name: "pivot_root", amd64: 155, arm64: 41},
	{name: "open_tree", amd64: 428, arm64: 428},
	{name: "move_mount", amd64: 429, arm64: 429},
	{name: "fsopen", amd64: 430, arm64: 430},
	{name: "fsconfig", amd64: 431, arm64: 431},
	{name: "fsmount", amd64: 432, arm64: 432},
	{name: "fspick", amd64: 433, arm64: 433},
	{name: "mount_setattr", amd64: 442, arm64: 442},
	{name: "swapon", amd64: 167, arm64: 224},
	{name: "swapoff", amd64: 168, arm64: 225},
	{name: "reboot", amd64: 169, arm64: 142},
	{name: "init_module", amd64: 175, arm64: 105},
	{name: "finit_module", amd64: 313, arm64: 273},
	{name: "delete_module", amd64: 176, arm64: 106},
	{name: "kexec_load", amd64: 246, arm64: 104},
	{name: "kexec_file_load", amd64: 320, arm64: 294},
	{name: "iopl", amd64: 172},
	{name: "ioperm", amd64: 173},
	{name: "acct", amd64: 163, arm64: 89},
	{name: "quotactl", amd64: 179, arm64: 60},
	{name: "quotactl_fd", amd64: 443, arm64: 443},
	{name: "syslog", amd64: 103, arm64: 116},
	{name: "vhangup", amd64: 153, arm64: 58},
	{name: "lookup_dcookie", amd64: 212, arm64: 18},
	{name: "keyctl", amd64: 250, arm64: 219},
	{name: "add_key", amd64: 248, arm64: 217},
	{name: "request_key", amd64: 249, arm64: 218},
	{name: "bpf", amd64: 321, arm64: 280},
	{name: "perf_event_open", amd64: 298, arm64: 241},
	{name: "userfaultfd", amd64: 323, arm64: 282},
	{name: "io_uring_setup", amd64: 425, arm64: 425},
	{name: "io_uring_enter", amd64: 426, arm64: 426},
	{name: "io_uring_register", amd64: 427, arm64: 427},
	{name: "open_by_handle_at", amd64: 304, arm64: 265},
	{name: "name_to_handle_at", amd64: 303, arm64: 264},
	{name: "setns", amd64: 308, arm64: 268},
	{name: "unshare", amd64: 272, arm64: 97, newUserOnly: true},
	{name: "clone", amd64: 56, arm64: 220, newUserOnly: true},
	{name: "clone3", amd64: 435, arm64: 435, errno: syscall.ENOSYS},
}

// auditArch is each supported architecture's AUDIT_ARCH value.
var auditArch = map[string]uint32{
	"amd64": unix.AUDIT_ARCH_X86_64,
	"arm64": unix.AUDIT_ARCH_AARCH64,
}

// x32SyscallBit marks x32 system calls on x86_64 (__X32_SYSCALL_BIT): the
// same architecture value, other numbers, so the filter refuses them.
const x32SyscallBit = 0x40000000

// Offsets in struct seccomp_data: nr, arch, instruction_pointer, args[6].
// The architectures supported are little-endian: the low 32 bits of
// args[0] come first.
const (
	offNr    = 0
	offArch  = 4
	offArg0  = 16
	bpfLdAbs = unix.BPF_LD | unix.BPF_W | unix.BPF_ABS
	bpfJeq   = unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K
	bpfJge   = unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K
	bpfJset  = unix.BPF_JMP | unix.BPF_JSET | unix.BPF_K
	bpfRet   = unix.BPF_RET | unix.BPF_K
	retAllow = unix.SECCOMP_RET_ALLOW
	retKill  = unix.SECCOMP_RET_KILL_PROCESS
)

func retErrno(e syscall.Errno) uint32 {
	return unix.SECCOMP_RET_ERRNO | uint32(e)&unix.SECCOMP_RET_DATA
}

// seccompFilter is the sandbox's filter for arch (GOARCH spelling). A
// process of another architecture (a 32-bit compat call) is killed: its
// system call numbers differ, so the table would not hold for it.
func seccompFilter(arch string) ([]unix.SockFilter, error) {
	audit, ok := auditArch[arch]
	if !ok {
		return nil, fmt.Errorf("no seccomp filter for architecture %s", arch)
	}
	stmt := func(code uint16, k uint32) unix.SockFilter { return unix.SockFilter{Code: code, K: k} }
	jump := func(code uint16, k uint32, jt, jf uint8) unix.SockFilter {
		return unix.SockFilter{Code: code, K: k, Jt: jt, Jf: jf}
	}
	prog := []unix.SockFilter{
		stmt(bpfLdAbs, offArch),
		jump(bpfJeq, audit, 1, 0),
		stmt(bpfRet, retKill),
		stmt(bpfLdAbs, offNr),
	}
	if arch == "amd64" {
		prog = append(prog, jump(bpfJge, x32SyscallBit, 0, 1), stmt(bpfRet, retErrno(syscall.EPERM)))
	}
	// Calls denied only for a new user namespace jump to a shared tail
	// that checks the flags; patched once its position is known.
	var flagJumps []int
	for _, d := range deniedSyscalls {
		nr := d.amd64
		if arch == "arm64" {
			nr = d.arm64
		}
		if nr == 0 {
			continue
		}
		if d.newUserOnly {
			flagJumps = append(flagJumps, len(prog))
			prog = append(prog, jump(bpfJeq, nr, 0, 0))
			continue
		}
		errno := d.errno
		if errno == 0 {
			errno = syscall.EPERM
		}
		prog = append(prog, jump(bpfJeq, nr, 0, 1), stmt(bpfRet, retErrno(errno)))
	}
	prog = append(prog, stmt(bpfRet, retAllow))
	tail := len(prog)
	prog = append(prog,
		stmt(bpfLdAbs, offArg0),
		jump(bpfJset, unix.CLONE_NEWUSER, 0, 1),
		stmt(bpfRet, retErrno(syscall.EPERM)),
		stmt(bpfRet, retAllow),
	)
	for _, i := range flagJumps {
		off := tail - i - 1
		if off > 255 {
			return nil, fmt.Errorf("seccomp filter: jump of %d instructions", off)
		}
		prog[i].Jt = uint8(off)
	}
	return prog, nil
}

// restrictThread sets no_new_privs and installs the seccomp filter on the
// calling thread (locked to its goroutine): the command it starts next
// inherits both, and neither can be undone. With no_new_privs, setuid and
// setgid bits and file capabilities give nothing on exec, so a setuid
// binary a layer holds cannot make a build step root.
func restrictThread() error {
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("set no_new_privs: %w", err)
	}
	filter, err := seccompFilter(runtime.GOARCH)
	if err != nil {
		return err
	}
	prog := unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}
	if _, _, e := unix.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, 0, uintptr(unsafe.Pointer(&prog))); e != 0 {
		return fmt.Errorf("install the seccomp filter: %w", e)
	}
	runtime.KeepAlive(filter)
	return nil
}
