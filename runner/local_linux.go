package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"
	"time"
)

// local runs sandboxes on this machine with namespaces and overlayfs.
type local struct{}

// NewLocal returns the runner that sandboxes commands on this machine. It
// needs root, overlayfs and namespaces (see Usable), and a main that calls
// MaybeChild.
func NewLocal() Runner { return local{} }

// Run implements Runner.
func (local) Run(ctx context.Context, spec *Spec) error {
	cfg, err := prepare(spec)
	if err != nil {
		return err
	}
	cg, err := newSandboxCgroup(Cgroups(), spec.Limits)
	if err != nil {
		return &SetupError{Msg: err.Error()}
	}
	return runChild(ctx, cfg, cg, spec.Stdin, spec.Stdout, spec.Stderr)
}

// Usable implements Runner: it checks for root, then sets up a real
// sandbox (overlay on an empty layer, /proc, /dev, namespaces) in a
// temporary directory without running anything in it.
func (local) Usable(ctx context.Context) error {
	if euid := os.Geteuid(); euid != 0 {
		return fmt.Errorf("runner: the local sandbox needs root (running as uid %d)", euid)
	}
	dir, err := os.MkdirTemp("", "stx-build-probe-")
	if err != nil {
		return fmt.Errorf("runner: probe: %w", err)
	}
	defer os.RemoveAll(dir)
	lower := filepath.Join(dir, "lower")
	if err := os.Mkdir(lower, 0o755); err != nil {
		return fmt.Errorf("runner: probe: %w", err)
	}
	cfg, err := prepare(&Spec{Layers: []string{lower}, Upper: filepath.Join(dir, "upper"), Args: []string{"/probe"}})
	if err != nil {
		return fmt.Errorf("runner: probe: %w", err)
	}
	cfg.Probe = true
	err = runChild(ctx, cfg, nil, nil, nil, nil)
	var se *SetupError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &se) && se.Errno == syscall.ENODEV:
		return fmt.Errorf("runner: local sandbox unusable: overlayfs is not available (modprobe overlay?): %w", err)
	case errors.Is(err, syscall.EPERM):
		return fmt.Errorf("runner: local sandbox unusable: namespaces or mounts are not permitted (in a container without CAP_SYS_ADMIN?): %w", err)
	default:
		return fmt.Errorf("runner: local sandbox unusable: %w", err)
	}
}

// prepare validates spec, creates the Upper directories and returns what
// the child needs.
func prepare(spec *Spec) (*childConfig, error) {
	if spec == nil {
		return nil, fmt.Errorf("runner: nil spec")
	}
	if err := spec.validate(); err != nil {
		return nil, err
	}
	for i, l := range spec.Layers {
		fi, err := os.Stat(l)
		if err != nil {
			return nil, fmt.Errorf("runner: layer %d: %w", i, err)
		}
		if !fi.IsDir() {
			return nil, fmt.Errorf("runner: layer %d: %s is not a directory", i, l)
		}
	}
	if err := os.MkdirAll(spec.Upper, 0o755); err != nil {
		return nil, fmt.Errorf("runner: upper: %w", err)
	}
	// The child matches mount points against /proc/self/mountinfo, which
	// shows paths without symlinks.
	upperDir, err := filepath.EvalSymlinks(spec.Upper)
	if err != nil {
		return nil, fmt.Errorf("runner: upper: %w", err)
	}
	cfg := &childConfig{
		Layers:   cleanPaths(spec.Layers),
		Upper:    filepath.Join(upperDir, "upper"),
		Work:     filepath.Join(upperDir, "work"),
		Merged:   filepath.Join(upperDir, "merged"),
		Mounts:   sortMounts(spec.Mounts),
		Args:     spec.Args,
		Env:      spec.Env,
		Dir:      spec.Dir,
		UID:      spec.UID,
		GID:      spec.GID,
		Network:  spec.Network,
		Hostname: spec.Hostname,
	}
	if cfg.Env == nil {
		cfg.Env = []string{}
	}
	if cfg.Dir == "" {
		cfg.Dir = "/"
	}
	if cfg.Hostname == "" {
		cfg.Hostname = DefaultHostname
	}
	if err := os.Mkdir(cfg.Upper, 0o755); err == nil {
		// The upper root directory is the sandbox's "/": give it the top
		// layer's mode and owner rather than our umask's idea of them.
		if err := copyDirMeta(cfg.Upper, spec.Layers[0]); err != nil {
			return nil, fmt.Errorf("runner: upper: %w", err)
		}
	} else if !errors.Is(err, os.ErrExist) {
		return nil, fmt.Errorf("runner: upper: %w", err)
	}
	for _, d := range []string{cfg.Work, cfg.Merged} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("runner: upper: %w", err)
		}
	}
	return cfg, nil
}

func cleanPaths(ps []string) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = filepath.Clean(p)
	}
	return out
}

func copyDirMeta(dst, src string) error {
	fi, err := os.Stat(src)
	if err != nil {
		return err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fmt.Errorf("stat %s: no owner information", src)
	}
	if err := os.Chown(dst, int(st.Uid), int(st.Gid)); err != nil {
		return err
	}
	// os.Chmod maps os.FileMode bits; keep sticky/setgid bits too.
	return syscall.Chmod(dst, st.Mode&0o7777)
}

// runChild starts the sandbox init (this binary, re-executed) in cgroup
// cg (nil: none), hands it cfg and turns its report into Run's result.
// cg is removed before it returns.
func runChild(ctx context.Context, cfg *childConfig, cg *sandboxCgroup, stdin io.Reader, stdout, stderr io.Writer) error {
	if cg != nil {
		defer cg.remove()
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	specR, specW, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("runner: %w", err)
	}
	defer specR.Close()
	defer specW.Close()
	statusR, statusW, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("runner: %w", err)
	}
	defer statusR.Close()
	defer statusW.Close()

	cmd := exec.CommandContext(ctx, "/proc/self/exe")
	cmd.Args = []string{childArg0}
	cmd.Env = []string{} // the init needs nothing; the command gets cfg.Env
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, stdout, stderr
	cmd.ExtraFiles = []*os.File{specR, statusW} // fds 3 and 4: specFD, statusFD
	flags := uintptr(syscall.CLONE_NEWNS | syscall.CLONE_NEWPID | syscall.CLONE_NEWUTS | syscall.CLONE_NEWIPC)
	if !cfg.Network {
		flags |= syscall.CLONE_NEWNET
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags: flags,
		// If we die, the sandbox's PID 1 dies, and the kernel kills the
		// rest of its PID namespace.
		Pdeathsig: syscall.SIGKILL,
	}
	// Every process holding the output pipes is in the sandbox's PID
	// namespace and dies with its init; this only guards against surprises.
	cmd.WaitDelay = 10 * time.Second

	// Pdeathsig fires when the thread that forked the child exits, not the
	// process: keep this goroutine on one thread until the child is gone.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("runner: start sandbox: %w", err)
	}
	specR.Close()
	statusW.Close()
	if cg != nil {
		// The init waits for its spec before it starts anything.
		if err := cg.add(cmd.Process.Pid); err != nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			return &SetupError{Msg: err.Error()}
		}
	}
	// A write error means the child died early; its status or exit says why.
	_ = json.NewEncoder(specW).Encode(cfg)
	specW.Close()

	var last *childStatus
	dec := json.NewDecoder(statusR)
	for {
		var st childStatus
		if err := dec.Decode(&st); err != nil {
			break
		}
		last = &st
	}
	waitErr := cmd.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	switch {
	case last == nil:
		return fmt.Errorf("runner: sandbox init exited without a report (%v); does main call runner.MaybeChild first?", waitErr)
	case last.Error != "":
		return &SetupError{Msg: last.Error, Errno: syscall.Errno(last.Errno)}
	case last.Signal != 0:
		return &ExitError{Code: 128 + last.Signal, Signal: syscall.Signal(last.Signal), LimitsHit: cg.hits()}
	case last.Code != 0:
		return &ExitError{Code: last.Code, LimitsHit: cg.hits()}
	}
	return nil
}
