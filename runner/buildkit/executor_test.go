package buildkit_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stx-build/stx-build/runner"
	"github.com/stx-build/stx-build/runner/buildkit"
)

// TestTreeScript runs the build script with sh against a fake
// root: the tree is copied, the command runs with exactly the given
// environment, the artifacts and the tree's size land in the out
// directory, and the command's exit status is the script's.
func TestTreeScript(t *testing.T) {
	if _, err := exec.LookPath("setpriv"); err != nil {
		t.Skip("no setpriv")
	}
	if os.Geteuid() != 0 {
		t.Skip("setpriv --reuid needs root")
	}
	// An unused uid: the script kills every process of the build user.
	scriptFor := func(rc string) string {
		step := runner.NewStep("build", "/bin/sh", "-c", "env > ../env.buildinfo; touch ../pkg_1.0_all.deb ../junk.txt; exit "+rc).
			WithEnv("PATH=/usr/bin:/bin", "SOURCE_DATE_EPOCH=1700000000").
			WithDir("/build/pkg-1.0").WithUser(64123, 64123).
			WithTree("/unused", "/build", 0)
		return buildkit.TreeScript(step, []string{".deb", ".udeb", ".ddeb", ".buildinfo", ".changes"})
	}
	// The script uses absolute paths: run it against a scratch root by
	// rewriting them (the sandbox paths are fixed constants).
	root := t.TempDir()
	for _, d := range []string{"stx/src/pkg-1.0", "build", "stx/out"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o777); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "stx/src/pkg-1.0/file"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	paths := strings.NewReplacer("/stx/src", root+"/stx/src", "/build", root+"/build", "/stx/out", root+"/stx/out")
	s := paths.Replace(scriptFor("0"))
	if out, err := exec.Command("sh", "-ec", s).CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s\nscript:\n%s", err, out, s)
	}
	for _, f := range []string{"pkg_1.0_all.deb", "env.buildinfo", buildkit.SizeFile} {
		if _, err := os.Stat(filepath.Join(root, "stx/out", f)); err != nil {
			t.Errorf("out lacks %s", f)
		}
	}
	if _, err := os.Stat(filepath.Join(root, "stx/out", "junk.txt")); err == nil {
		t.Error("a non-artifact was copied out")
	}
	env, _ := os.ReadFile(filepath.Join(root, "stx/out", "env.buildinfo"))
	lines := strings.Fields(string(env))
	if len(lines) != 3 || !strings.Contains(string(env), "SOURCE_DATE_EPOCH=1700000000") { // PATH, SOURCE_DATE_EPOCH, PWD
		t.Errorf("environment not exactly the given one:\n%s", env)
	}
	// A result that is a symlink (to a file of the worker's root) or a
	// FIFO fails the build and is not copied out (issue 20).
	hostile := runner.NewStep("build", "/bin/sh", "-c", "ln -s /etc/shadow ../x.buildinfo; mkfifo ../y.changes; touch ../ok_1_all.deb").
		WithEnv("PATH=/usr/bin:/bin").WithDir("/build/pkg-1.0").WithUser(64123, 64123).WithTree("/unused", "/build", 0)
	os.RemoveAll(filepath.Join(root, "stx/out"))
	os.MkdirAll(filepath.Join(root, "stx/out"), 0o777)
	out, err := exec.Command("sh", "-ec", paths.Replace(buildkit.TreeScript(hostile, []string{".deb", ".buildinfo", ".changes"}))).CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(string(out), "x.buildinfo is not a regular file") || !strings.Contains(string(out), "y.changes is not a regular file") {
		t.Errorf("hostile results: %v\n%s, want exit status 1 naming both", err, out)
	}
	for _, f := range []string{"x.buildinfo", "y.changes"} {
		if _, err := os.Lstat(filepath.Join(root, "stx/out", f)); err == nil {
			t.Errorf("%s was copied out", f)
		}
	}
	err = exec.Command("sh", "-ec", paths.Replace(scriptFor("7"))).Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 7 {
		t.Errorf("failing command: %v, want exit status 7", err)
	}
}
