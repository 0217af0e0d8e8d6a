package buildkit_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stx-build/stx-build/internal/buildkittest"
	"github.com/stx-build/stx-build/internal/busyboxroot"
	"github.com/stx-build/stx-build/runner/buildkit"
)

// busyboxRoot makes a tiny root filesystem: a static busybox and its
// applet links.
func busyboxRoot(t *testing.T) string {
	return busyboxroot.New(t, "sh", "cat", "echo", "df", "grep", "mkdir", "cp", "id", "wc", "dd", "ls", "head", "test", "hostname")
}

// TestJobOnBuildKit runs a job on a real buildkitd: the environment step
// leaves a file the build step sees, the source arrives read-only, the
// build step has no network and a tmpfs of the asked size, and only the
// out mount comes back. A second run of the same job reuses the
// environment step from BuildKit's cache; a failing build is an ordinary
// error, not ErrUnavailable; a killed daemon is ErrUnavailable.
func TestJobOnBuildKit(t *testing.T) {
	d := buildkittest.Start(t)
	ctx := context.Background()
	epoch := time.Unix(1700000000, 0)
	base, err := buildkit.ExportBase(busyboxRoot(t), filepath.Join(t.TempDir(), "bases"), "0123456789abcdef", "amd64", epoch)
	if err != nil {
		t.Fatal(err)
	}
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "input.txt"), []byte("hello from the source\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// An input directory and a secret, as a kernel's build step has.
	kconfig, signing := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(kconfig, "a.config"), []byte("CONFIG_X=y\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(signing, "key.pem"), []byte("secret key\n"), 0o400); err != nil {
		t.Fatal(err)
	}
	w := buildkit.New(d.Addr)
	defer w.Close()
	if err := w.Usable(ctx, "amd64"); err != nil {
		t.Fatal(err)
	}
	job := func(out string, script string, log *bytes.Buffer) *buildkit.Job {
		return &buildkit.Job{
			Name: "smoke", Base: base, Env: []string{"PATH=/bin"}, Hostname: "stx-build",
			// The environment step has no network either: only loopback.
			DepsScript: "echo installed > /env-marker\ngrep -c : /proc/net/dev > /env-netdevs",
			SourceDir:  src, SourceMount: "/stx/src",
			BuildScript: script,
			BuildMount:  "/build", Tmpfs: 8 << 20,
			OutMount: "/out", OutDir: out, Log: log,
			Inputs:  []buildkit.Input{{Dir: kconfig, Mount: "/stx/kconfig"}},
			Secrets: []buildkit.Secret{{File: filepath.Join(signing, "key.pem"), Mount: "/stx/signing/key.pem", UID: 1234, GID: 1235}},
		}
	}
	script := `cat /env-marker > /out/env
cat /env-netdevs > /out/envnetdevs
cp /stx/src/input.txt /build/ && cat /build/input.txt > /out/src
if echo x > /stx/src/w 2>/dev/null; then echo writable > /out/src-writable; fi
grep -c : /proc/net/dev > /out/netdevs
df -k /build | tail -n 1 > /out/df
echo $(hostname 2>/dev/null || cat /proc/sys/kernel/hostname) > /out/hostname
if dd if=/dev/zero of=/build/big bs=1M count=16 2>/dev/null; then echo fit > /out/big; else echo nospace > /out/big; fi
cat /stx/kconfig/a.config > /out/input
cat /stx/signing/key.pem > /out/secret
ls -ln /stx/signing/key.pem > /out/secret-ls`
	var log bytes.Buffer
	out := filepath.Join(t.TempDir(), "out")
	tm, err := w.Run(ctx, job(out, script, &log))
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(out, name))
		if err != nil {
			t.Errorf("%s: %v\nlog:\n%s", name, err, log.String())
		}
		return strings.TrimSpace(string(b))
	}
	for name, want := range map[string]string{
		"env": "installed", "envnetdevs": "1", "src": "hello from the source", "netdevs": "1", "big": "nospace", "hostname": "stx-build",
		"input": "CONFIG_X=y", "secret": "secret key",
	} {
		if got := read(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	if _, err := os.Stat(filepath.Join(out, "src-writable")); err == nil {
		t.Error("the source mount is writable")
	}
	if ls := strings.Fields(read("secret-ls")); len(ls) < 4 || ls[0] != "-r--------" || ls[2] != "1234" || ls[3] != "1235" {
		t.Errorf("secret: ls -ln says %v, want -r-------- owned by 1234:1235", ls)
	}
	if df := strings.Fields(read("df")); len(df) < 2 || df[1] != "8192" {
		t.Errorf("build tmpfs: df says %v, want 8192 KiB", df)
	}
	if tm.EnvCached {
		t.Error("first run: environment step reported cached")
	}

	// Same job again: the environment comes from BuildKit's cache.
	log.Reset()
	tm, err = w.Run(ctx, job(filepath.Join(t.TempDir(), "out"), script, &log))
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	if !tm.EnvCached {
		t.Errorf("second run: environment step not cached\n%s", log.String())
	}
	if tm.Build <= 0 || strings.Contains(log.String(), "stx-build build: smoke: cached") {
		t.Errorf("second run: the build step did not run again (%v)\n%s", tm.Build, log.String())
	}

	// A failing command is the job's error.
	log.Reset()
	_, err = w.Run(ctx, job(filepath.Join(t.TempDir(), "out"), "echo failing on purpose; exit 3", &log))
	if err == nil || errors.Is(err, buildkit.ErrUnavailable) {
		t.Fatalf("failing job: err = %v, want a job error", err)
	}
	if !strings.Contains(log.String(), "failing on purpose") {
		t.Errorf("the log lacks the command's output:\n%s", log.String())
	}

	// A job running while the daemon dies is ErrUnavailable.
	log.Reset()
	errc := make(chan error, 1)
	go func() {
		_, err := w.Run(ctx, job(filepath.Join(t.TempDir(), "out"), "echo started; sleep 60", &log))
		errc <- err
	}()
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(log.String(), "started") && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	d.Kill()
	select {
	case err := <-errc:
		if !errors.Is(err, buildkit.ErrUnavailable) {
			t.Fatalf("job on a killed worker: err = %v, want ErrUnavailable", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("job on a killed worker did not return")
	}
	if err := w.Usable(ctx, "amd64"); !errors.Is(err, buildkit.ErrUnavailable) {
		t.Errorf("Usable after kill = %v, want ErrUnavailable", err)
	}
}

// TestNative: a worker's native architecture is its default worker's
// first platform: the host's for a plain buildkitd (emulated platforms
// come after it), the first one given with --oci-worker-platform.
func TestNative(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, runtime.GOARCH},
		{[]string{"--oci-worker-platform", "linux/arm64", "--oci-worker-platform", "linux/amd64"}, "arm64"},
	} {
		d := buildkittest.StartWith(t, "", tc.args)
		w := buildkit.New(d.Addr)
		if len(tc.args) > 0 {
			// The daemon logs that it runs before it answers.
			deadline := time.Now().Add(30 * time.Second)
			for w.Usable(ctx, tc.want) != nil && time.Now().Before(deadline) {
				time.Sleep(100 * time.Millisecond)
			}
		}
		got, err := w.Native(ctx)
		if err != nil || got != tc.want {
			ps, _ := w.Platforms(ctx)
			t.Errorf("buildkitd %v: native %q (%v), want %q; platforms %v", tc.args, got, err, tc.want, ps)
		}
		w.Close()
		d.Kill()
	}
}
