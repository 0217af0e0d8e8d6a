package workspace

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// tarGz makes a .tar.gz of files (path -> content).
func tarGz(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for name, content := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(content)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(content))
	}
	tw.Close()
	gz.Close()
	return buf.Bytes()
}

func sum(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

// TestStarlingXDLPath prepares a dl_path package: the tarball fetched and
// verified, its top directory stripped, dl_files copied or unpacked into
// their topdir, deb_folder over debian/, deb_patches applied; and a
// package whose URL does not answer is unresolved with the reason.
func TestStarlingXDLPath(t *testing.T) {
	main := tarGz(t, map[string]string{"tool-1.0/main.c": "int main(){}\n"})
	extra := []byte("extra file\n")
	sub := tarGz(t, map[string]string{"lib-abc/lib.c": "lib\n"})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/tool-1.0.tar.gz":
			w.Write(main)
		case "/extra.txt":
			w.Write(extra)
		case "/lib.tar.gz":
			w.Write(sub)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()

	root := t.TempDir()
	repo := filepath.Join(root, "cgcs-root", "stx", "r")
	d := filepath.Join(repo, "tool", "debian", "all")
	write(t, filepath.Join(repo, "debian_trixie_pkg_dirs_std"), "tool\ngone\n")
	write(t, filepath.Join(d, "meta_data.yaml"), "debver: 1.0-1\ndebname: tool\ndl_path:\n  name: tool-1.0.tar.gz\n  url: "+srv.URL+"/tool-1.0.tar.gz\n  sha256sum: "+sum(main)+
		"\ndl_files:\n  extra.txt:\n    topdir: null\n    url: "+srv.URL+"/extra.txt\n    sha256sum: "+sum(extra)+
		"\n  lib.tar.gz:\n    topdir: lib\n    url: "+srv.URL+"/lib.tar.gz\n    sha256sum: "+sum(sub)+"\n")
	write(t, filepath.Join(d, "deb_folder", "control"), "Source: tool\nBuild-Depends: debhelper-compat (= 13)\n\nPackage: tool\nArchitecture: any\nDescription: t\n x\n")
	write(t, filepath.Join(d, "deb_folder", "changelog"), "tool (1.0-1) unstable; urgency=medium\n\n  * x\n\n -- A <a@b.c>  Thu, 16 Apr 2026 13:49:15 -0400\n")
	write(t, filepath.Join(d, "deb_patches", "series"), "size.patch\n")
	write(t, filepath.Join(d, "deb_patches", "size.patch"), "--- a/debian/control\n+++ b/debian/control\n@@ -1,2 +1,3 @@\n Source: tool\n Build-Depends: debhelper-compat (= 13)\n+XS-Build-Size: 1GB\n")
	g := filepath.Join(repo, "gone", "debian", "all")
	write(t, filepath.Join(g, "meta_data.yaml"), "debver: 2.0\ndl_path:\n  name: gone.tar.gz\n  url: "+srv.URL+"/gone.tar.gz\n  sha256sum: "+strings.Repeat("a", 64)+"\n")

	proj := t.TempDir()
	write(t, filepath.Join(proj, "stx.yaml"), "name: s\nsuite: trixie\narchitectures: [amd64]\nstarlingx:\n  root: "+root+"\n")
	w, err := Open(Options{Dir: proj, CacheDir: t.TempDir(), HostArch: "amd64"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = w.Prepare(context.Background())
	var ue *UnresolvedError
	if !errors.As(err, &ue) || len(ue.Packages) != 1 || ue.Packages[0].Package != "gone" || !strings.Contains(ue.Packages[0].Reason, "404") {
		t.Fatalf("Prepare: %v, want gone unresolved (404)", err)
	}
	var tool *Prepared
	// Prepare does not keep a partial result: prepare the one package.
	for _, pkg := range w.Project.PackageList {
		if pkg.Name == "tool" {
			sp, _ := w.stxPackage(pkg)
			var reason string
			tool, reason, err = w.prepareStarlingX(context.Background(), w.fetcherFor(nil), pkg, sp, true)
			if err != nil || reason != "" {
				t.Fatalf("tool: %v %s", err, reason)
			}
		}
	}
	dir := tool.Fetched.Dir
	for name, want := range map[string]string{"main.c": "int main(){}\n", "extra.txt": "extra file\n", "lib/lib.c": "lib\n"} {
		if got, err := os.ReadFile(filepath.Join(dir, name)); err != nil || string(got) != want {
			t.Errorf("%s: %q %v", name, got, err)
		}
	}
	// Without revision: the changelog's version, as debrepack.py keeps it.
	if tool.Source.Version != "1.0-1" || tool.Package.Build.Tmpfs != "1GB" {
		t.Errorf("version %s, tmpfs %q; want 1.0-1 and 1GB (from the deb_patches)", tool.Source.Version, tool.Package.Build.Tmpfs)
	}
}

// TestStarlingXAssembleDebian unpacks a .dsc as an archive package's
// fetched source and checks deb_folder, deb_patches and the version.
func TestStarlingXAssembleDebian(t *testing.T) {
	if _, err := exec.LookPath("dpkg-source"); err != nil {
		t.Skip("dpkg-source not installed")
	}
	// The "fetched" source: a native package made here.
	srcDir := filepath.Join(t.TempDir(), "arc-1.0")
	write(t, filepath.Join(srcDir, "debian", "control"), "Source: arc\nBuild-Depends: debhelper-compat (= 13)\n\nPackage: arc\nArchitecture: all\nDescription: a\n b\n")
	write(t, filepath.Join(srcDir, "debian", "changelog"), "arc (1.0) unstable; urgency=medium\n\n  * x\n\n -- A <a@b.c>  Thu, 16 Apr 2026 13:49:15 -0400\n")
	write(t, filepath.Join(srcDir, "debian", "source", "format"), "3.0 (native)\n")
	write(t, filepath.Join(srcDir, "debian", "rules"), "#!/usr/bin/make -f\n%:\n\tdh $@\n")
	cmd := exec.Command("dpkg-source", "-b", "arc-1.0")
	cmd.Dir = filepath.Dir(srcDir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("dpkg-source -b: %v\n%s", err, out)
	}
	dsc := filepath.Join(filepath.Dir(srcDir), "arc_1.0.dsc")

	root := t.TempDir()
	repo := filepath.Join(root, "cgcs-root", "stx", "r")
	d := filepath.Join(repo, "arc", "debian", "all")
	write(t, filepath.Join(repo, "debian_trixie_pkg_dirs_std"), "arc\n")
	write(t, filepath.Join(d, "meta_data.yaml"), "debver: 1.0\narchive: https://example.invalid/pool/main/a/arc/\nrevision:\n  dist: $STX_DIST\n  stx_patch: 1\n")
	write(t, filepath.Join(d, "deb_folder", "arc.conf"), "conf\n")
	write(t, filepath.Join(d, "deb_patches", "series"), "size.patch\n")
	write(t, filepath.Join(d, "deb_patches", "size.patch"), "--- a/debian/control\n+++ b/debian/control\n@@ -1,2 +1,3 @@\n Source: arc\n Build-Depends: debhelper-compat (= 13)\n+XS-Build-Size: 3GB\n")
	proj := t.TempDir()
	write(t, filepath.Join(proj, "stx.yaml"), "name: s\nsuite: trixie\narchitectures: [amd64]\nstarlingx:\n  root: "+root+"\n")
	w, err := Open(Options{Dir: proj, CacheDir: t.TempDir(), HostArch: "amd64"})
	if err != nil {
		t.Fatal(err)
	}
	sp := w.StarlingX().Package("arc")
	dir, err := w.assembleDebian(context.Background(), sp, dsc)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "debian", "arc.conf")); string(got) != "conf\n" {
		t.Errorf("deb_folder not overlaid: %q", got)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "debian", "control")); !strings.Contains(string(got), "XS-Build-Size: 3GB") {
		t.Errorf("deb_patches not applied:\n%s", got)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "debian", "changelog")); !strings.HasPrefix(string(got), "arc (1.0.stx.1) stable;") {
		t.Errorf("changelog:\n%s", got)
	}
}

// TestStarlingXHostileSource: a src_path holding a symlink out of the tree
// leaves that package unresolved; nothing outside is copied.
func TestStarlingXHostileSource(t *testing.T) {
	root := t.TempDir()
	repo := filepath.Join(root, "cgcs-root", "stx", "r")
	d := filepath.Join(repo, "evil", "debian", "all")
	write(t, filepath.Join(repo, "debian_trixie_pkg_dirs_std"), "evil\n")
	write(t, filepath.Join(d, "meta_data.yaml"), "debver: 1.0\nsrc_path: src\n")
	write(t, filepath.Join(d, "deb_folder", "control"), "Source: evil\n\nPackage: evil\nArchitecture: all\nDescription: a\n b\n")
	write(t, filepath.Join(d, "deb_folder", "changelog"), "evil (1.0) unstable; urgency=medium\n\n  * x\n\n -- A <a@b.c>  Thu, 16 Apr 2026 13:49:15 -0400\n")
	write(t, filepath.Join(repo, "evil", "src", "ok.txt"), "ok\n")
	secret := filepath.Join(t.TempDir(), "secret")
	write(t, secret, "secret\n")
	if err := os.Symlink(secret, filepath.Join(repo, "evil", "src", "leak")); err != nil {
		t.Fatal(err)
	}
	proj := t.TempDir()
	write(t, filepath.Join(proj, "stx.yaml"), "name: s\nsuite: trixie\narchitectures: [amd64]\nstarlingx:\n  root: "+root+"\n")
	w, err := Open(Options{Dir: proj, CacheDir: t.TempDir(), HostArch: "amd64"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = w.Prepare(context.Background())
	var ue *UnresolvedError
	if !errors.As(err, &ue) || len(ue.Packages) != 1 || !strings.Contains(ue.Packages[0].Reason, "leads outside the tree") {
		t.Fatalf("Prepare: %v, want evil unresolved (a link out of the tree)", err)
	}
	if strings.Contains(err.Error(), "secret\n") {
		t.Error("the secret's content reached the message")
	}
}

func TestMergeIndepControl(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"merged", "Source: fm-mgr\nBuild-Depends: debhelper-compat (= 13),\n libfoo-dev\nBuild-Depends-Indep: uuid-dev,\n fm-common-dev\nStandards-Version: 4.5.1\n\nPackage: fm-mgr\nArchitecture: any\n",
			"Source: fm-mgr\nBuild-Depends: debhelper-compat (= 13),\n libfoo-dev,\n uuid-dev,\n fm-common-dev\nStandards-Version: 4.5.1\n\nPackage: fm-mgr\nArchitecture: any\n"},
		{"no Build-Depends", "Source: a\nBuild-Depends-Indep: b\n\nPackage: a\nArchitecture: any\n",
			"Source: a\nBuild-Depends: b\n\nPackage: a\nArchitecture: any\n"},
		{"arch all kept", "Source: a\nBuild-Depends: c\nBuild-Depends-Indep: b\n\nPackage: a\nArchitecture: all\n",
			"Source: a\nBuild-Depends: c\nBuild-Depends-Indep: b\n\nPackage: a\nArchitecture: all\n"},
	} {
		f := filepath.Join(t.TempDir(), "control")
		write(t, f, tc.in)
		if err := mergeIndepControl(f); err != nil {
			t.Fatal(err)
		}
		if got, _ := os.ReadFile(f); string(got) != tc.want {
			t.Errorf("%s:\n got %q\nwant %q", tc.name, got, tc.want)
		}
	}
}
