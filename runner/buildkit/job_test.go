package buildkit

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stx-build/stx-build/runner"
)

// A build description becomes a job: the kept step its environment (with
// its input and cache tag), the last its build step with the tree sent and
// copied into a tmpfs of the tree's size; shapes a job cannot hold are
// refused.
func TestJobFromBuild(t *testing.T) {
	env := runner.NewStep("environment", "/bin/sh", "-ec", "apt-get install x").WithEnv("PATH=/bin").
		WithInput("/slot/debs", "/stx/debs").Keep("0123456789abcdef0123456789abcdef0123")
	build := runner.NewStep("build", "dpkg-buildpackage", "-b").WithEnv("PATH=/bin", "TZ=UTC").
		WithDir("/build/p-1").WithUser(1000, 1000).WithTree("/slot/build", "/build", 64<<20)
	r := &Runner{}
	j, err := r.job(&runner.Build{Name: "p 1 amd64", Steps: []runner.Step{env, build}, Artifacts: []string{".deb"}})
	if err != nil {
		t.Fatal(err)
	}
	if j.DepsScript != "apt-get install x" || j.DepsDir != "/slot/debs" || j.DepsMount != "/stx/debs" || j.DepsNetwork {
		t.Errorf("environment: %q %q %q network %v", j.DepsScript, j.DepsDir, j.DepsMount, j.DepsNetwork)
	}
	// An environment step that asks for the network gets it, no other.
	if j, err := r.job(&runner.Build{Name: "p", Steps: []runner.Step{env.WithNetwork(), build}}); err != nil || !j.DepsNetwork {
		t.Errorf("environment with network: %v", err)
	}
	if j.SourceDir != "/slot/build" || j.BuildMount != "/build" || j.Tmpfs != 64<<20 || j.CacheTag != "env-0123456789abcdef0123456789abcdef" {
		t.Errorf("build: %+v", j)
	}
	for _, w := range []string{"cp -a /stx/src/. /build/", "setpriv --reuid=1000 --regid=1000 --clear-groups -- env -i PATH=/bin TZ=UTC dpkg-buildpackage -b", "cd /build/p-1"} {
		if !strings.Contains(j.BuildScript, w) {
			t.Errorf("build script lacks %q:\n%s", w, j.BuildScript)
		}
	}
	// A kernel's build step: config files as an input directory, the
	// signing key as a secret owned by the step's user.
	kconfig := t.TempDir()
	file := filepath.Join(kconfig, "a.config")
	if err := os.WriteFile(file, []byte("CONFIG_X=y\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	kbuild := build.WithInput(kconfig, "/stx/kconfig").WithSecret("/slot/signing/key.pem", "/stx/signing/key.pem")
	j, err = r.job(&runner.Build{Name: "linux", Steps: []runner.Step{env, kbuild}, Artifacts: []string{".deb"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(j.Inputs) != 1 || j.Inputs[0] != (Input{Dir: kconfig, Mount: "/stx/kconfig"}) {
		t.Errorf("inputs: %+v", j.Inputs)
	}
	if len(j.Secrets) != 1 || j.Secrets[0] != (Secret{File: "/slot/signing/key.pem", Mount: "/stx/signing/key.pem", UID: 1000, GID: 1000}) {
		t.Errorf("secrets: %+v", j.Secrets)
	}
	for name, steps := range map[string][]runner.Step{
		"no environment":        {build},
		"environment not kept":  {runner.NewStep("environment", "true").WithNetwork(), build},
		"build with file input": {env, build.WithInput(file, "/stx/kconfig/a.config")},
		"build with two trees":  {env, build.WithTree("/slot/other", "/other", 0)},
		"build with network":    {env, build.WithNetwork()},
		"environment as user":   {env.WithUser(1000, 1000), build},
		"environment, 2 inputs": {env.WithInput("/slot/x", "/stx/x"), build},
	} {
		if _, err := r.job(&runner.Build{Name: name, Steps: steps}); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// A secret is read only from a regular file of at most maxSecret bytes:
// a FIFO (which would block) and an oversized file are refused by name.
func TestReadSecrets(t *testing.T) {
	dir := t.TempDir()
	key, fifo, big := filepath.Join(dir, "key.pem"), filepath.Join(dir, "fifo"), filepath.Join(dir, "big")
	if err := os.WriteFile(key, []byte("key"), 0o400); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(big, make([]byte, maxSecret+1), 0o600); err != nil {
		t.Fatal(err)
	}
	j := &Job{Secrets: []Secret{{File: key, Mount: "/stx/signing/key.pem"}}}
	got, err := j.readSecrets()
	if err != nil || string(got[secretID(0)]) != "key" {
		t.Errorf("readSecrets = %q, %v", got, err)
	}
	for _, f := range []string{fifo, big} {
		j := &Job{Secrets: []Secret{{File: f, Mount: "/stx/x"}}}
		if _, err := j.readSecrets(); err == nil || !strings.Contains(err.Error(), f) {
			t.Errorf("secret %s: err = %v, want a refusal naming it", f, err)
		}
	}
}
