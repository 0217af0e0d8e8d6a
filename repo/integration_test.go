package repo

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// aptEnv is a private apt configuration whose only source is one
// repository, and whose dpkg status is empty.
type aptEnv struct {
	t    *testing.T
	dir  string
	conf string
}

func newAptEnv(t *testing.T, r *Repo) *aptEnv {
	t.Helper()
	dir := t.TempDir()
	d := func(rel string) string { return filepath.Join(dir, rel) }
	for _, sub := range []string{"lists/partial", "cache/archives/partial", "sources.list.d", "preferences.d", "log"} {
		if err := os.MkdirAll(d(sub), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	sources := fmt.Sprintf("%s\ndeb [trusted=yes] file:%s stx main/debian-installer\n", r.SourcesLine(), r.Dir())
	files := map[string]string{
		"sources.list": sources,
		"status":       "",
	}
	settings := [][2]string{
		{"APT::Architecture", "amd64"},
		{"APT::Architectures", "amd64"},
		{"Acquire::Languages", "none"},
		{"Dir::Cache", d("cache")},
		{"Dir::Etc::Preferences", d("preferences")},
		{"Dir::Etc::PreferencesParts", d("preferences.d")},
		{"Dir::Etc::SourceList", d("sources.list")},
		{"Dir::Etc::SourceParts", d("sources.list.d")},
		{"Dir::Log", d("log")},
		{"Dir::State", dir},
		{"Dir::State::Lists", d("lists")},
		{"Dir::State::status", d("status")},
	}
	var conf strings.Builder
	for _, s := range settings {
		fmt.Fprintf(&conf, "%s %q;\n", s[0], s[1])
	}
	files["apt.conf"] = conf.String()
	for name, data := range files {
		if err := os.WriteFile(d(name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return &aptEnv{t: t, dir: dir, conf: d("apt.conf")}
}

// run runs an apt tool in the environment and returns its output.
func (e *aptEnv) run(workdir string, args ...string) string {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Dir = workdir
	cmd.Env = append(os.Environ(), "APT_CONFIG="+e.conf, "LC_ALL=C", "DEBIAN_FRONTEND=noninteractive")
	out, err := cmd.CombinedOutput()
	if err != nil {
		e.t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestAptReadsRepo points a real apt at a published repository: apt-get
// update accepts the Release and indexes, apt-cache sees the packages at
// their versions, apt-get download fetches a pool file and checks its
// hashes, and a republished newer version becomes the candidate.
func TestAptReadsRepo(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: runs apt")
	}
	for _, tool := range []string{"apt-get", "apt-cache"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not found", tool)
		}
	}
	r := open(t, "amd64")
	publish(t, r, buildDebs(t, "xz", libstx1, libstxDev, stxData, stxInstaller)...)
	apt := newAptEnv(t, r)
	// apt fetches as _apt: the repository's own files and directories are
	// world-readable whatever the umask, but t.TempDir()'s are not.
	err := filepath.WalkDir(apt.dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		return os.Chmod(p, 0o755)
	})
	for _, d := range []string{filepath.Dir(r.Dir()), filepath.Dir(apt.dir)} {
		if err == nil {
			err = os.Chmod(d, 0o755)
		}
	}
	if err != nil {
		t.Fatal(err)
	}

	out := apt.run("", "apt-get", "update")
	if strings.Contains(out, "W:") || strings.Contains(out, "E:") {
		t.Errorf("apt-get update warned:\n%s", out)
	}
	checks := []struct {
		args []string
		want []string
	}{
		{[]string{"apt-cache", "policy", "libstx1"}, []string{"Candidate: 1.0-1", "file:" + r.Dir() + " stx/main amd64 Packages"}},
		{[]string{"apt-cache", "show", "libstx-dev"}, []string{"Version: 1.0-1", "Filename: pool/main/libs/libstx/libstx-dev_1.0-1_amd64.deb"}},
		{[]string{"apt-cache", "show", "stx-data"}, []string{"Version: 1:1.2-1", "Architecture: all"}},
		{[]string{"apt-cache", "show", "stx-installer"}, []string{"Version: 1:1.2-1", "Package-Type: udeb"}},
		{[]string{"apt-cache", "policy"}, []string{"o=stx-build,a=stx,n=stx,l=stx-build local,c=main"}},
	}
	for _, c := range checks {
		out := apt.run("", c.args...)
		for _, w := range c.want {
			if !strings.Contains(out, w) {
				t.Errorf("%s: no %q in\n%s", strings.Join(c.args, " "), w, out)
			}
		}
	}

	dl := t.TempDir()
	apt.run(dl, "apt-get", "download", "libstx-dev")
	if _, err := os.Stat(filepath.Join(dl, "libstx-dev_1.0-1_amd64.deb")); err != nil {
		t.Errorf("apt-get download: %v", err)
	}

	newer := libstx1
	newer.version = "1.1-1"
	publish(t, r, buildDebs(t, "xz", newer)...)
	apt.run("", "apt-get", "update")
	if out := apt.run("", "apt-cache", "policy", "libstx1"); !strings.Contains(out, "Candidate: 1.1-1") || strings.Contains(out, "1.0-1") {
		t.Errorf("after publishing 1.1-1:\n%s", out)
	}
}
