package runner

import (
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stx-build/stx-build/internal/mountinfo"
)

func TestMain(m *testing.M) {
	// Run as the sandbox init when the local runner re-executes us.
	MaybeChild()
	code := m.Run()
	cleanupTestRoot()
	os.Exit(code)
}

// The sandbox tests build a tiny root filesystem from a static busybox and
// need root; they skip otherwise.

var testRoot struct {
	once    sync.Once
	tmp     string // removed by cleanupTestRoot
	base    string // the base layer: busybox and a few files
	busybox string // host path of the static busybox
	skip    string // why sandbox tests cannot run
}

func cleanupTestRoot() {
	if testRoot.tmp != "" {
		os.RemoveAll(testRoot.tmp)
	}
}

// sandbox returns the local runner and the base layer, or skips t.
func sandbox(tb testing.TB) (Runner, string) {
	tb.Helper()
	testRoot.once.Do(func() { testRoot.skip = setupTestRoot() })
	if testRoot.skip != "" {
		tb.Skip(testRoot.skip)
	}
	return NewLocal(), testRoot.base
}

func setupTestRoot() (skip string) {
	if os.Geteuid() != 0 {
		return "sandbox tests need root"
	}
	bb, err := staticBusybox()
	if err != nil {
		return err.Error()
	}
	if err := NewLocal().Usable(context.Background()); err != nil {
		return err.Error()
	}
	tmp, err := os.MkdirTemp("", "stx-runner-test-")
	if err != nil {
		return err.Error()
	}
	testRoot.tmp, testRoot.busybox = tmp, bb
	base := filepath.Join(tmp, "base")
	if err := buildBase(base, bb); err != nil {
		return "build test root: " + err.Error()
	}
	testRoot.base = base
	return ""
}

// staticBusybox finds a statically linked busybox: the test root has no
// libc.
func staticBusybox() (string, error) {
	p, err := exec.LookPath("busybox")
	if err != nil {
		return "", fmt.Errorf("no busybox (apt-get install busybox-static): %w", err)
	}
	f, err := elf.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_INTERP {
			return "", fmt.Errorf("%s is dynamically linked (apt-get install busybox-static)", p)
		}
	}
	return p, nil
}

func buildBase(base, busybox string) error {
	for _, d := range []string{"bin", "etc", "data", "proc", "sys", "dev", "mnt", "root"} {
		if err := os.MkdirAll(filepath.Join(base, d), 0o755); err != nil {
			return err
		}
	}
	if err := os.Mkdir(filepath.Join(base, "tmp"), 0o755); err != nil {
		return err
	}
	if err := os.Chmod(filepath.Join(base, "tmp"), 0o1777); err != nil {
		return err
	}
	bin, err := os.ReadFile(busybox)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(base, "bin/busybox"), bin, 0o755); err != nil {
		return err
	}
	list, err := exec.Command(busybox, "--list").Output()
	if err != nil {
		return fmt.Errorf("busybox --list: %w", err)
	}
	for _, applet := range strings.Fields(string(list)) {
		if applet == "busybox" || strings.Contains(applet, "/") {
			continue
		}
		if err := os.Symlink("busybox", filepath.Join(base, "bin", applet)); err != nil {
			return err
		}
	}
	files := map[string]string{
		"etc/hello": "hello from base\n",
		"data/a":    "a\n",
		"data/b":    "b\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(base, name), []byte(content), 0o644); err != nil {
			return err
		}
	}
	return os.Symlink("/etc", filepath.Join(base, "link-to-etc"))
}

// newSpec is a spec on the base layer with a fresh upper directory.
func newSpec(t *testing.T, base string, args ...string) *Spec {
	return &Spec{
		Layers: []string{base},
		Upper:  filepath.Join(t.TempDir(), "rw"),
		Args:   args,
		Env:    []string{"PATH=/bin"},
	}
}

type result struct {
	stdout, stderr string
	err            error
}

func run(t *testing.T, r Runner, spec *Spec) result {
	t.Helper()
	var out, errOut bytes.Buffer
	spec.Stdout, spec.Stderr = &out, &errOut
	err := r.Run(context.Background(), spec)
	return result{out.String(), errOut.String(), err}
}

// mustRun runs spec and fails t unless it succeeds.
func mustRun(t *testing.T, r Runner, spec *Spec) string {
	t.Helper()
	res := run(t, r, spec)
	if res.err != nil {
		t.Fatalf("%q: %v\nstdout: %s\nstderr: %s", spec.Args, res.err, res.stdout, res.stderr)
	}
	return res.stdout
}

func exitCode(err error) int {
	var ee *ExitError
	if errors.As(err, &ee) {
		return ee.Code
	}
	return -1
}

func TestUsable(t *testing.T) {
	if os.Geteuid() != 0 {
		err := NewLocal().Usable(context.Background())
		if err == nil || !strings.Contains(err.Error(), "needs root") {
			t.Fatalf("Usable as non-root: got %v, want a needs-root error", err)
		}
		return
	}
	start := time.Now()
	if err := NewLocal().Usable(context.Background()); err != nil {
		t.Skipf("local sandbox unusable here: %v", err)
	}
	t.Logf("Usable took %v", time.Since(start))
}

func TestRunCommand(t *testing.T) {
	r, base := sandbox(t)
	tests := []struct {
		name       string
		args       []string
		edit       func(*Spec)
		wantOut    string
		wantErrOut string
		wantCode   int
		wantSignal syscall.Signal
	}{
		{name: "output", args: []string{"sh", "-c", "echo hello; echo oops >&2"}, wantOut: "hello\n", wantErrOut: "oops\n"},
		{name: "exit code", args: []string{"sh", "-c", "exit 3"}, wantCode: 3},
		{name: "signal", args: []string{"sh", "-c", "kill -KILL $$"}, wantCode: 128 + 9, wantSignal: syscall.SIGKILL},
		{name: "stdin", args: []string{"cat"}, edit: func(s *Spec) { s.Stdin = strings.NewReader("piped") }, wantOut: "piped"},
		{name: "absolute path", args: []string{"/bin/echo", "abs"}, wantOut: "abs\n"},
		{name: "default PATH", args: []string{"echo", "found"}, edit: func(s *Spec) { s.Env = nil }, wantOut: "found\n"},
		{name: "exact env", args: []string{"env"}, edit: func(s *Spec) { s.Env = []string{"B=2", "A=1", "PATH=/bin"} }, wantOut: "B=2\nA=1\nPATH=/bin\n"},
		{name: "empty env", args: []string{"/bin/env"}, edit: func(s *Spec) { s.Env = nil }, wantOut: ""},
		{name: "dir", args: []string{"pwd"}, edit: func(s *Spec) { s.Dir = "/etc" }, wantOut: "/etc\n"},
		{name: "umask", args: []string{"sh", "-c", "umask"}, wantOut: "0022\n"},
		{name: "pid namespace", args: []string{"sh", "-c", "echo $PPID; tr '\\0' ' ' </proc/1/cmdline"}, wantOut: "1\n" + childArg0 + " "},
		{name: "default hostname", args: []string{"hostname"}, wantOut: "stx-build\n"},
		{name: "hostname", args: []string{"hostname"}, edit: func(s *Spec) { s.Hostname = "builder-1" }, wantOut: "builder-1\n"},
		{name: "devices", args: []string{"sh", "-c", "echo x >/dev/null && head -c 4 /dev/zero | wc -c && head -c 4 /dev/urandom | wc -c && test -c /dev/pts/ptmx && test -d /dev/shm && test -w /dev/shm && readlink /dev/fd"}, wantOut: "4\n4\n/proc/self/fd\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := newSpec(t, base, tt.args...)
			if tt.edit != nil {
				tt.edit(spec)
			}
			res := run(t, r, spec)
			if res.stdout != tt.wantOut {
				t.Errorf("stdout = %q, want %q", res.stdout, tt.wantOut)
			}
			if tt.wantErrOut != "" && res.stderr != tt.wantErrOut {
				t.Errorf("stderr = %q, want %q", res.stderr, tt.wantErrOut)
			}
			if tt.wantCode == 0 {
				if res.err != nil {
					t.Fatalf("Run: %v (stderr %q)", res.err, res.stderr)
				}
				return
			}
			var ee *ExitError
			if !errors.As(res.err, &ee) {
				t.Fatalf("Run: got %v, want an *ExitError", res.err)
			}
			if ee.Code != tt.wantCode || ee.Signal != tt.wantSignal {
				t.Errorf("Run: got %+v, want code %d signal %d", ee, tt.wantCode, tt.wantSignal)
			}
		})
	}
}

func TestSetupErrors(t *testing.T) {
	r, base := sandbox(t)
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		edit  func(*Spec)
		want  string
		errno syscall.Errno
	}{
		{"missing command", func(s *Spec) { s.Args = []string{"no-such-cmd"} }, `sandbox: exec "no-such-cmd": executable file not found`, syscall.ENOENT},
		{"missing dir", func(s *Spec) { s.Dir = "/nowhere" }, "sandbox: working directory: stat /nowhere", syscall.ENOENT},
		{"not executable", func(s *Spec) { s.Args = []string{"/etc/hello"} }, "sandbox: start /etc/hello", syscall.EACCES},
		{"missing bind source", func(s *Spec) { s.Mounts = []Mount{{Source: "/nonexistent-src", Target: "/mnt/x"}} }, "sandbox: mount /nonexistent-src on /mnt/x", syscall.ENOENT},
		{"file on a directory", func(s *Spec) { s.Mounts = []Mount{{Source: file, Target: "/etc"}} }, "is a directory", 0},
		{"missing layer", func(s *Spec) { s.Layers = []string{"/nonexistent-layer"} }, "runner: layer 0", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := newSpec(t, base, "true")
			tt.edit(spec)
			res := run(t, r, spec)
			if res.err == nil || !strings.Contains(res.err.Error(), tt.want) {
				t.Fatalf("Run: got %v, want an error containing %q", res.err, tt.want)
			}
			t.Logf("error: %v", res.err)
			if tt.errno != 0 && !errors.Is(res.err, tt.errno) {
				t.Errorf("Run: %v is not %v", res.err, tt.errno)
			}
			if res.stdout != "" || res.stderr != "" {
				t.Errorf("output from a failed setup: %q %q", res.stdout, res.stderr)
			}
		})
	}
}

func TestUserAndCapabilities(t *testing.T) {
	r, base := sandbox(t)
	spec := newSpec(t, base, "sh", "-c", `id -u; id -g; id -G; grep -E '^(Groups|CapEff):' /proc/self/status`)
	spec.UID, spec.GID = 1000, 1000
	want := "1000\n1000\n1000\nGroups:\t\nCapEff:\t0000000000000000\n"
	if got := strings.ReplaceAll(mustRun(t, r, spec), "\t \n", "\t\n"); got != want {
		t.Errorf("as 1000: got %q, want %q", got, want)
	}

	// Root keeps only what apt and dpkg need: no mounts, device nodes,
	// kernel tuning.
	spec = newSpec(t, base, "sh", "-c", `grep -E '^(Groups|CapBnd):' /proc/self/status
		mount -t tmpfs none /mnt 2>/dev/null && echo mounted
		mknod /tmp/disk b 254 0 2>/dev/null && echo mknod
		echo x 2>/dev/null >/proc/sys/kernel/domainname && echo sysctl
		echo x 2>/dev/null >/sys/kernel/uevent_helper && echo sysfs
		chown 1000 /tmp && echo chown`)
	want = fmt.Sprintf("Groups:\t\nCapBnd:\t%016x\nchown\n", keptCapabilityMask())
	if got := strings.ReplaceAll(mustRun(t, r, spec), "\t \n", "\t\n"); got != want {
		t.Errorf("as root: got %q, want %q", got, want)
	}
}

// TestMountsInside checks that the sandbox sees only its own mounts: no
// host filesystem but the ones asked for.
func TestMountsInside(t *testing.T) {
	r, base := sandbox(t)
	src := t.TempDir()
	spec := newSpec(t, base, "cat", "/proc/self/mountinfo")
	spec.Mounts = []Mount{{Source: src, Target: "/src", ReadOnly: true}, {Target: "/build", Type: "tmpfs"}}
	out := mustRun(t, r, spec)
	got := map[string]string{} // mount point → fs type
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(line)
		sep := -1
		for i, x := range f {
			if x == "-" {
				sep = i
				break
			}
		}
		if len(f) < 5 || sep < 0 || sep+1 >= len(f) {
			t.Fatalf("bad mountinfo line %q", line)
		}
		got[f[4]] = f[sep+1]
	}
	hostFS := fsType(t, src)
	want := map[string]string{
		"/": "overlay", "/proc": "proc", "/sys": "sysfs", "/dev": "tmpfs",
		"/dev/pts": "devpts", "/dev/shm": "tmpfs", "/src": hostFS, "/build": "tmpfs",
		"/proc/sys": "proc",
	}
	for _, sub := range []string{"sysrq-trigger", "irq", "bus"} {
		if _, err := os.Stat("/proc/" + sub); err == nil {
			want["/proc/"+sub] = "proc"
		}
	}
	for _, n := range devNodes {
		want["/dev/"+n] = "devtmpfs"
	}
	var diffs []string
	for p, typ := range got {
		if want[p] != typ {
			diffs = append(diffs, fmt.Sprintf("unexpected %s (%s)", p, typ))
		}
	}
	for p, typ := range want {
		if got[p] != typ {
			diffs = append(diffs, fmt.Sprintf("missing %s (%s)", p, typ))
		}
	}
	sort.Strings(diffs)
	if len(diffs) > 0 {
		t.Errorf("mounts inside the sandbox:\n%s\nfull table:\n%s", strings.Join(diffs, "\n"), out)
	}
}

func fsType(t *testing.T, p string) string {
	t.Helper()
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b, _ := io.ReadAll(f)
	best, typ := "", ""
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		mp := unescapeOctal(f[4])
		if (p == mp || mp == "/" || strings.HasPrefix(p, mp+"/")) && len(mp) >= len(best) {
			for i, x := range f {
				if x == "-" && i+1 < len(f) {
					best, typ = mp, f[i+1]
				}
			}
		}
	}
	return typ
}

// snapshot describes a tree: every entry's mode, size, mtime and content.
func snapshot(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s %v %d %d", p, fi.Mode(), fi.Size(), fi.ModTime().UnixNano())
		if fi.Mode().IsRegular() && fi.Size() < 4096 {
			c, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			fmt.Fprintf(&b, " %q", c)
		}
		b.WriteByte('\n')
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func statMode(t *testing.T, p string) fs.FileMode {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode()
}

func isWhiteout(t *testing.T, p string) bool {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Lstat(p, &st); err != nil {
		t.Fatalf("whiteout %s: %v", p, err)
	}
	return st.Mode&syscall.S_IFMT == syscall.S_IFCHR && st.Rdev == 0
}

func isOpaque(p string) bool {
	buf := make([]byte, 8)
	n, err := syscall.Getxattr(p, "trusted.overlay.opaque", buf)
	return err == nil && string(buf[:n]) == "y"
}

func TestWritesGoToUpper(t *testing.T) {
	r, base := sandbox(t)
	before := snapshot(t, base)
	spec := newSpec(t, base, "sh", "-c", "echo new >/tmp/new && echo changed >/etc/hello && rm /data/a && cat /etc/hello")
	if got := mustRun(t, r, spec); got != "changed\n" {
		t.Errorf("stdout = %q", got)
	}
	if after := snapshot(t, base); after != before {
		t.Errorf("the lower layer changed:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	upper := filepath.Join(spec.Upper, "upper")
	for name, want := range map[string]string{"tmp/new": "new\n", "etc/hello": "changed\n"} {
		if got, err := os.ReadFile(filepath.Join(upper, name)); err != nil || string(got) != want {
			t.Errorf("upper %s = %q, %v; want %q", name, got, err, want)
		}
	}
	if !isWhiteout(t, filepath.Join(upper, "data/a")) {
		t.Error("upper data/a is not a whiteout")
	}
	if u, b := statMode(t, upper), statMode(t, base); u != b {
		t.Errorf("upper root mode %v, want the base's %v", u, b)
	}

	// The same Upper again continues from its changes.
	spec.Args = []string{"cat", "/tmp/new"}
	if got := mustRun(t, r, spec); got != "new\n" {
		t.Errorf("second run on the same upper: %q", got)
	}
}

// TestLayerStack saves uppers as layers: whiteouts and opaque directories
// hide what the layers below hold.
func TestLayerStack(t *testing.T) {
	r, base := sandbox(t)
	s1 := newSpec(t, base, "sh", "-c", "rm /etc/hello && rm -r /data && mkdir /data && echo x >/data/new && echo added >/etc/added")
	mustRun(t, r, s1)
	u1 := filepath.Join(s1.Upper, "upper")
	if !isWhiteout(t, filepath.Join(u1, "etc/hello")) {
		t.Error("run 1: etc/hello is not a whiteout")
	}
	if !isOpaque(filepath.Join(u1, "data")) {
		t.Error("run 1: data is not opaque")
	}

	s2 := newSpec(t, base, "sh", "-c", "test ! -e /etc/hello && ls /data && cat /etc/added && echo third >/etc/third")
	s2.Layers = []string{u1, base}
	if got := mustRun(t, r, s2); got != "new\nadded\n" {
		t.Errorf("run 2 on [run 1, base]: %q", got)
	}
	s3 := newSpec(t, base, "sh", "-c", "test ! -e /etc/hello && ls /data && cat /etc/added /etc/third")
	s3.Layers = []string{filepath.Join(s2.Upper, "upper"), u1, base}
	if got := mustRun(t, r, s3); got != "new\nadded\nthird\n" {
		t.Errorf("run 3 on [run 2, run 1, base]: %q", got)
	}
}

// TestManyLayers needs more than a page of overlay options with absolute
// paths, so the runner passes them relative to their common directory.
func TestManyLayers(t *testing.T) {
	r, _ := sandbox(t)
	dir := t.TempDir()
	var layers []string
	for i := range 60 {
		l := filepath.Join(dir, fmt.Sprintf("layer-%02d-%s", i, strings.Repeat("x", 32)))
		if err := os.MkdirAll(filepath.Join(l, "l"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(l, "l", fmt.Sprint(i)), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		layers = append(layers, l)
	}
	if n := len(overlayData(layers, dir+"/rw/upper", dir+"/rw/work")); n < os.Getpagesize() {
		t.Fatalf("options are only %d bytes: the test does not exercise the fallback", n)
	}
	spec := &Spec{
		Layers: layers,
		Upper:  filepath.Join(dir, "rw"),
		Mounts: []Mount{{Source: testRoot.busybox, Target: "/bin/busybox", ReadOnly: true}},
		Args:   []string{"/bin/busybox", "sh", "-c", "/bin/busybox ls /l | /bin/busybox wc -l"},
	}
	if got := mustRun(t, r, spec); got != "60\n" {
		t.Errorf("files from 60 layers: %q", got)
	}
}

func TestCommonDir(t *testing.T) {
	tests := []struct {
		in   []string
		want string
	}{
		{[]string{"/a/b/c", "/a/b/d", "/a/b/e/f"}, "/a/b"},
		{[]string{"/a/b", "/a/b/c"}, "/a"},
		{[]string{"/a/bc", "/a/b"}, "/a"},
		{[]string{"/x", "/y"}, "/"},
		{[]string{"/a/b/c"}, "/a/b"},
	}
	for _, tt := range tests {
		if got := commonDir(tt.in); got != tt.want {
			t.Errorf("commonDir(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestNetwork(t *testing.T) {
	r, base := sandbox(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, "host-ok")
	}))
	defer srv.Close()

	t.Run("none", func(t *testing.T) {
		spec := newSpec(t, base, "sh", "-c", `ls /sys/class/net; ip -o link | wc -l; cat /sys/class/net/lo/flags
			# The host's 127.0.0.1 is not ours. (busybox 1.35's wget -T crashes.)
			wget -q -O - `+srv.URL+` >/tmp/out 2>/tmp/err; echo "wget=$?"; grep -o 'Connection refused' /tmp/err
			# Loopback works inside.
			httpd -f -p 127.0.0.1:8080 -h /etc &
			for i in $(seq 50); do wget -q -O - http://127.0.0.1:8080/hello 2>/dev/null && exit 0; usleep 20000; done
			exit 1`)
		got := mustRun(t, r, spec)
		if want := "lo\n1\n0x9\nwget=1\nConnection refused\nhello from base\n"; got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	})
	t.Run("host", func(t *testing.T) {
		spec := newSpec(t, base, "wget", "-q", "-O", "-", srv.URL)
		spec.Network = true
		if got := mustRun(t, r, spec); got != "host-ok" {
			t.Errorf("got %q, want host-ok", got)
		}
	})
}

func TestMounts(t *testing.T) {
	r, base := sandbox(t)
	dir := t.TempDir()
	rw, ro, file := filepath.Join(dir, "rw"), filepath.Join(dir, "ro"), filepath.Join(dir, "file")
	for _, d := range []string{rw, ro} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(ro, "r"), []byte("ro\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, []byte("file\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	const hostProbe = "/etc/stx-runner-test-target"
	tests := []struct {
		name   string
		mounts []Mount
		uid    int
		script string
		want   string
		code   int
	}{
		{"rw bind", []Mount{{Source: rw, Target: "/mnt/rw"}}, 0, "echo hi >/mnt/rw/f", "", 0},
		{"ro bind reads", []Mount{{Source: ro, Target: "/mnt/ro", ReadOnly: true}}, 0, "cat /mnt/ro/r", "ro\n", 0},
		{"ro bind refuses writes", []Mount{{Source: ro, Target: "/mnt/ro", ReadOnly: true}}, 0, "touch /mnt/ro/x 2>/dev/null", "", 1},
		{"ro file", []Mount{{Source: file, Target: "/etc/bound", ReadOnly: true}}, 0, "cat /etc/bound; echo x 2>/dev/null >/etc/bound", "file\n", 1},
		{"nested", []Mount{{Source: file, Target: "/mnt/rw/sub/f", ReadOnly: true}, {Source: rw, Target: "/mnt/rw"}}, 0, "cat /mnt/rw/sub/f", "file\n", 0},
		{"tmpfs for a user", []Mount{{Target: "/scratch", Type: "tmpfs", Size: 1 << 20}}, 1000, "echo ok >/scratch/f && cat /scratch/f", "ok\n", 0},
		{"tmpfs full", []Mount{{Target: "/scratch", Type: "tmpfs", Size: 1 << 20}}, 1000, "dd if=/dev/zero of=/scratch/f bs=4096 count=512 2>/tmp/err; c=$?; grep -o 'No space left on device' /tmp/err; exit $c", "No space left on device\n", 1},
		{"target through a symlink", []Mount{{Source: ro, Target: "/link-to-etc/stx-runner-test-target", ReadOnly: true}}, 0, "cat " + hostProbe + "/r", "ro\n", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := newSpec(t, base, "sh", "-c", tt.script)
			spec.Mounts, spec.UID, spec.GID = tt.mounts, tt.uid, tt.uid
			res := run(t, r, spec)
			if res.stdout != tt.want {
				t.Errorf("stdout = %q, want %q (stderr %q)", res.stdout, tt.want, res.stderr)
			}
			if got := exitCode(res.err); tt.code != 0 && got != tt.code || tt.code == 0 && res.err != nil {
				t.Errorf("Run: %v, want exit code %d", res.err, tt.code)
			}
		})
	}
	if b, err := os.ReadFile(filepath.Join(rw, "f")); err != nil || string(b) != "hi\n" {
		t.Errorf("rw bind: host sees %q, %v", b, err)
	}
	if _, err := os.Lstat(hostProbe); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a mount target resolved through an absolute symlink reached the host's %s: %v", hostProbe, err)
	}
}

// TestHostUnchanged checks that mounts vanish with the sandbox.
func TestHostUnchanged(t *testing.T) {
	r, base := sandbox(t)
	spec := newSpec(t, base, "true")
	spec.Mounts = []Mount{
		{Source: t.TempDir(), Target: "/src", ReadOnly: true},
		{Source: "/etc/hostname", Target: "/etc/hostname"},
		{Target: "/build", Type: "tmpfs", Size: 1 << 20},
	}
	// Where a mount of this run could leak to: the sandbox's directories
	// and its targets taken as host paths. Other test packages running
	// meanwhile mount and unmount their builds' tmpfs elsewhere.
	places := []string{filepath.Dir(spec.Upper), base, "/src", "/etc/hostname", "/build"}
	before := hostMounts(t, places...)
	mustRun(t, r, spec)
	if after := hostMounts(t, places...); after != before {
		t.Errorf("host mount table changed:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	ents, err := os.ReadDir(filepath.Join(spec.Upper, "merged"))
	if err != nil || len(ents) != 0 {
		t.Errorf("Upper/merged after the run: %d entries, %v; want an empty directory", len(ents), err)
	}
}

// hostMounts returns the host's mounts whose mount point is one of
// places or below one, a line each.
func hostMounts(t *testing.T, places ...string) string {
	t.Helper()
	all, err := mountinfo.Read()
	if err != nil {
		t.Fatal(err)
	}
	var keep []string
	for _, m := range all {
		if slices.ContainsFunc(places, func(p string) bool { return m.Point == p || strings.HasPrefix(m.Point, p+"/") }) {
			keep = append(keep, fmt.Sprintf("%s %s %s %s", m.Point, m.FSType, m.Options, m.SuperOptions))
		}
	}
	return strings.Join(keep, "\n")
}

func TestConcurrentRuns(t *testing.T) {
	r, base := sandbox(t)
	const n = 4
	var wg sync.WaitGroup
	results := make([]result, n)
	for i := range n {
		spec := newSpec(t, base, "sh", "-c", fmt.Sprintf("echo %d >/tmp/id; usleep 50000; cat /tmp/id; hostname", i))
		spec.Hostname = fmt.Sprintf("box-%d", i)
		wg.Go(func() {
			var out bytes.Buffer
			spec.Stdout = &out
			err := r.Run(context.Background(), spec)
			results[i] = result{stdout: out.String(), err: err}
		})
	}
	wg.Wait()
	for i, res := range results {
		if want := fmt.Sprintf("%d\nbox-%d\n", i, i); res.err != nil || res.stdout != want {
			t.Errorf("sandbox %d: %q, %v; want %q", i, res.stdout, res.err, want)
		}
	}
}

// firstWrite closes ready on the first write.
type firstWrite struct {
	once  sync.Once
	ready chan struct{}
}

func (w *firstWrite) Write(p []byte) (int, error) {
	w.once.Do(func() { close(w.ready) })
	return len(p), nil
}

func TestCancel(t *testing.T) {
	r, base := sandbox(t)
	spec := newSpec(t, base, "sh", "-c", "sleep 987651 & sleep 987652 & echo started; sleep 987653")
	out := &firstWrite{ready: make(chan struct{})}
	spec.Stdout = out
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx, spec) }()
	select {
	case <-out.ready:
	case err := <-done:
		t.Fatalf("Run returned before cancel: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("the command did not start")
	}
	start := time.Now()
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Run: got %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	t.Logf("Run returned %v after cancel", time.Since(start))
	if left := processesMatching(t, "98765"); len(left) > 0 {
		t.Errorf("processes left after cancel: %v", left)
	}

	// An already cancelled context runs nothing.
	if err := r.Run(ctx, newSpec(t, base, "true")); !errors.Is(err, context.Canceled) {
		t.Errorf("Run with a cancelled context: %v", err)
	}
}

func processesMatching(t *testing.T, s string) []string {
	t.Helper()
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		if cmd := strings.ReplaceAll(string(b), "\x00", " "); strings.Contains(cmd, s) {
			out = append(out, e.Name()+": "+cmd)
		}
	}
	return out
}

// TestRunCost logs what one sandboxed `true` costs.
func TestRunCost(t *testing.T) {
	r, base := sandbox(t)
	const n = 10
	var total time.Duration
	for range n {
		spec := newSpec(t, base, "true")
		start := time.Now()
		mustRun(t, r, spec)
		total += time.Since(start)
	}
	t.Logf("one `true` run: %v on average over %d", total/n, n)
}

func BenchmarkRunTrue(b *testing.B) {
	r, base := sandbox(b)
	dir := b.TempDir()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		spec := &Spec{Layers: []string{base}, Upper: filepath.Join(dir, fmt.Sprint(i)), Args: []string{"/bin/true"}}
		if err := r.Run(context.Background(), spec); err != nil {
			b.Fatal(err)
		}
	}
}
