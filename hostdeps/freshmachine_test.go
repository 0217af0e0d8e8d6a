package hostdeps

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestFreshMachine is the path a newcomer takes, on a machine that has
// nothing installed by hand: a minimal root of the host's suite made from
// the host's apt configuration, scripts/install-deps.sh run inside it, then
// `stx-build doctor --dev` inside it must pass. With arch-test removed
// again, doctor must name it and `stx-build image` must stop at once with
// the same fix. This is the test that would have caught the missing
// arch-test of scripts/install-deps.sh.
func TestFreshMachine(t *testing.T) {
	if testing.Short() {
		t.Skip("makes a root and installs packages from the archive")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root (mmdebstrap in root mode, chroot)")
	}
	for _, p := range []string{"mmdebstrap", "unshare", "chroot", "go"} {
		if _, err := exec.LookPath(p); err != nil {
			t.Fatalf("%s: %v (scripts/install-deps.sh installs the test's own tools)", p, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	work, err := os.MkdirTemp("/var/tmp", "stx-fresh-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(work) })
	root := filepath.Join(work, "root")
	log := &bytes.Buffer{}
	defer func() {
		if t.Failed() {
			t.Logf("log (last 8 KiB):\n%s", tail(log.Bytes(), 8<<10))
		}
	}()

	// A minimal root of the host's suite, from the host's apt sources.
	suite := hostCodename(t)
	start := time.Now()
	mm := exec.CommandContext(ctx, "mmdebstrap", "--variant=minbase", "--mode=root", "--format=directory",
		"--dpkgopt=force-unsafe-io", suite, root)
	mm.Stdout, mm.Stderr = log, log
	if err := mm.Run(); err != nil {
		t.Fatalf("mmdebstrap %s: %v", suite, err)
	}
	t.Logf("minimal %s root in %s", suite, time.Since(start).Round(time.Second))

	// What the machine kind has configured: its apt settings and resolver;
	// the project's script and a static stx-build. No service starts in a
	// chroot (policy-rc.d), as none would on a machine being set up.
	copyInto(t, root, "/etc/resolv.conf", "etc/resolv.conf")
	entries, _ := filepath.Glob("/etc/apt/apt.conf.d/*")
	for _, e := range entries {
		copyInto(t, root, e, filepath.Join("etc/apt/apt.conf.d", filepath.Base(e)))
	}
	writeInto(t, root, "usr/sbin/policy-rc.d", "#!/bin/sh\nexit 101\n", 0o755)
	copyInto(t, root, "../scripts/install-deps.sh", "stx/install-deps.sh")
	copyTree(t, "../examples", filepath.Join(root, "stx/examples"))
	gob := exec.CommandContext(ctx, "go", "build", "-o", filepath.Join(root, "usr/local/bin/stx-build"), "../cmd/stx-build")
	gob.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := gob.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	start = time.Now()
	if out, err := inRoot(ctx, root, log, "bash /stx/install-deps.sh"); err != nil {
		t.Fatalf("install-deps.sh in a fresh root: %v\n%s", err, tail(out, 4<<10))
	}
	t.Logf("install-deps.sh in %s", time.Since(start).Round(time.Second))
	out, err := inRoot(ctx, root, log, "stx-build doctor --dev --cache-dir /var/cache/stx-build")
	t.Logf("doctor on the fresh machine:\n%s", out)
	if err != nil {
		t.Fatalf("stx-build doctor after install-deps.sh: %v", err)
	}

	// Without arch-test (mmdebstrap only recommends it), doctor and the
	// image command say so, with the package to install.
	if out, err := inRoot(ctx, root, log, "dpkg --remove arch-test"); err != nil {
		t.Fatalf("remove arch-test: %v\n%s", err, out)
	}
	out, err = inRoot(ctx, root, log, "stx-build doctor")
	if err == nil || !strings.Contains(string(out), "missing") || !strings.Contains(string(out), "apt-get install --no-install-recommends arch-test") {
		t.Errorf("doctor without arch-test: %v\n%s", err, out)
	}
	start = time.Now()
	out, err = inRoot(ctx, root, log, "stx-build image -C /stx/examples --no-build")
	took := time.Since(start)
	if err == nil || !strings.Contains(string(out), "arch-test (package arch-test)") || !strings.Contains(string(out), "fix: apt-get install --no-install-recommends arch-test") {
		t.Errorf("image without arch-test: %v\n%s", err, out)
	}
	if took > 10*time.Second { // a generous bound: it is a few milliseconds of checks
		t.Errorf("image took %s to fail; it must stop before any work", took)
	}
}

// inRoot runs script in root, in a mount and PID namespace of its own with
// /proc, /sys and the host's /dev, and returns its output.
func inRoot(ctx context.Context, root string, log *bytes.Buffer, script string) ([]byte, error) {
	setup := `set -e
mount --rbind /dev "$0/dev"
mount -t proc proc "$0/proc"
mount -t sysfs sysfs "$0/sys"
exec chroot "$0" /bin/sh -c "$1"`
	cmd := exec.CommandContext(ctx, "unshare", "--mount", "--pid", "--fork", "--propagation", "private", "/bin/sh", "-c", setup, root,
		"export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive; "+script)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C"}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	log.WriteString("$ " + script + "\n")
	log.Write(out.Bytes())
	return out.Bytes(), err
}

func hostCodename(t *testing.T) string {
	t.Helper()
	f, err := os.Open("/etc/os-release")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VERSION_CODENAME="); ok && v != "" {
			return strings.Trim(v, `"`)
		}
	}
	t.Fatal("/etc/os-release: no VERSION_CODENAME")
	return ""
}

func copyInto(t *testing.T, root, src, rel string) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(src)
	if err != nil {
		t.Fatal(err)
	}
	writeInto(t, root, rel, string(data), fi.Mode().Perm())
}

func writeInto(t *testing.T, root, rel, data string, mode os.FileMode) {
	t.Helper()
	p := filepath.Join(root, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	os.Remove(p) // resolv.conf may be a symlink
	if err := os.WriteFile(p, []byte(data), mode); err != nil {
		t.Fatal(err)
	}
}

func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("cp", "-a", src, dst).CombinedOutput(); err != nil {
		t.Fatalf("cp %s: %v\n%s", src, err, out)
	}
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
