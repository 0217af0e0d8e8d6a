package runner

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// probeSource is a static program the hardening tests run inside a
// sandbox: it reports what the kernel lets it do (busybox cannot: it
// drops setuid privileges itself, and has no keyctl).
const probeSource = `package main

import (
	"fmt"
	"os"
	"strings"
	"syscall"
)

func errno(err error) string {
	if err == nil {
		return "ok"
	}
	if e, ok := err.(syscall.Errno); ok {
		return fmt.Sprintf("errno=%d", int(e))
	}
	return err.Error()
}

func main() {
	status, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(status), "\n") {
		if strings.HasPrefix(l, "NoNewPrivs:") || strings.HasPrefix(l, "Seccomp:") {
			f := strings.Fields(l)
			fmt.Printf("%s=%s\n", strings.TrimSuffix(f[0], ":"), f[1])
		}
	}
	fmt.Printf("euid=%d\n", os.Geteuid())
	fmt.Printf("unshare-user=%s\n", errno(syscall.Unshare(syscall.CLONE_NEWUSER)))
	fmt.Printf("mount=%s\n", errno(syscall.Mount("none", "/mnt", "tmpfs", 0, "")))
	_, _, e := syscall.RawSyscall(syscall.SYS_KEYCTL, 0, ^uintptr(2), 0) // KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING
	fmt.Printf("keyctl=%s\n", errno(e))
}
`

var probe struct {
	once sync.Once
	path string
	err  error
}

// probeBinary builds probeSource statically (once per test binary) into
// the test root's scratch directory.
func probeBinary(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("go"); err != nil {
		t.Skipf("no go to build the probe: %v", err)
	}
	probe.once.Do(func() {
		dir := filepath.Join(testRoot.tmp, "probe")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			probe.err = err
			return
		}
		src := filepath.Join(dir, "main.go")
		if err := os.WriteFile(src, []byte(probeSource), 0o644); err != nil {
			probe.err = err
			return
		}
		cmd := exec.Command("go", "build", "-o", filepath.Join(dir, "probe"), src)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GO111MODULE=off", "GOFLAGS=")
		if out, err := cmd.CombinedOutput(); err != nil {
			probe.err = &exec.Error{Name: "go build probe: " + string(out), Err: err}
			return
		}
		probe.path = filepath.Join(dir, "probe")
	})
	if probe.err != nil {
		t.Fatalf("probe binary: %v", probe.err)
	}
	return probe.path
}

// probeLayer is a layer holding the probe at /bin/probe.
func probeLayer(t *testing.T) string {
	t.Helper()
	bin, err := os.ReadFile(probeBinary(t))
	if err != nil {
		t.Fatal(err)
	}
	layer := t.TempDir()
	if err := os.MkdirAll(filepath.Join(layer, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(layer, "bin/probe"), bin, 0o755); err != nil {
		t.Fatal(err)
	}
	return layer
}

// report parses the probe's name=value lines.
func report(out string) map[string]string {
	m := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		k, v, _ := strings.Cut(l, "=")
		m[k] = v
	}
	return m
}

// TestSandboxRestrictions checks that every command, as root and as the
// build user, runs with no_new_privs and the seccomp filter: a new user
// namespace, mount and keyctl fail with EPERM (issue 20, item 2).
func TestSandboxRestrictions(t *testing.T) {
	r, base := sandbox(t)
	layer := probeLayer(t)
	for _, uid := range []int{0, 1000} {
		spec := newSpec(t, base, "/bin/probe")
		spec.Layers = []string{layer, base}
		spec.UID, spec.GID = uid, uid
		got := report(mustRun(t, r, spec))
		want := map[string]string{"NoNewPrivs": "1", "Seccomp": "2", "unshare-user": "errno=1", "mount": "errno=1", "keyctl": "errno=1"}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("uid %d: %s=%s, want %s", uid, k, got[k], v)
			}
		}
	}
}

// TestSetuidInLayer reproduces issue 20's privilege escalation: a step
// running as root (a maintainer script) leaves a setuid-root program in
// the layer it keeps; a later step on that layer runs it as the build
// user and must stay that user.
func TestSetuidInLayer(t *testing.T) {
	r, base := sandbox(t)
	layer := probeLayer(t)
	plant := newSpec(t, base, "sh", "-c", "cp /bin/probe /bin/suid-probe && chmod 4755 /bin/suid-probe && ls -l /bin/suid-probe")
	plant.Layers = []string{layer, base}
	if out := mustRun(t, r, plant); !strings.HasPrefix(out, "-rwsr-xr-x") {
		t.Fatalf("the planted program is not setuid: %s", out)
	}
	kept := filepath.Join(plant.Upper, "upper")
	fi, err := os.Stat(filepath.Join(kept, "bin/suid-probe"))
	if err != nil || fi.Mode()&os.ModeSetuid == 0 {
		t.Fatalf("the kept layer has no setuid program: %v %v", fi, err)
	}
	build := newSpec(t, base, "/bin/suid-probe")
	build.Layers = []string{kept, layer, base}
	build.UID, build.GID = 1000, 1000
	if got := report(mustRun(t, r, build)); got["euid"] != "1000" {
		t.Errorf("a setuid-root program in a layer ran with euid %s, want 1000", got["euid"])
	}
}

// TestPidsLimit reproduces issue 20's fork storm: a build that starts
// 5,000 processes hits the sandbox's pids limit and fails saying so.
func TestPidsLimit(t *testing.T) {
	r, base := sandbox(t)
	if Cgroups().Parents["pids"] == "" {
		t.Skipf("no pids controller: %v", Cgroups().Missing)
	}
	spec := newSpec(t, base, "sh", "-c", `i=0; while [ $i -lt 5000 ]; do sleep 60 & i=$((i+1)); done; echo all started`)
	spec.Limits.Pids = 200
	res := run(t, r, spec)
	var ee *ExitError
	if !errors.As(res.err, &ee) || !strings.Contains(res.err.Error(), "pids limit 200 reached") {
		t.Fatalf("5,000 processes: %v (stdout %q), want an exit error saying the pids limit 200 was reached", res.err, res.stdout)
	}
	t.Logf("%v", res.err)
	assertNoSandboxCgroups(t)
}

// TestMemoryLimit fills /dev/shm (tmpfs pages are charged to the
// sandbox) beyond a 64 MiB memory limit: the writer is OOM-killed and the
// error says why.
func TestMemoryLimit(t *testing.T) {
	r, base := sandbox(t)
	if Cgroups().Parents["memory"] == "" {
		t.Skipf("no memory controller: %v", Cgroups().Missing)
	}
	spec := newSpec(t, base, "sh", "-c", `head -c 200000000 /dev/zero | sort > /dev/null`)
	spec.Limits.Memory = 64 << 20
	res := run(t, r, spec)
	if res.err == nil || !strings.Contains(res.err.Error(), "memory limit 64.0 MiB reached (OOM kill)") {
		t.Fatalf("200 MB sort under a 64 MiB limit: %v, want the memory limit reached", res.err)
	}
	t.Logf("%v", res.err)
	assertNoSandboxCgroups(t)
}

// assertNoSandboxCgroups checks that no cgroup of this process's
// sandboxes is left.
func assertNoSandboxCgroups(t *testing.T) {
	t.Helper()
	for c, parent := range Cgroups().Parents {
		left, _ := filepath.Glob(filepath.Join(parent, fmt.Sprintf("stx-build-%d-*", os.Getpid())))
		if len(left) > 0 {
			t.Errorf("%s: cgroups left: %v", c, left)
		}
	}
}
