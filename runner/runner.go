// Package runner runs one command in an isolated build sandbox: the
// environment in which `apt-get build-dep` and `dpkg-buildpackage` run for
// each package.
//
// A sandbox is an overlayfs root (read-only layers plus one writable upper
// directory), explicit extra mounts, a fresh /proc, a minimal /dev, its own
// PID, mount, UTS, IPC and (unless asked otherwise) network namespaces. Every
// mount lives in the sandbox's mount namespace and vanishes with it; nothing
// of the host is visible except the layers (read-only) and the mounts the
// caller names. Every command runs with reduced capabilities,
// no_new_privs and a seccomp filter (seccomp_linux.go), on a nosuid,nodev
// root, in a cgroup of its own with pids and memory limits (Limits,
// cgroup_linux.go).
//
// The local implementation re-executes the current binary (/proc/self/exe):
// programs using it must call MaybeChild first thing in main (and in
// TestMain).
package runner

import (
	"context"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"
	"syscall"
)

// DefaultHostname is the sandbox's hostname when Spec.Hostname is empty.
const DefaultHostname = "stx-build"

// DefaultPath is searched for Spec.Args[0] when Spec.Env has no PATH.
const DefaultPath = "/usr/sbin:/usr/bin:/sbin:/bin"

// Mount is an extra mount inside the sandbox.
type Mount struct {
	// Source is the host path for a bind mount (file or directory); unused
	// for tmpfs.
	Source string
	// Target is the absolute path inside the sandbox root; symlinks on the
	// way are resolved inside the sandbox root. A missing mount point (a
	// directory, or an empty file for a file bind) is created in whatever
	// holds it: the writable layer, or the source of an enclosing bind
	// mount (which must then be writable).
	Target   string
	ReadOnly bool
	// Type is "" for a recursive bind mount or "tmpfs".
	Type string
	// Size limits a tmpfs in bytes (0: the kernel's default, half of RAM).
	Size int64
}

// Spec describes one command run in a sandbox.
type Spec struct {
	// Layers are the read-only lower directories of the root filesystem,
	// top first (overlayfs lowerdir order); at least one. A layer may be a
	// former Upper/upper: its whiteouts and opaque directories hide what
	// the layers below it hold.
	Layers []string
	// Upper is a host directory for the writable layer. The runner creates
	// Upper/upper (the changes, which the caller may keep, e.g. as a new
	// layer), Upper/work (overlayfs scratch space; same filesystem as
	// upper) and Upper/merged (an empty mount point). Reusing an Upper
	// continues from its changes.
	Upper string
	// Mounts are applied after /proc, /sys and /dev, parents before
	// children (by path depth, then in the given order).
	Mounts []Mount
	// Args are the command and its arguments. Args[0] without a slash is
	// looked up inside the sandbox in Env's PATH, or DefaultPath.
	Args []string
	// Env is the command's exact environment: nothing is inherited.
	Env []string
	// Dir is the working directory inside the sandbox (default "/").
	Dir string
	// UID and GID are the user the command runs as (0: root).
	// Supplementary groups are always cleared.
	UID, GID int
	// Network shares the host's network namespace. When false the sandbox
	// has its own with only loopback up.
	Network bool
	// Hostname defaults to DefaultHostname.
	Hostname string
	// Limits are the sandbox's resource limits (zero fields: defaults).
	Limits Limits

	Stdin          io.Reader
	Stdout, Stderr io.Writer
}

// Runner runs commands in sandboxes.
type Runner interface {
	// Run runs spec.Args and waits for it. A non-zero exit is an
	// *ExitError; a failure to set up the sandbox is a *SetupError.
	// Cancelling ctx kills every process of the sandbox and Run returns
	// ctx.Err().
	Run(ctx context.Context, spec *Spec) error
	// Usable reports why this runner cannot work on this machine (not
	// root, no overlayfs, no namespaces), or nil.
	Usable(ctx context.Context) error
}

// ExitError reports that the sandboxed command exited unsuccessfully.
type ExitError struct {
	// Code is the exit status, or 128+Signal when a signal killed it.
	Code int
	// Signal is the signal that killed the command, or 0.
	Signal syscall.Signal
	// LimitsHit are the sandbox's resource limits it ran into, as
	// reasons ("pids limit 4096 reached (...)"), the likely cause.
	LimitsHit []string
}

func (e *ExitError) Error() string {
	msg := fmt.Sprintf("sandbox command exited with status %d", e.Code)
	if e.Signal != 0 {
		msg = fmt.Sprintf("sandbox command killed by signal %d (%v)", int(e.Signal), e.Signal)
	}
	if len(e.LimitsHit) > 0 {
		msg += ": " + strings.Join(e.LimitsHit, "; ")
	}
	return msg
}

// SetupError reports a failure before the command started: mounting the
// root, the extra mounts, finding the executable, switching users.
type SetupError struct {
	// Msg says what failed, e.g. "mount overlay on /x/merged: invalid
	// argument (lowerdir=...)".
	Msg string
	// Errno is the system error behind it, if any.
	Errno syscall.Errno
}

func (e *SetupError) Error() string { return "sandbox: " + e.Msg }

// Unwrap returns Errno, so errors.Is(err, fs.ErrNotExist) and the like
// work.
func (e *SetupError) Unwrap() error {
	if e.Errno == 0 {
		return nil
	}
	return e.Errno
}

// validate checks what can be checked without touching the disk.
func (s *Spec) validate() error {
	if len(s.Layers) == 0 {
		return fmt.Errorf("runner: spec has no layers")
	}
	for i, l := range s.Layers {
		if err := checkOverlayPath(l); err != nil {
			return fmt.Errorf("runner: layer %d: %w", i, err)
		}
	}
	if s.Upper == "" {
		return fmt.Errorf("runner: spec has no upper directory")
	}
	if err := checkOverlayPath(s.Upper); err != nil {
		return fmt.Errorf("runner: upper: %w", err)
	}
	if len(s.Args) == 0 || s.Args[0] == "" {
		return fmt.Errorf("runner: spec has no command")
	}
	if s.Dir != "" && !path.IsAbs(s.Dir) {
		return fmt.Errorf("runner: working directory %q is not absolute", s.Dir)
	}
	if s.UID < 0 || s.GID < 0 {
		return fmt.Errorf("runner: negative uid %d or gid %d", s.UID, s.GID)
	}
	if s.Limits.Pids < 0 || s.Limits.Memory < 0 {
		return fmt.Errorf("runner: negative limits %+v", s.Limits)
	}
	if len(s.Hostname) > 64 {
		return fmt.Errorf("runner: hostname %q is longer than 64 bytes", s.Hostname)
	}
	for i, m := range s.Mounts {
		if !path.IsAbs(m.Target) || path.Clean(m.Target) == "/" {
			return fmt.Errorf("runner: mount %d: target %q must be an absolute path other than /", i, m.Target)
		}
		switch m.Type {
		case "":
			if !path.IsAbs(m.Source) {
				return fmt.Errorf("runner: mount %d (%s): bind source %q is not absolute", i, m.Target, m.Source)
			}
		case "tmpfs":
			if m.Size < 0 {
				return fmt.Errorf("runner: mount %d (%s): negative tmpfs size %d", i, m.Target, m.Size)
			}
		default:
			return fmt.Errorf("runner: mount %d (%s): unknown type %q (want \"\" for bind or \"tmpfs\")", i, m.Target, m.Type)
		}
	}
	return nil
}

// checkOverlayPath rejects paths overlayfs cannot take in its options:
// relative ones, and those with the option separators ',' and ':' (which
// would need escaping that not every kernel parses the same way).
func checkOverlayPath(p string) error {
	if !path.IsAbs(p) {
		return fmt.Errorf("%q is not an absolute path", p)
	}
	if strings.ContainsAny(p, ",:\\") {
		return fmt.Errorf("%q contains one of , : \\ which overlayfs options cannot hold", p)
	}
	return nil
}

// sortMounts orders mounts parents before children: by the depth of the
// cleaned target, keeping the given order among equals.
func sortMounts(ms []Mount) []Mount {
	out := make([]Mount, len(ms))
	copy(out, ms)
	depth := func(m Mount) int { return strings.Count(path.Clean(m.Target), "/") }
	slices.SortStableFunc(out, func(a, b Mount) int { return depth(a) - depth(b) })
	return out
}
