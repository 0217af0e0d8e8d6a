package manifests

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// secretMarker is in the secret file outside the project: no error may
// show it.
const secretMarker = "Zq9-S3CR3T-LINE"

// secretShadow looks like /etc/shadow, which also parses as YAML (one long
// string).
const secretShadow = "root:$y$j9T$" + secretMarker + ":19700:0:99999:7:::\ndaemon:*:19700:0:99999:7:::\n"

// hostileTree is one throwaway project, proj, with a directory outside it
// that holds a secret.
type hostileTree struct {
	t       *testing.T
	proj    string // base/a/b/proj
	outside string // base/outside
	secret  string // base/outside/shadow
}

// newHostileTree writes a valid project that uses every kind of path a
// manifest may name: a package with a local source and a patch, a kernel
// package with a tarball and config files, an image and an ISO with an
// extra file.
func newHostileTree(t *testing.T) *hostileTree {
	base := t.TempDir()
	h := &hostileTree{t: t, proj: filepath.Join(base, "a", "b", "proj"), outside: filepath.Join(base, "outside")}
	h.secret = filepath.Join(h.outside, "shadow")
	h.writeAt(h.secret, secretShadow)
	h.writeAt(filepath.Join(h.outside, "evil", "package.yaml"), "name: evil\nsource: {local: .}\n# "+secretMarker+"\n")
	h.writeAt(filepath.Join(h.outside, "evil", "debian", "control"), "Source: evil\n")
	h.writeAt(filepath.Join(h.outside, "images", "x.yaml"), "packages: [hello]\n# "+secretMarker+"\n")
	h.write("stx.yaml", "name: demo\nsuite: bookworm\narchitectures: [amd64]\npackages: [packages]\n")
	h.write("packages/hello/package.yaml", "name: hello\nsource:\n  local: src\npatches: [patches/a.patch]\n")
	h.write("packages/hello/src/debian/control", "Source: hello\n")
	h.write("packages/hello/patches/a.patch", "--- a/x\n+++ b/x\n")
	h.write("packages/linux/package.yaml", `name: linux
source:
  kernel:
    version: 6.1.1-1
    tarball: {file: linux.tar.xz, sha256: `+strings.Repeat("0", 64)+`}
    config:
      amd64: {base: base.config, fragments: [frag.config]}
`)
	h.write("packages/linux/linux.tar.xz", "tarball")
	h.write("packages/linux/base.config", "CONFIG_X=y\n")
	h.write("packages/linux/frag.config", "CONFIG_Y=y\n")
	h.write("images/base.yaml", "packages: [hello]\n")
	h.write("iso.yaml", "label: DEMO\npackages: [hello]\nfiles:\n  - {src: extra/readme, dest: /README}\n")
	h.write("extra/readme", "hello\n")
	return h
}

func (h *hostileTree) path(rel string) string { return filepath.Join(h.proj, filepath.FromSlash(rel)) }

func (h *hostileTree) writeAt(path, content string) {
	h.t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		h.t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		h.t.Fatal(err)
	}
}

func (h *hostileTree) write(rel, content string) { h.t.Helper(); h.writeAt(h.path(rel), content) }

// replace removes rel (a file or a tree) so that something else can take
// its place.
func (h *hostileTree) replace(rel string) string {
	h.t.Helper()
	p := h.path(rel)
	if err := os.RemoveAll(p); err != nil {
		h.t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		h.t.Fatal(err)
	}
	return p
}

func (h *hostileTree) symlink(rel, target string) {
	h.t.Helper()
	if err := os.Symlink(target, h.replace(rel)); err != nil {
		h.t.Fatal(err)
	}
}

func (h *hostileTree) fifo(rel string) {
	h.t.Helper()
	if err := syscall.Mkfifo(h.replace(rel), 0o644); err != nil {
		h.t.Fatal(err)
	}
}

func (h *hostileTree) socket(rel string) {
	h.t.Helper()
	if err := syscall.Mknod(h.replace(rel), syscall.S_IFSOCK|0o644, 0); err != nil {
		h.t.Skipf("cannot make a socket node: %v", err)
	}
}

func (h *hostileTree) dir(rel string) {
	h.t.Helper()
	if err := os.MkdirAll(h.replace(rel), 0o755); err != nil {
		h.t.Fatal(err)
	}
}

// edit rewrites rel with old replaced by new.
func (h *hostileTree) edit(rel, old, new string) {
	h.t.Helper()
	data, err := os.ReadFile(h.path(rel))
	if err != nil {
		h.t.Fatal(err)
	}
	if !strings.Contains(string(data), old) {
		h.t.Fatalf("%s has no %q", rel, old)
	}
	h.write(rel, strings.Replace(string(data), old, new, 1))
}

// loadAll loads the project, its images and its ISO, returning the first
// error.
func loadAll(dir string) error {
	p, err := Load(dir)
	if err != nil {
		return err
	}
	if _, err := LoadImages(p); err != nil {
		return err
	}
	_, err = LoadISO(p)
	return err
}

// loadWithin is loadAll that gives up after d: a loader that opens a FIFO
// blocks for good.
func loadWithin(dir string, d time.Duration) (err error, hung bool) {
	done := make(chan error, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				done <- fmt.Errorf("panic: %v", r)
			}
		}()
		done <- loadAll(dir)
	}()
	select {
	case err := <-done:
		return err, false
	case <-time.After(d):
		return nil, true
	}
}

type hostileCase struct {
	name  string
	setup func(h *hostileTree)
	// want is part of the message that must refuse it.
	want string
}

// The files a manifest loader reads or checks, and what each must be.
var hostileFiles = []struct {
	rel     string
	wantDir bool
}{
	{"stx.yaml", false},
	{"packages/hello/package.yaml", false},
	{"images/base.yaml", false},
	{"iso.yaml", false},
	{"packages/hello/patches/a.patch", false},
	{"packages/hello/src/debian/control", false},
	{"packages/linux/base.config", false},
	{"packages/linux/frag.config", false},
	{"packages/linux/linux.tar.xz", false},
	{"extra/readme", false},
}

// hostileCases is the corpus: every file the loader touches replaced by a
// FIFO, a device, a socket, a directory or a symlink out of the tree;
// paths that climb out of the project; huge files and fields; and files
// that are no manifest at all.
func hostileCases() []hostileCase {
	var cases []hostileCase
	for _, f := range hostileFiles {
		f := f
		kinds := []hostileCase{
			{"fifo", func(h *hostileTree) { h.fifo(f.rel) }, "named pipe"},
			{"dev-zero", func(h *hostileTree) { h.symlink(f.rel, "/dev/zero") }, "leads outside"},
			{"dev-null", func(h *hostileTree) { h.symlink(f.rel, "/dev/null") }, "leads outside"},
			{"socket", func(h *hostileTree) { h.socket(f.rel) }, "socket"},
			{"secret-symlink", func(h *hostileTree) { h.symlink(f.rel, h.secret) }, "leads outside"},
			{"relative-secret-symlink", func(h *hostileTree) {
				rel, _ := filepath.Rel(filepath.Dir(h.path(f.rel)), h.secret)
				h.symlink(f.rel, rel)
			}, "leads outside"},
			{"etc-passwd", func(h *hostileTree) { h.symlink(f.rel, "/etc/passwd") }, "leads outside"},
			{"symlink-loop", func(h *hostileTree) { h.symlink(f.rel, filepath.Base(f.rel)) }, "too many links"},
		}
		if f.rel != "extra/readme" { // the ISO takes directories too
			kinds = append(kinds, hostileCase{"directory", func(h *hostileTree) { h.dir(f.rel) }, "not a"})
		}
		for _, k := range kinds {
			cases = append(cases, hostileCase{f.rel + "/" + k.name, k.setup, k.want})
		}
	}
	// A FIFO met through a symlink inside the project.
	cases = append(cases, hostileCase{"stx.yaml/symlink-to-fifo", func(h *hostileTree) {
		h.fifo("fifo")
		h.symlink("stx.yaml", "fifo")
	}, "named pipe"})
	return append(cases, hostileTraversals()...)
}

// hostileTraversals are paths in manifests that climb out of the project,
// and files too large or not manifests at all.
func hostileTraversals() []hostileCase {
	const etc = "../../../../../../../../../../etc"
	huge := strings.Repeat("x", 20<<20)
	long := strings.Repeat("y", 100<<10)
	return []hostileCase{
		{"packages-etc", func(h *hostileTree) { h.edit("stx.yaml", "[packages]", "[packages, "+etc+"]") }, "leads outside"},
		{"packages-outside", func(h *hostileTree) { h.edit("stx.yaml", "[packages]", "[packages, ../../../outside]") }, "leads outside"},
		{"packages-glob-outside", func(h *hostileTree) { h.edit("stx.yaml", "[packages]", "[packages, ../../../out*]") }, "leads outside"},
		{"packages-symlinked-dir", func(h *hostileTree) {
			h.symlink("shared", h.outside)
			h.edit("stx.yaml", "[packages]", "[packages, shared]")
		}, "leads outside"},
		{"package-dir-symlink", func(h *hostileTree) { h.symlink("packages/evil", filepath.Join(h.outside, "evil")) }, "leads outside"},
		{"package-yaml-symlink-outside", func(h *hostileTree) {
			h.symlink("packages/hello/package.yaml", filepath.Join(h.outside, "evil", "package.yaml"))
		}, "leads outside"},
		{"packages-default-symlink", func(h *hostileTree) { h.symlink("packages", h.outside) }, "leads outside"},
		{"local-outside", func(h *hostileTree) {
			h.edit("packages/hello/package.yaml", "local: src", "local: ../../../../../outside")
		}, "leads outside"},
		{"local-etc", func(h *hostileTree) { h.edit("packages/hello/package.yaml", "local: src", "local: "+etc) }, "leads outside"},
		{"local-dotdot", func(h *hostileTree) { h.edit("packages/hello/package.yaml", "local: src", "local: ../../outside") }, "does not exist"},
		{"local-symlink", func(h *hostileTree) { h.symlink("packages/hello/src", filepath.Join(h.outside, "evil")) }, "leads outside"},
		{"local-control-symlink", func(h *hostileTree) { h.symlink("packages/hello/src/debian/control", h.secret) }, "leads outside"},
		{"patch-etc-passwd", func(h *hostileTree) {
			h.edit("packages/hello/package.yaml", "patches/a.patch", etc+"/passwd")
		}, "leads outside"},
		{"patch-dotdot-passwd", func(h *hostileTree) {
			h.edit("packages/hello/package.yaml", "patches/a.patch", "../../etc/passwd")
		}, "does not exist"},
		{"patch-secret", func(h *hostileTree) {
			h.edit("packages/hello/package.yaml", "patches/a.patch", "../../../../../outside/shadow")
		}, "leads outside"},
		{"patch-etc-shadow-symlink", func(h *hostileTree) { h.symlink("packages/hello/patches/a.patch", "/etc/shadow") }, "leads outside"},
		{"patch-huge", func(h *hostileTree) {
			f, err := os.Create(h.path("packages/hello/patches/a.patch"))
			if err == nil {
				err = f.Truncate(MaxPatchSize + 1) // sparse: nothing is written
				f.Close()
			}
			if err != nil {
				h.t.Fatal(err)
			}
		}, "too large"},
		{"tarball-outside", func(h *hostileTree) {
			h.edit("packages/linux/package.yaml", "file: linux.tar.xz", "file: ../../../../../outside/shadow")
		}, "leads outside"},
		{"config-base-etc", func(h *hostileTree) {
			h.edit("packages/linux/package.yaml", "base: base.config", "base: "+etc+"/passwd")
		}, "leads outside"},
		{"config-fragment-outside", func(h *hostileTree) {
			h.edit("packages/linux/package.yaml", "[frag.config]", "[../../../../../outside/shadow]")
		}, "leads outside"},
		{"iso-src-outside", func(h *hostileTree) { h.edit("iso.yaml", "src: extra/readme", "src: ../../../outside/shadow") }, "leads outside"},
		{"iso-src-etc", func(h *hostileTree) { h.edit("iso.yaml", "src: extra/readme", "src: "+etc) }, "leads outside"},
		{"iso-src-dir-symlink", func(h *hostileTree) {
			h.symlink("extra", h.outside)
			h.edit("iso.yaml", "src: extra/readme", "src: extra/shadow")
		}, "leads outside"},
		{"images-dir-symlink", func(h *hostileTree) { h.symlink("images", filepath.Join(h.outside, "images")) }, "leads outside"},
		{"signing-key-fifo", func(h *hostileTree) {
			h.fifo("packages/linux/key.pem")
			h.edit("packages/linux/package.yaml", "    config:", "    module-signing-key: key.pem\n    config:")
		}, "named pipe"},
		{"signing-key-dev-zero", func(h *hostileTree) {
			h.edit("packages/linux/package.yaml", "    config:", "    module-signing-key: /dev/zero\n    config:")
		}, "character device"},
		{"signing-key-secret", func(h *hostileTree) {
			h.edit("packages/linux/package.yaml", "    config:", "    module-signing-key: "+h.secret+"\n    config:")
		}, "no PEM private key"},
		{"allow-outside-root", func(h *hostileTree) {
			h.edit("stx.yaml", "packages: [packages]", "packages: [packages, "+etc+"]\nallow-outside: ["+etc+"/..]")
		}, "root directory"},
		{"allow-outside-absolute", func(h *hostileTree) {
			h.edit("stx.yaml", "packages: [packages]", "packages: [packages]\nallow-outside: [/etc]")
		}, "must be a path relative"},
		{"allow-outside-still-no-fifo", func(h *hostileTree) {
			if err := syscall.Mkfifo(filepath.Join(h.outside, "p.patch"), 0o644); err != nil {
				h.t.Fatal(err)
			}
			h.edit("stx.yaml", "packages: [packages]", "packages: [packages]\nallow-outside: [../../../outside]")
			h.edit("packages/hello/package.yaml", "patches/a.patch", "../../../../../outside/p.patch")
		}, "named pipe"},
		{"allow-outside-dev-zero-patch", func(h *hostileTree) {
			h.edit("stx.yaml", "packages: [packages]", "packages: [packages]\nallow-outside: ["+etc+"/../dev]")
			h.edit("packages/hello/package.yaml", "patches/a.patch", etc+"/../dev/zero")
		}, "character device"},
		{"device-node-stx-yaml", func(h *hostileTree) {
			if err := syscall.Mknod(h.replace("stx.yaml"), syscall.S_IFCHR|0o644, 1<<8|5); err != nil {
				h.t.Skipf("cannot make a device node: %v", err)
			}
		}, "character device"},
		{"device-node-package-yaml", func(h *hostileTree) {
			if err := syscall.Mknod(h.replace("packages/hello/package.yaml"), syscall.S_IFCHR|0o644, 1<<8|5); err != nil {
				h.t.Skipf("cannot make a device node: %v", err)
			}
		}, "character device"},
		{"stx-yaml-20MiB-name", func(h *hostileTree) { h.edit("stx.yaml", "name: demo", "name: "+huge) }, "too large"},
		{"package-yaml-20MiB-name", func(h *hostileTree) { h.edit("packages/hello/package.yaml", "name: hello", "name: "+huge) }, "too large"},
		{"image-20MiB-package", func(h *hostileTree) { h.edit("images/base.yaml", "[hello]", "["+huge+"]") }, "too large"},
		{"iso-20MiB-label", func(h *hostileTree) { h.edit("iso.yaml", "label: DEMO", "label: "+huge) }, "too large"},
		{"stx-yaml-long-name", func(h *hostileTree) { h.edit("stx.yaml", "name: demo", "name: "+long) }, "too long"},
		{"stx-yaml-long-key", func(h *hostileTree) { h.edit("stx.yaml", "name: demo", "name: demo\n? "+long+"\n: 1") }, "too long"},
		{"stx-yaml-long-reason", func(h *hostileTree) {
			h.edit("stx.yaml", "packages: [packages]", "packages: [packages]\ncycle-breaks: [{package: hello, binary: zz, reason: "+long+"}]")
		}, "too long"},
		{"package-long-name", func(h *hostileTree) { h.edit("packages/hello/package.yaml", "name: hello", "name: "+long) }, "too long"},
		{"package-long-patch", func(h *hostileTree) { h.edit("packages/hello/package.yaml", "patches/a.patch", long) }, "too long"},
		{"image-long-env", func(h *hostileTree) { h.write("images/base.yaml", "packages: [hello]\nenv: {A: "+long+"}\n") }, "too long"},
		{"iso-long-cmdline", func(h *hostileTree) { h.edit("iso.yaml", "label: DEMO", "label: DEMO\ncmdline: "+long) }, "too long"},
		{"stx-yaml-deep", func(h *hostileTree) {
			h.write("stx.yaml", "name: demo\nsuite: bookworm\narchitectures: [amd64]\nprofiles: "+strings.Repeat("[", 5000)+strings.Repeat("]", 5000)+"\n")
		}, ""},
		{"stx-yaml-billion-laughs", func(h *hostileTree) { h.write("stx.yaml", billionLaughs()) }, "expected a string"},
		{"stx-yaml-shadow-copy", func(h *hostileTree) { h.write("stx.yaml", secretShadow) }, "its name is not shown"},
		{"package-yaml-shadow-copy", func(h *hostileTree) { h.write("packages/hello/package.yaml", secretShadow) }, "its name is not shown"},
		{"image-shadow-copy", func(h *hostileTree) { h.write("images/base.yaml", secretShadow) }, "its name is not shown"},
		{"iso-shadow-copy", func(h *hostileTree) { h.write("iso.yaml", secretShadow) }, "its name is not shown"},
		{"stx-yaml-binary", func(h *hostileTree) { h.write("stx.yaml", "\x00\x01\xff"+secretMarker+"\x00") }, "invalid YAML"},
		{"stx-yaml-bad-utf8", func(h *hostileTree) { h.write("stx.yaml", "name: \xc3\x28"+secretMarker+"\n") }, "invalid YAML"},
		{"stx-yaml-alias-secret", func(h *hostileTree) { h.write("stx.yaml", "*"+secretMarker+"\n") }, "unknown anchor"},
		{"stx-yaml-tab-secret", func(h *hostileTree) { h.write("stx.yaml", "name: demo\n\t"+secretMarker+": x\n") }, "invalid YAML"},
		{"stx-yaml-string", func(h *hostileTree) { h.write("stx.yaml", secretMarker+"\n  "+secretMarker+"\n") }, "expected a mapping of fields, got a string"},
		{"stx-yaml-key-secret", func(h *hostileTree) { h.write("stx.yaml", "- "+secretMarker+"\n- x\n") }, "expected a mapping of fields, got a list"},
		{"stx-yaml-empty", func(h *hostileTree) { h.write("stx.yaml", "") }, "file is empty"},
		{"stx-yaml-missing", func(h *hostileTree) { h.replace("stx.yaml") }, "no such file"},
		{"stx-yaml-dangling", func(h *hostileTree) { h.symlink("stx.yaml", "nowhere") }, "no such file"},
		{"iso-yaml-dangling", func(h *hostileTree) { h.symlink("iso.yaml", "nowhere") }, "no such file"},
		{"package-yaml-dangling", func(h *hostileTree) { h.symlink("packages/hello/package.yaml", "nowhere") }, "no such file"},
	}
}

// billionLaughs is stx.yaml with aliases that repeat each other.
func billionLaughs() string {
	var b strings.Builder
	b.WriteString("name: demo\nsuite: bookworm\narchitectures: [amd64]\nx0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n")
	for i := 1; i < 9; i++ {
		fmt.Fprintf(&b, "x%d: &a%d [*a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d]\n", i, i, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1)
	}
	b.WriteString("profiles: *a8\n")
	return b.String()
}

// TestHostileManifests runs the corpus: each case must be refused within a
// few seconds with a short error that names the problem and shows nothing
// of the secret file.
func TestHostileManifests(t *testing.T) {
	h := newHostileTree(t)
	if err := loadAll(h.proj); err != nil {
		t.Fatalf("the untouched project does not load: %v", err)
	}
	cases := hostileCases()
	held := 0
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHostileTree(t)
			tc.setup(h)
			err, hung := loadWithin(h.proj, 10*time.Second)
			switch {
			case hung:
				t.Fatal("the loader hung")
			case err == nil:
				t.Fatal("accepted")
			case strings.HasPrefix(err.Error(), "panic:"):
				t.Fatal(err)
			case strings.Contains(err.Error(), secretMarker):
				t.Fatalf("the error shows the secret:\n%.300s", err)
			case len(err.Error()) > 4096:
				t.Fatalf("the error is %d bytes long:\n%.300s", len(err.Error()), err)
			case !strings.Contains(err.Error(), tc.want):
				t.Fatalf("error does not say %q:\n%v", tc.want, err)
			}
			checkErrorForm(t, err)
			held++
		})
	}
	t.Logf("hostile manifests: tried %d, held %d", len(cases), held)
	if len(cases) < 79 {
		t.Errorf("the corpus has %d cases, want at least 79", len(cases))
	}
}

// checkErrorForm checks that a refusal of a manifest is reported like
// every other problem: an *Error naming a file and a message.
func checkErrorForm(t *testing.T, err error) {
	t.Helper()
	var errs Errors
	if !errors.As(err, &errs) {
		// Only a manifest that cannot be read at all is an I/O error.
		if !strings.HasPrefix(err.Error(), "load ") {
			t.Errorf("not reported as manifest problems: %v", err)
		}
		return
	}
	for _, e := range errs {
		if e.File == "" || e.Msg == "" {
			t.Errorf("problem without file or message: %#v", e)
		}
	}
}

// A FIFO as stx.yaml is refused at once, even with a writer waiting.
func TestLoadFIFONeverOpened(t *testing.T) {
	h := newHostileTree(t)
	h.fifo("stx.yaml")
	err, hung := loadWithin(h.proj, 5*time.Second)
	if hung {
		t.Fatal("Load hung on a FIFO")
	}
	want := "stx.yaml: is a named pipe (FIFO), not a regular file"
	if err == nil || err.Error() != want {
		t.Errorf("Load: got %v, want %s", err, want)
	}
}

// The errors of a few hostile kinds in full: file, line, column and field,
// as for every other problem.
func TestHostileErrorForm(t *testing.T) {
	h := newHostileTree(t)
	h.edit("stx.yaml", "[packages]", "[packages, ../../../../../../../../../../etc]")
	h.dir("packages/dir/package.yaml")
	h.symlink("packages/hello/patches/a.patch", h.secret)
	h.edit("packages/hello/package.yaml", "local: src", "local: ../../outside")
	_, err := Load(h.proj)
	want := []string{
		`packages/dir/package.yaml: is a directory, not a regular file`,
		`packages/hello/package.yaml:3:10: source.local: directory "../../outside" does not exist`,
		`packages/hello/package.yaml:4:11: patches[0]: "patches/a.patch" leads outside the project directory (to ` + h.secret + `); to use it, list its directory in allow-outside in stx.yaml`,
		`stx.yaml:4:22: packages[1]: "../../../../../../../../../../etc" leads outside the project directory (to /etc); to use it, list its directory in allow-outside in stx.yaml`,
	}
	if err == nil || err.Error() != strings.Join(want, "\n") {
		t.Errorf("Load:\n%v\nwant:\n%s", err, strings.Join(want, "\n"))
	}
}

// allow-outside lets the project use a directory next to it, and only
// that one.
func TestAllowOutside(t *testing.T) {
	h := newHostileTree(t)
	h.writeAt(filepath.Join(h.outside, "shared", "p.patch"), "--- a\n+++ b\n")
	h.edit("packages/hello/package.yaml", "patches/a.patch", "../../../../../outside/shared/p.patch")
	if _, err := Load(h.proj); err == nil || !strings.Contains(err.Error(), "leads outside") {
		t.Fatalf("without allow-outside: got %v", err)
	}
	h.edit("stx.yaml", "packages: [packages]", "packages: [packages]\nallow-outside: [../../../outside/shared]")
	p, err := Load(h.proj)
	if err != nil {
		t.Fatalf("with allow-outside: %v", err)
	}
	if want := []string{"../../../outside/shared"}; strings.Join(p.AllowOutside, ",") != want[0] {
		t.Errorf("AllowOutside = %q, want %q", p.AllowOutside, want)
	}
	// The secret next to the allowed directory stays out of reach.
	h.edit("packages/hello/package.yaml", "outside/shared/p.patch", "outside/shared/../shadow")
	if _, err := Load(h.proj); err == nil || !strings.Contains(err.Error(), "leads outside the project directory and allow-outside") {
		t.Errorf("a sibling of the allowed directory: got %v", err)
	}
}
