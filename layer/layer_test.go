package layer

import (
	"archive/tar"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

var testEpoch = time.Unix(1704067200, 0).UTC() // 2024-01-01

// tree describes test files: path -> content; "dir/" makes a directory,
// "->target" a symlink, "=>other" a hard link to other.
type tree map[string]string

func makeTree(t *testing.T, root string, files tree, order []string) {
	t.Helper()
	if order == nil {
		for p := range files {
			order = append(order, p)
		}
	}
	for _, p := range order {
		c := files[p]
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		var err error
		switch {
		case strings.HasSuffix(p, "/"):
			err = os.MkdirAll(full, 0o755)
		case strings.HasPrefix(c, "->"):
			err = os.Symlink(strings.TrimPrefix(c, "->"), full)
		case strings.HasPrefix(c, "=>"):
			other := filepath.Join(root, strings.TrimPrefix(c, "=>"))
			if _, serr := os.Stat(other); serr != nil {
				os.MkdirAll(filepath.Dir(other), 0o755)
				os.WriteFile(other, []byte("linked\n"), 0o644)
			}
			err = os.Link(other, full)
		default:
			err = os.WriteFile(full, []byte(c), 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

type entry struct {
	Name, Link string
	Type       byte
	Mode       int64
	Uid, Gid   int
	Uname      string
	ModTime    int64
	Content    string
	PAX        map[string]string
	Dev        [2]int64
}

func readLayer(t *testing.T, file string) []entry {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	if zr.Header.Name != "" || !zr.Header.ModTime.IsZero() && zr.Header.ModTime.Unix() != 0 {
		t.Errorf("gzip header carries name %q / mtime %v", zr.Header.Name, zr.Header.ModTime)
	}
	tr := tar.NewReader(zr)
	var out []entry
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(tr)
		e := entry{Name: h.Name, Link: h.Linkname, Type: h.Typeflag, Mode: h.Mode, Uid: h.Uid, Gid: h.Gid,
			Uname: h.Uname + h.Gname, ModTime: h.ModTime.Unix(), Content: string(data), Dev: [2]int64{h.Devmajor, h.Devminor}}
		for k, v := range h.PAXRecords {
			if strings.HasPrefix(k, "SCHILY.xattr.") {
				if e.PAX == nil {
					e.PAX = map[string]string{}
				}
				e.PAX[k] = v
			}
		}
		out = append(out, e)
	}
	return out
}

func names(es []entry) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.Name)
	}
	return out
}

func TestWriteTree(t *testing.T) {
	long := strings.Repeat("d", 60) + "/" + strings.Repeat("f", 80)
	files := tree{
		"usr/bin/tool":       "#!/bin/sh\n",
		"usr/bin/tool-link":  "->tool",
		"usr/lib/a.so":       "lib",
		"usr/lib/b.so":       "=>usr/lib/a.so",
		"usr/lib/z/":         "",
		"etc/a.b":            "x",
		"etc/a/b":            "y",
		long:                 "long name",
		"var/empty/":         "",
		"usr/share/doc/x/cr": "copyright",
	}
	var digests []string
	for i, order := range [][]string{nil, {"var/empty/", long, "etc/a/b", "etc/a.b", "usr/lib/z/", "usr/share/doc/x/cr", "usr/bin/tool", "usr/bin/tool-link", "usr/lib/a.so", "usr/lib/b.so"}} {
		root := filepath.Join(t.TempDir(), "root")
		makeTree(t, root, files, order)
		os.Chmod(filepath.Join(root, "usr/bin/tool"), os.ModeSetuid|0o755)
		// A newer file is clamped to the epoch, an older one kept.
		os.Chtimes(filepath.Join(root, "usr/bin/tool"), testEpoch.Add(time.Hour), testEpoch.Add(time.Hour+time.Millisecond))
		os.Chtimes(filepath.Join(root, "etc/a.b"), testEpoch.Add(-time.Hour), testEpoch.Add(-time.Hour))
		file := filepath.Join(t.TempDir(), fmt.Sprintf("layer%d.tar.gz", i))
		lf, err := WriteTree(root, file, testEpoch)
		if err != nil {
			t.Fatal(err)
		}
		digests = append(digests, lf.Digest.String()+" "+lf.DiffID.String())
		es := readLayer(t, file)
		if lf.Entries != len(es) {
			t.Errorf("Entries = %d, archive has %d", lf.Entries, len(es))
		}
		wantNames := []string{"dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd/", long, "etc/", "etc/a/", "etc/a.b", "etc/a/b",
			"usr/", "usr/bin/", "usr/bin/tool", "usr/bin/tool-link", "usr/lib/", "usr/lib/a.so", "usr/lib/b.so", "usr/lib/z/",
			"usr/share/", "usr/share/doc/", "usr/share/doc/x/", "usr/share/doc/x/cr", "var/", "var/empty/"}
		if got := names(es); !reflect.DeepEqual(got, wantNames) {
			t.Fatalf("names:\n got %q\nwant %q", got, wantNames)
		}
		byName := map[string]entry{}
		for _, e := range es {
			byName[e.Name] = e
			if e.Uname != "" {
				t.Errorf("%s: user/group names %q", e.Name, e.Uname)
			}
		}
		if e := byName["usr/bin/tool"]; e.Mode != 0o4755 || e.ModTime != testEpoch.Unix() || e.Type != tar.TypeReg {
			t.Errorf("tool: %+v", e)
		}
		if e := byName["etc/a.b"]; e.ModTime != testEpoch.Add(-time.Hour).Unix() {
			t.Errorf("older mtime not kept: %+v", e)
		}
		if e := byName["usr/bin/tool-link"]; e.Type != tar.TypeSymlink || e.Link != "tool" {
			t.Errorf("symlink: %+v", e)
		}
		if e := byName["usr/lib/a.so"]; e.Type != tar.TypeReg || e.Content != "lib" {
			t.Errorf("first link: %+v", e)
		}
		if e := byName["usr/lib/b.so"]; e.Type != tar.TypeLink || e.Link != "usr/lib/a.so" {
			t.Errorf("hard link: %+v", e)
		}
	}
	if digests[0] != digests[1] {
		t.Errorf("same tree made in another order gives another layer: %s vs %s", digests[0], digests[1])
	}
}

// Owners, devices, FIFOs and file capabilities need root to set up.
func TestWriteTreeSpecialFiles(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (chown, mknod, security.capability)")
	}
	root := t.TempDir()
	makeTree(t, root, tree{"bin/ping": "elf", "home/u/f": "x"}, nil)
	if err := os.Chown(filepath.Join(root, "home/u/f"), 1000, 1001); err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(root, "dev"), 0o755)
	if err := unix.Mknod(filepath.Join(root, "dev/null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))); err != nil {
		t.Fatal(err)
	}
	unix.Chmod(filepath.Join(root, "dev/null"), 0o666)
	if err := unix.Mkfifo(filepath.Join(root, "dev/fifo"), 0o600); err != nil {
		t.Fatal(err)
	}
	// cap_net_raw+ep, as setcap writes it (VFS_CAP_REVISION_2).
	capability := "\x01\x00\x00\x02\x00\x20\x00\x00\x00\x20\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
	if err := unix.Lsetxattr(filepath.Join(root, "bin/ping"), "security.capability", []byte(capability), 0); err != nil {
		t.Skipf("cannot set security.capability here: %v", err)
	}
	sock, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err == nil {
		if err := syscall.Bind(sock, &syscall.SockaddrUnix{Name: filepath.Join(root, "dev/sock")}); err != nil {
			t.Fatal(err)
		}
		defer syscall.Close(sock)
	}
	file := filepath.Join(t.TempDir(), "l.tar.gz")
	if _, err := WriteTree(root, file, testEpoch); err != nil {
		t.Fatal(err)
	}
	byName := map[string]entry{}
	for _, e := range readLayer(t, file) {
		byName[e.Name] = e
	}
	if e := byName["home/u/f"]; e.Uid != 1000 || e.Gid != 1001 {
		t.Errorf("owner: %+v", e)
	}
	if e := byName["dev/null"]; e.Type != tar.TypeChar || e.Dev != [2]int64{1, 3} || e.Mode != 0o666 {
		t.Errorf("device: %+v", e)
	}
	if e := byName["dev/fifo"]; e.Type != tar.TypeFifo {
		t.Errorf("fifo: %+v", e)
	}
	if _, ok := byName["dev/sock"]; ok {
		t.Errorf("socket archived")
	}
	if e := byName["bin/ping"]; e.PAX["SCHILY.xattr.security.capability"] != capability {
		t.Errorf("capability: %+v", e)
	}
}

func TestDiff(t *testing.T) {
	base := t.TempDir()
	lower, upper := filepath.Join(base, "lower"), filepath.Join(base, "upper")
	common := tree{
		"etc/same":        "same",
		"etc/changed":     "old",
		"etc/gone":        "bye",
		"opt/app/a":       "a",
		"opt/app/sub/b":   "b",
		"usr/bin/sh":      "->dash",
		"var/lib/x/":      "",
		"srv/replaced/in": "x",
		"usr/share/keep":  "k",
	}
	makeTree(t, lower, common, nil)
	up := tree{}
	for k, v := range common {
		up[k] = v
	}
	delete(up, "etc/gone")
	delete(up, "opt/app/a")
	delete(up, "opt/app/sub/b")
	delete(up, "srv/replaced/in")
	up["etc/changed"] = "new"
	up["usr/bin/sh"] = "->bash"
	up["usr/local/new/file"] = "n"
	up["opt/other/"] = ""
	up["srv/"] = ""
	makeTree(t, upper, up, nil)
	os.WriteFile(filepath.Join(upper, "srv/replaced"), []byte("now a file"), 0o644)
	os.Chmod(filepath.Join(upper, "usr/share/keep"), 0o600)
	// mtimes alone are no change
	os.Chtimes(filepath.Join(upper, "etc/same"), testEpoch, testEpoch)

	changes, err := Diff(lower, upper)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range changes {
		got = append(got, c.TarName())
	}
	want := []string{"etc", "etc/.wh.gone", "etc/changed", "opt", "opt/.wh.app", "opt/other", "srv", "srv/replaced",
		"usr", "usr/bin", "usr/bin/sh", "usr/local", "usr/local/new", "usr/local/new/file", "usr/share", "usr/share/keep"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("changes:\n got %q\nwant %q", got, want)
	}
	file := filepath.Join(base, "diff.tar.gz")
	if _, err := WriteDiff(lower, upper, file, testEpoch); err != nil {
		t.Fatal(err)
	}
	for _, e := range readLayer(t, file) {
		if e.Name == "etc/.wh.gone" && (e.Type != tar.TypeReg || e.Content != "") {
			t.Errorf("whiteout: %+v", e)
		}
		if e.Name == "etc/changed" && e.Content != "new" {
			t.Errorf("changed: %+v", e)
		}
	}
}

// The gzip level changes the compressed bytes, never the tar inside.
func TestWithGzipLevel(t *testing.T) {
	root := t.TempDir()
	makeTree(t, root, tree{"usr/share/a": strings.Repeat("compressible ", 1000)}, nil)
	dir := t.TempDir()
	def, err := WriteTree(root, filepath.Join(dir, "default.tar.gz"), testEpoch)
	if err != nil {
		t.Fatal(err)
	}
	fast, err := WriteTree(root, filepath.Join(dir, "fast.tar.gz"), testEpoch, WithGzipLevel(gzip.BestSpeed))
	if err != nil {
		t.Fatal(err)
	}
	if def.DiffID != fast.DiffID || def.TarSize != fast.TarSize {
		t.Errorf("tar differs with the gzip level: %v %v", def.DiffID, fast.DiffID)
	}
	if def.Digest == fast.Digest {
		t.Errorf("gzip level %d gives the default's bytes", gzip.BestSpeed)
	}
	if !reflect.DeepEqual(readLayer(t, def.Path), readLayer(t, fast.Path)) {
		t.Errorf("entries differ with the gzip level")
	}
	bad := filepath.Join(dir, "bad.tar.gz")
	if _, err := WriteTree(root, bad, testEpoch, WithGzipLevel(42)); err == nil {
		t.Errorf("gzip level 42 accepted")
	}
	if _, err := os.Stat(bad); !os.IsNotExist(err) {
		t.Errorf("failed write left %s: %v", bad, err)
	}
}
