package workspace

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stx-build/stx-build/internal/busyboxroot"
	"github.com/stx-build/stx-build/runner"
)

func TestMain(m *testing.M) {
	runner.MaybeChild() // the dl_hook tests run the local sandbox
	os.Exit(m.Run())
}

// busyboxHookRoot is a tiny root for dl_hook sandboxes: a static busybox
// and the applets the test hooks use.
func busyboxHookRoot(t *testing.T) hookRoot {
	root := busyboxroot.New(t, "sh", "cat", "echo", "mkdir", "cp", "id", "ls", "hostname", "touch", "wget", "ln")
	return hookRoot{Key: "busybox-test-root", Layers: []string{root}}
}

// TestStarlingXDLHook runs dl_hook scripts of a hand-made tree in the
// sandbox: the script gets its verified dl_files beside it and its own
// package directory (read-only) under $MY_REPO, nothing else of the tree,
// no network, fixed paths and user; its output is assembled like any
// tree source (deb_folder over debian/) and kept by key, so a second
// preparation does not run it and a changed script does. A script that
// links out of its output, or makes no <debname>-<upstream>, is refused
// with its reason.
func TestStarlingXDLHook(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the sandbox")
	}
	if err := runner.NewLocal().Usable(context.Background()); err != nil {
		t.Skip(err)
	}
	extra := []byte("extra file\n")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/extra.txt" {
			w.Write(extra)
			return
		}
		http.NotFound(w, r)
	}))
	defer srv.Close()

	root := t.TempDir()
	repo := filepath.Join(root, "cgcs-root", "stx", "r")
	write(t, filepath.Join(repo, "debian_trixie_pkg_dirs_std"), "hooked\nother\n")
	pkg := filepath.Join(repo, "hooked")
	d := filepath.Join(pkg, "debian", "all")
	write(t, filepath.Join(d, "meta_data.yaml"), "debver: 2.0-1\ndebname: hooked\ndl_hook: dl_hook\ndl_files:\n  extra.txt:\n    topdir: null\n    url: "+srv.URL+"/extra.txt\n    sha256sum: "+sum(extra)+"\n")
	write(t, filepath.Join(d, "deb_folder", "control"), "Source: hooked\nBuild-Depends: debhelper-compat (= 13)\n\nPackage: hooked\nArchitecture: any\nDescription: h\n x\n")
	write(t, filepath.Join(d, "deb_folder", "changelog"), "hooked (2.0-1) unstable; urgency=medium\n\n  * x\n\n -- A <a@b.c>  Thu, 16 Apr 2026 13:49:15 -0400\n")
	write(t, filepath.Join(pkg, "src", "main.c"), "int main(){}\n")
	hook := filepath.Join(d, "dl_hook")
	script := `#!/bin/sh
set -e
mkdir "$1"
cp "$MY_REPO/stx/r/hooked/src/main.c" extra.txt "$1/"
echo "$MY_REPO_ROOT_DIR $MY_REPO $MY_WORKSPACE $SOURCE_DATE_EPOCH $BUILD_DATE $(id -u) $(hostname) $(pwd)" >"$1/env.txt"
ls "$MY_REPO/stx/r" >"$1/visible.txt"
touch "$MY_REPO/stx/r/hooked/written" 2>/dev/null && echo wrote >"$1/wrote.txt" || true
wget -q -O "$1/net.txt" ` + srv.URL + `/extra.txt 2>/dev/null || true
`
	if err := os.WriteFile(hook, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	// A second package, not hooked: the first hook must not see it.
	write(t, filepath.Join(repo, "other", "debian", "all", "meta_data.yaml"), "debver: 1.0\nsrc_path: .\n")

	proj := t.TempDir()
	write(t, filepath.Join(proj, "stx.yaml"), "name: s\nsuite: trixie\narchitectures: [amd64]\nstarlingx:\n  root: "+root+"\n  exclude: [other]\n")
	var log bytes.Buffer
	cache := t.TempDir()
	open := func() *Workspace {
		w, err := Open(Options{Dir: proj, CacheDir: cache, HostArch: "amd64", Log: &log})
		if err != nil {
			t.Fatal(err)
		}
		w.stx.hookRoot = func(context.Context) (hookRoot, error) { return busyboxHookRoot(t), nil }
		return w
	}
	prepare := func(w *Workspace) (*Prepared, string) {
		t.Helper()
		if un := w.stxPrecheck(); len(un) > 0 {
			t.Fatalf("precheck: %v", un)
		}
		for _, p := range w.Project.PackageList {
			if p.Name == "hooked" {
				sp, _ := w.stxPackage(p)
				pr, reason, err := w.prepareStarlingX(context.Background(), w.fetcherFor(nil), p, sp, true)
				if err != nil {
					t.Fatal(err)
				}
				return pr, reason
			}
		}
		t.Fatal("no package hooked")
		return nil, ""
	}

	pr, reason := prepare(open())
	if reason != "" {
		t.Fatalf("hooked: %s\nlog:\n%s", reason, log.String())
	}
	dir := pr.Fetched.Dir
	want := map[string]string{
		"main.c":      "int main(){}\n",
		"extra.txt":   "extra file\n",
		"env.txt":     "/stx /stx/cgcs-root /stx/workspace 1776361755 2026-04-16 17:49:15 +0000 1000 stx-build /stx/dl/hooked\n",
		"visible.txt": "hooked\n",
	}
	for name, content := range want {
		if got, err := os.ReadFile(filepath.Join(dir, name)); err != nil || string(got) != content {
			t.Errorf("%s: %q %v, want %q", name, got, err, content)
		}
	}
	for _, name := range []string{"wrote.txt", "net.txt"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			t.Errorf("%s exists: the hook wrote to the tree or reached the network", name)
		}
	}
	if _, err := os.Stat(filepath.Join(pkg, "written")); err == nil {
		t.Error("the hook wrote into the package directory")
	}
	if pr.Source.Name != "hooked" || pr.Source.Version != "2.0-1" {
		t.Errorf("source %s %s, want hooked 2.0-1 (deb_folder over the output)", pr.Source.Name, pr.Source.Version)
	}
	if !strings.Contains(log.String(), "running dl_hook") {
		t.Errorf("log: %s", log.String())
	}

	// The same inputs: the output comes from the cache.
	log.Reset()
	if _, reason := prepare(open()); reason != "" || !strings.Contains(log.String(), "from the cache") || strings.Contains(log.String(), "running dl_hook") {
		t.Errorf("second preparation: %q, log %s", reason, log.String())
	}

	// A changed script is run again; one that links out of its output or
	// makes no <debname>-<upstream> is refused.
	for _, c := range []struct{ script, reason string }{
		{"#!/bin/sh\nmkdir \"$1\"\necho changed >\"$1/main.c\"\n", ""},
		{"#!/bin/sh\nmkdir \"$1\"\nln -s /etc/passwd \"$1/evil\"\n", "link out of the archive"},
		{"#!/bin/sh\nmkdir other-2.0\n", "made no directory hooked-2.0"},
		{"#!/bin/sh\necho failing >&2\nexit 3\n", "failing"},
	} {
		if err := os.WriteFile(hook, []byte(c.script), 0o755); err != nil {
			t.Fatal(err)
		}
		log.Reset()
		_, reason := prepare(open())
		if c.reason == "" && (reason != "" || !strings.Contains(log.String(), "running dl_hook")) {
			t.Errorf("changed script: %q, log %s", reason, log.String())
		}
		if c.reason != "" && !strings.Contains(reason, c.reason) {
			t.Errorf("script %q: reason %q, want %q", c.script, reason, c.reason)
		}
	}

	// Not executable: refused before anything runs, as debrepack.py does.
	if err := os.Chmod(hook, 0o644); err != nil {
		t.Fatal(err)
	}
	if un := open().stxPrecheck(); len(un) != 1 || !strings.Contains(un[0].Reason, "not an executable file") {
		t.Errorf("precheck of a non-executable hook: %v", un)
	}
}
