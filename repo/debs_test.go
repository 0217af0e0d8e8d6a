package repo

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// golden compares got with testdata/name.golden (or rewrites it with -update).
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./repo -run %s -update to create it)", err, t.Name())
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test ./repo -update rewrites it):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// sourceDateEpoch is the fixed build time of the test packages.
const sourceDateEpoch = 1700000000

// testDate is the Release date the tests publish with.
var testDate = time.Unix(sourceDateEpoch, 0).UTC()

// pkg describes a tiny binary package built by dpkg-deb.
type pkg struct {
	name, version, arch string
	source              string // Source field ("" for none)
	udeb                bool
	fields              string // further control fields, each line ending in "\n"
	payload             string // the content of its one file; varies a rebuild
}

// The test packages: a library, its -dev package, an arch-all package
// whose source carries a different version, a udeb, and one for another
// architecture.
var (
	libstx1 = pkg{name: "libstx1", version: "1.0-1", arch: "amd64", source: "libstx",
		fields: "Multi-Arch: same\nDepends: libc6 (>= 2.36)\nSection: libs\nPriority: optional\n"}
	libstxDev = pkg{name: "libstx-dev", version: "1.0-1", arch: "amd64", source: "libstx",
		fields: "Depends: libstx1 (= 1.0-1)\nSection: libdevel\nPriority: optional\n"}
	stxData = pkg{name: "stx-data", version: "1:1.2-1", arch: "all", source: "stx-tools (1:1.2-1)",
		fields: "Section: misc\nPriority: optional\n"}
	stxInstaller = pkg{name: "stx-installer", version: "1:1.2-1", arch: "amd64", source: "stx-tools", udeb: true,
		fields: "Section: debian-installer\nPriority: standard\nPackage-Type: udeb\n"}
	stxToolArm64 = pkg{name: "stx-tool", version: "1:1.2-1", arch: "arm64", source: "stx-tools",
		fields: "Section: misc\n"}
)

// fixedTime is the mtime of every file in the test packages' trees.
var fixedTime = time.Unix(sourceDateEpoch, 0)

// needDpkgDeb skips the test without dpkg-deb.
func needDpkgDeb(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("dpkg-deb"); err != nil {
		t.Skip("dpkg-deb not found")
	}
}

// buildDeb builds p with dpkg-deb into dir and returns the file's path.
// compress is dpkg-deb's -Z (the golden tests use "none": its output does
// not depend on the compressor's version).
func buildDeb(t *testing.T, dir string, p pkg, compress string) string {
	t.Helper()
	needDpkgDeb(t)
	payload := p.payload
	if payload == "" {
		payload = p.name + " " + p.version + "\n"
	}
	root := filepath.Join(t.TempDir(), "root")
	doc := filepath.Join(root, "usr/share/doc", p.name)
	ctl := fmt.Sprintf("Package: %s\n", p.name)
	if p.source != "" {
		ctl += fmt.Sprintf("Source: %s\n", p.source)
	}
	ctl += fmt.Sprintf("Version: %s\nArchitecture: %s\nMaintainer: stx-build tests <tests@stx-build.invalid>\nInstalled-Size: 1\n", p.version, p.arch)
	ctl += p.fields
	ctl += fmt.Sprintf("Description: test package %s\n A package built by the repo tests.\n .\n   It has one file.\n", p.name)
	files := map[string]string{
		filepath.Join(root, "DEBIAN/control"): ctl,
		filepath.Join(doc, "README"):          payload,
	}
	for path, data := range files {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// Fixed modes and times: the package's bytes must not depend on the
	// umask or on when the test runs.
	err := filepath.Walk(root, func(path string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		mode := os.FileMode(0o644)
		if fi.IsDir() {
			mode = 0o755
		}
		if err := os.Chmod(path, mode); err != nil {
			return err
		}
		return os.Chtimes(path, fixedTime, fixedTime)
	})
	if err != nil {
		t.Fatal(err)
	}
	ext := ".deb"
	if p.udeb {
		ext = ".udeb"
	}
	name := strings.ReplaceAll(fmt.Sprintf("%s_%s_%s%s", p.name, p.version, p.arch, ext), ":", "%3a")
	out := filepath.Join(dir, name)
	cmd := exec.Command("dpkg-deb", "--root-owner-group", "-Z"+compress, "--build", root, out)
	cmd.Env = append(os.Environ(), fmt.Sprintf("SOURCE_DATE_EPOCH=%d", sourceDateEpoch))
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb --build %s: %v\n%s", p.name, err, msg)
	}
	return out
}

// buildDebs builds each package into a new directory.
func buildDebs(t *testing.T, compress string, pkgs ...pkg) []string {
	t.Helper()
	dir := t.TempDir()
	var out []string
	for _, p := range pkgs {
		out = append(out, buildDeb(t, dir, p, compress))
	}
	return out
}

// distsFiles are the index files every repository has, relative to dists/.
var distsFiles = []string{
	"stx/Release",
	"stx/main/binary-amd64/Packages",
	"stx/main/binary-amd64/Packages.gz",
	"stx/main/debian-installer/binary-amd64/Packages",
	"stx/main/debian-installer/binary-amd64/Packages.gz",
}

// readDists returns the live index files of r, read through the dists
// symlink as apt does.
func readDists(t *testing.T, r *Repo) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for _, f := range distsFiles {
		f = strings.ReplaceAll(f, "amd64", r.Arch())
		data, err := os.ReadFile(filepath.Join(r.Dir(), "dists", f))
		if err != nil {
			t.Fatal(err)
		}
		out[f] = data
	}
	return out
}

// poolFiles lists the files under r's pool, relative to r.Dir(), sorted.
func poolFiles(t *testing.T, r *Repo) []string {
	t.Helper()
	var out []string
	err := filepath.Walk(filepath.Join(r.Dir(), "pool"), func(path string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(r.Dir(), path)
		out = append(out, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// topLevel lists r.Dir()'s entries, sorted.
func topLevel(t *testing.T, r *Repo) []string {
	t.Helper()
	entries, err := os.ReadDir(r.Dir())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}
