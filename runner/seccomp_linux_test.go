package runner

import (
	"encoding/binary"
	"fmt"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// runFilter evaluates a seccomp program on one system call, as the kernel
// does (only the instructions seccompFilter uses).
func runFilter(t *testing.T, prog []unix.SockFilter, arch, nr uint32, arg0 uint64) uint32 {
	t.Helper()
	var data [64]byte // struct seccomp_data
	binary.LittleEndian.PutUint32(data[offNr:], nr)
	binary.LittleEndian.PutUint32(data[offArch:], arch)
	binary.LittleEndian.PutUint64(data[offArg0:], arg0)
	var a uint32
	for pc := 0; pc < len(prog); pc++ {
		in := prog[pc]
		switch in.Code {
		case bpfLdAbs:
			a = binary.LittleEndian.Uint32(data[in.K:])
		case bpfJeq, bpfJge, bpfJset:
			var ok bool
			switch in.Code {
			case bpfJeq:
				ok = a == in.K
			case bpfJge:
				ok = a >= in.K
			default:
				ok = a&in.K != 0
			}
			if ok {
				pc += int(in.Jt)
			} else {
				pc += int(in.Jf)
			}
		case bpfRet:
			return in.K
		default:
			t.Fatalf("instruction %d: unexpected code %#x", pc, in.Code)
		}
	}
	t.Fatal("the program fell off its end")
	return 0
}

// TestSeccompFilter runs the filter for each architecture on the table's
// system calls and on ones it must let through.
func TestSeccompFilter(t *testing.T) {
	eperm, enosys := retErrno(syscall.EPERM), retErrno(syscall.ENOSYS)
	for _, arch := range []string{"amd64", "arm64"} {
		prog, err := seccompFilter(arch)
		if err != nil {
			t.Fatal(err)
		}
		audit := auditArch[arch]
		nr := func(d deniedSyscall) uint32 {
			if arch == "arm64" {
				return d.arm64
			}
			return d.amd64
		}
		byName := map[string]deniedSyscall{}
		for _, d := range deniedSyscalls {
			byName[d.name] = d
			if nr(d) == 0 {
				continue
			}
			want := eperm
			switch {
			case d.errno != 0:
				want = retErrno(d.errno)
			case d.newUserOnly:
				want = retAllow // without CLONE_NEWUSER: below
			}
			if got := runFilter(t, prog, audit, nr(d), 0); got != want {
				t.Errorf("%s: %s: %#x, want %#x", arch, d.name, got, want)
			}
		}
		cases := []struct {
			name string
			nr   uint32
			arg0 uint64
			arch uint32
			want uint32
		}{
			{"unshare(CLONE_NEWUSER)", nr(byName["unshare"]), unix.CLONE_NEWUSER, audit, eperm},
			{"unshare(CLONE_NEWUSER|CLONE_NEWNS)", nr(byName["unshare"]), unix.CLONE_NEWUSER | unix.CLONE_NEWNS, audit, eperm},
			{"unshare(CLONE_FILES)", nr(byName["unshare"]), unix.CLONE_FILES, audit, retAllow},
			{"clone(CLONE_NEWUSER|SIGCHLD)", nr(byName["clone"]), unix.CLONE_NEWUSER | uint64(syscall.SIGCHLD), audit, eperm},
			{"clone(fork)", nr(byName["clone"]), uint64(syscall.SIGCHLD), audit, retAllow},
			{"clone3", 435, 0, audit, enosys},
			{"read", map[string]uint32{"amd64": 0, "arm64": 63}[arch], 0, audit, retAllow},
			{"ptrace", map[string]uint32{"amd64": 101, "arm64": 117}[arch], 0, audit, retAllow},
			{"another architecture", 1, 0, unix.AUDIT_ARCH_I386, retKill},
		}
		if arch == "amd64" {
			cases = append(cases, struct {
				name string
				nr   uint32
				arg0 uint64
				arch uint32
				want uint32
			}{"x32 read", x32SyscallBit, 0, audit, eperm})
		}
		for _, c := range cases {
			if got := runFilter(t, prog, c.arch, c.nr, c.arg0); got != c.want {
				t.Errorf("%s: %s: %#x, want %#x", arch, c.name, got, c.want)
			}
		}
	}
	if _, err := seccompFilter("riscv64"); err == nil {
		t.Error("a filter for an architecture without a table")
	}
}

// TestSeccompTableNumbers checks the table against this architecture's
// system call numbers.
func TestSeccompTableNumbers(t *testing.T) {
	native := map[string]uintptr{
		"mount": unix.SYS_MOUNT, "umount2": unix.SYS_UMOUNT2, "pivot_root": unix.SYS_PIVOT_ROOT,
		"keyctl": unix.SYS_KEYCTL, "add_key": unix.SYS_ADD_KEY, "request_key": unix.SYS_REQUEST_KEY,
		"bpf": unix.SYS_BPF, "perf_event_open": unix.SYS_PERF_EVENT_OPEN, "setns": unix.SYS_SETNS,
		"unshare": unix.SYS_UNSHARE, "clone": unix.SYS_CLONE, "clone3": unix.SYS_CLONE3,
		"open_by_handle_at": unix.SYS_OPEN_BY_HANDLE_AT, "init_module": unix.SYS_INIT_MODULE,
		"finit_module": unix.SYS_FINIT_MODULE, "kexec_load": unix.SYS_KEXEC_LOAD, "reboot": unix.SYS_REBOOT,
		"swapon": unix.SYS_SWAPON, "userfaultfd": unix.SYS_USERFAULTFD, "fsopen": unix.SYS_FSOPEN,
		"io_uring_setup": unix.SYS_IO_URING_SETUP, "syslog": unix.SYS_SYSLOG,
	}
	arch := fmt.Sprint(unix.SYS_MOUNT) // 165 on amd64, 40 on arm64
	for _, d := range deniedSyscalls {
		want, ok := native[d.name]
		if !ok {
			continue
		}
		got := d.amd64
		if arch == "40" {
			got = d.arm64
		}
		if uintptr(got) != want {
			t.Errorf("%s: table says %d, this architecture %d", d.name, got, want)
		}
	}
}
