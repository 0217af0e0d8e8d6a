package starlingx

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDiagnostics builds one small tree with every problem the reader
// reports and checks each message, its position and its severity.
func TestDiagnostics(t *testing.T) {
	root := t.TempDir()
	outside := t.TempDir()
	repo := filepath.Join(root, "cgcs-root", "stx", "r")
	write(t, filepath.Join(repo, "debian_build_layer.cfg"), "flock\n")
	write(t, filepath.Join(repo, "debian_trixie_pkg_dirs_std"), strings.Join([]string{
		"# comment",
		"good",         // 2
		"missing",      // 3
		"/etc",         // 4
		"../../../../", // 5: out of the tree
		"escape",       // 6: symlink out of the tree
		"nometa",       // 7
		"typos",        // 8
		"dup-a",        // 9
		"dup-b",        // 10
		"paths",        // 11
		"  sums",       // 12
		"badtypes",     // 13
		"nover",        // 14
		"x/do-not-build/y",
		"",
	}, "\n"))
	meta := func(dir, content string) { write(t, filepath.Join(repo, dir, "debian", "all", MetaFile), content) }
	meta("good", "debver: 1.0-1\nsrc_path: src\n")
	if err := os.Symlink(outside, filepath.Join(repo, "escape")); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(repo, "nometa", "debian"), 0o755); err != nil {
		t.Fatal(err)
	}
	meta("typos", "debver: 2\nachive: https://example.invalid/pool/\ndeb_name: other\ndist: $STX_DIST\nrevision:\n  dist: $STX_DIST\n  PKG_GITREVCONT: true\n")
	meta("dup-a", "debname: same\ndebver: 1\n")
	meta("dup-b", "debname: same\ndebver: 1\n")
	meta("paths", "debver: 1\nsrc_path: ../../../../../../etc\nsrc_files:\n  - ${MY_REPO}/public-keys/k.crt\n")
	meta("sums", "debver: 1\ndl_path:\n  name: a.tar.gz\n  url: https://example.invalid/a.tar.gz\n  md5sum: 0123\ndl_files:\n  b.tar.gz:\n    url: https://example.invalid/b.tar.gz\n    topdir: b\n  c.tar.gz:\n    url: https://example.invalid/c.tar.gz\n    sha256sum: nothex\n")
	meta("badtypes", "debver: 1\nserial: maybe\nsrc_files: one\nrevision:\n  stx_patch: -1\n")
	meta("nover", "debname: nover\n")
	meta("x/do-not-build/y", "debver: [\n")

	tr, err := Read(Config{Root: root, Codename: "trixie"})
	if err != nil {
		t.Fatal(err)
	}
	list := "cgcs-root/stx/r/debian_trixie_pkg_dirs_std"
	m := func(dir string) string { return "cgcs-root/stx/r/" + dir + "/debian/all/meta_data.yaml" }
	want := []string{
		m("badtypes") + ":2:9: error: serial: expected true or false",
		m("badtypes") + ":3:12: error: src_files: expected a list",
		m("badtypes") + ":5:14: error: revision.stx_patch: expected a whole number >= 0",
		list + ":3:1: warning: directory cgcs-root/stx/r/missing does not exist; StarlingX's tools drop this entry without a word",
		list + ":4:1: error: \"/etc\" is an absolute path",
		list + ":5:1: error: \"../../../../\" leads outside the tree",
		list + ":6:1: error: \"escape\" leads outside the tree",
		list + ":7:1: error: cgcs-root/stx/r/nometa has no meta_data.yaml (looked for cgcs-root/stx/r/nometa/debian/trixie/meta_data.yaml, cgcs-root/stx/r/nometa/debian/all/meta_data.yaml)",
		list + ":10:1: error: source \"same\" is listed twice: here (" + m("dup-b") + ") and at " + list + ":9 (" + m("dup-a") + ")",
		m("nover") + ":1:1: error: debver: missing (StarlingX requires it)",
		m("paths") + ":2:1: error: src_path: \"../../../../../../etc\" leads outside the tree",
		m("paths") + ":3:1: warning: src_files: \"${MY_REPO}/public-keys/k.crt\" is outside the repo r (cgcs-root/public-keys/k.crt)",
		m("sums") + ":3:3: warning: dl_path: md5sum only",
		m("sums") + ":8:5: error: dl_files.b.tar.gz: no sha256sum (nor md5sum)",
		m("sums") + ":11:5: error: dl_files.c.tar.gz.sha256sum: not a sha256",
		m("typos") + ":2:1: warning: achive: unknown key; StarlingX's tools ignore it (did you mean \"archive\"?): without archive the source is fetched by name=version",
		m("typos") + ":3:1: warning: deb_name: unknown key; StarlingX's tools ignore it (did you mean \"debname\"?): without debname the source name is the directory's name",
		m("typos") + ":4:1: warning: dist: belongs under revision:",
		m("typos") + ":7:3: warning: revision.PKG_GITREVCONT: unknown key; StarlingX's tools ignore it (did you mean \"PKG_GITREVCOUNT\"?)",
	}
	var got []string
	for _, d := range tr.Diagnostics {
		got = append(got, d.String())
	}
	if len(got) != len(want) {
		t.Errorf("%d diagnostics, want %d:\n%s", len(got), len(want), strings.Join(got, "\n"))
	}
	for i := range min(len(got), len(want)) {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("diagnostic %d:\n got %s\nwant %s...", i, got[i], want[i])
		}
	}
	var names []string
	for _, p := range tr.Packages {
		names = append(names, p.Name)
	}
	// typos: deb_name is ignored, so the name is the directory's; paths is
	// left out (its src_path leaves the tree); the sums and badtypes
	// problems concern fields, not the package's identity.
	if got, want := strings.Join(names, " "), "good typos same sums badtypes"; got != want {
		t.Errorf("packages %q, want %q", got, want)
	}
	if k := tr.Package("typos").Kind; k != KindApt {
		t.Errorf("typos: kind %s, want %s (achive: is ignored)", k, KindApt)
	}
}
