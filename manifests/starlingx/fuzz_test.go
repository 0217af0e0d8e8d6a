package starlingx

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParseMeta feeds meta_data.yaml files to the decoder: it must never
// panic, and a file it accepts has a debver.
func FuzzParseMeta(f *testing.F) {
	for _, s := range []string{
		"debver: 1.0-1\n",
		"debname: x\ndebver: 2@\narchive: https://example.invalid/pool/\ndsc_sha256: 00\n",
		"debver: 1\ndl_path:\n  name: a\n  url: u\n  md5sum: 0\ndl_files:\n  b:\n    topdir: null\n    url: u\n",
		"debver: 1\nsrc_path: null\nsrc_files: [a, b]\nrevision:\n  dist: $STX_DIST\n  GITREVCOUNT:\n    BASE_SRCREV: x\n    SRC_DIR: y\n  stx_patch: 3\n",
		"- a\n- b\n", "", "{", "debver: [",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var ds Diagnostics
		m, ok := parseMeta(data, "meta_data.yaml", &ds)
		if ok && (m == nil || m.DebVer == "") {
			t.Fatalf("accepted without debver: %q", data)
		}
		if ok {
			_ = m.Kind()
			_ = m.UpstreamVersion()
		}
	})
}

// FuzzParseShellVars feeds image definitions to the variable reader.
func FuzzParseShellVars(f *testing.F) {
	for _, s := range []string{"BUILDER=loci\nLABEL=x\n", "A=\"b \\\n c\"\n# x\n", "=\n'", "A='unterminated"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { parseShellVars(s) })
}

// TestRefusesSpecialFiles: a FIFO named meta_data.yaml or as a package
// list is refused, never read (it would block).
func TestRefusesSpecialFiles(t *testing.T) {
	root := t.TempDir()
	repo := filepath.Join(root, "cgcs-root", "stx", "r")
	write(t, filepath.Join(repo, "debian_trixie_pkg_dirs_std"), "p\n")
	if err := os.MkdirAll(filepath.Join(repo, "p", "debian", "all"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := mkfifo(filepath.Join(repo, "p", "debian", "all", MetaFile)); err != nil {
		t.Skip(err)
	}
	tr, err := Read(Config{Root: root, Codename: "trixie"})
	if err != nil {
		t.Fatal(err)
	}
	if len(tr.Packages) != 0 || len(tr.Diagnostics.Errors()) != 1 {
		t.Errorf("got %s", describe(tr))
	}
}
