package filehash

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

func write(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

func sum(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func TestTreeEntries(t *testing.T) {
	root := t.TempDir()
	write(t, filepath.Join(root, "b.c"), "int b;\n", 0o600)
	write(t, filepath.Join(root, "debian", "rules"), "#!/usr/bin/make -f\n", 0o700)
	write(t, filepath.Join(root, ".git", "HEAD"), "ref: x\n", 0o644)
	write(t, filepath.Join(root, "sub", ".svn", "entries"), "x", 0o644)
	write(t, filepath.Join(root, "sub", ".gitignore"), "*.o\n", 0o644)
	if err := os.Symlink("../b.c", filepath.Join(root, "sub", "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(root, "empty"), 0o700); err != nil {
		t.Fatal(err)
	}
	got, err := New("").Tree(root, SkipVCS)
	if err != nil {
		t.Fatal(err)
	}
	want := []Entry{
		{Path: "b.c", Type: TypeFile, Digest: sum("int b;\n"), Size: 7},
		{Path: "debian", Type: TypeDir},
		{Path: "debian/rules", Type: TypeExec, Digest: sum("#!/usr/bin/make -f\n"), Size: 19},
		{Path: "empty", Type: TypeDir},
		{Path: "sub", Type: TypeDir},
		{Path: "sub/.gitignore", Type: TypeFile, Digest: sum("*.o\n"), Size: 4},
		{Path: "sub/link", Type: TypeSymlink, Digest: "../b.c"},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d entries %+v, want %d", len(got), got, len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("entry %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
	if v := got[0].Value(); v != "file "+sum("int b;\n") {
		t.Errorf("Value: %q", v)
	}
	if v := got[1].Value(); v != "dir" {
		t.Errorf("Value: %q", v)
	}
}

func TestTreeDigestSeesEveryChange(t *testing.T) {
	base := func(t *testing.T) string {
		root := t.TempDir()
		write(t, filepath.Join(root, "a"), "A", 0o644)
		write(t, filepath.Join(root, "d", "b"), "B", 0o644)
		return root
	}
	digest := func(t *testing.T, root string) string {
		e, err := New("").Tree(root, SkipVCS)
		if err != nil {
			t.Fatal(err)
		}
		return TreeDigest(e)
	}
	ref := digest(t, base(t))
	tests := []struct {
		name   string
		change func(t *testing.T, root string)
		same   bool
	}{
		{"nothing", func(t *testing.T, root string) {}, true},
		{"content", func(t *testing.T, root string) { write(t, filepath.Join(root, "a"), "a", 0o644) }, false},
		{"exec bit", func(t *testing.T, root string) { os.Chmod(filepath.Join(root, "a"), 0o755) }, false},
		{"other mode bits", func(t *testing.T, root string) { os.Chmod(filepath.Join(root, "a"), 0o600) }, true},
		{"mtime", func(t *testing.T, root string) {
			old := time.Unix(1e9, 0)
			os.Chtimes(filepath.Join(root, "a"), old, old)
		}, true},
		{"rename", func(t *testing.T, root string) { os.Rename(filepath.Join(root, "a"), filepath.Join(root, "c")) }, false},
		{"new empty dir", func(t *testing.T, root string) { os.Mkdir(filepath.Join(root, "e"), 0o755) }, false},
		{"vcs dir", func(t *testing.T, root string) { write(t, filepath.Join(root, ".git", "x"), "x", 0o644) }, true},
		{"file moved between dirs", func(t *testing.T, root string) {
			os.Rename(filepath.Join(root, "d", "b"), filepath.Join(root, "b"))
		}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := base(t)
			tc.change(t, root)
			if got := digest(t, root); (got == ref) != tc.same {
				t.Errorf("digest same=%v, want same=%v", got == ref, tc.same)
			}
		})
	}
}

func TestStatCacheReuseAndInvalidation(t *testing.T) {
	root := t.TempDir()
	write(t, filepath.Join(root, "a"), "hello", 0o644)
	write(t, filepath.Join(root, "b"), "world", 0o644)
	dir := t.TempDir()
	h := New(dir)
	h.racyWindow = 0

	first, err := h.Tree(root, nil)
	if err != nil {
		t.Fatal(err)
	}
	if st := h.Stats(); st.Hashed != 2 || st.Reused != 0 {
		t.Fatalf("first walk: %+v", st)
	}
	// A new Hasher on the same directory reuses the saved digests.
	h2 := New(dir)
	h2.racyWindow = 0
	second, err := h2.Tree(root, nil)
	if err != nil {
		t.Fatal(err)
	}
	if st := h2.Stats(); st.Hashed != 0 || st.Reused != 2 {
		t.Fatalf("second walk: %+v", st)
	}
	if TreeDigest(first) != TreeDigest(second) {
		t.Fatal("digests differ")
	}

	// Same size, mtime forced back: ctime (and so identity) still changes.
	fi, _ := os.Stat(filepath.Join(root, "a"))
	time.Sleep(20 * time.Millisecond) // past the kernel's timestamp tick
	write(t, filepath.Join(root, "a"), "HELLO", 0o644)
	os.Chtimes(filepath.Join(root, "a"), fi.ModTime(), fi.ModTime())
	h3 := New(dir)
	h3.racyWindow = 0
	third, err := h3.Tree(root, nil)
	if err != nil {
		t.Fatal(err)
	}
	if st := h3.Stats(); st.Hashed != 1 || st.Reused != 1 {
		t.Fatalf("third walk: %+v", st)
	}
	if third[0].Digest != sum("HELLO") {
		t.Fatalf("changed file: stale digest")
	}
}

func TestRacyFilesAreNotRemembered(t *testing.T) {
	root := t.TempDir()
	write(t, filepath.Join(root, "fresh"), "x", 0o644)
	dir := t.TempDir()
	if _, err := New(dir).Tree(root, nil); err != nil { // default window: the file is too new
		t.Fatal(err)
	}
	h := New(dir)
	if _, err := h.Tree(root, nil); err != nil {
		t.Fatal(err)
	}
	if st := h.Stats(); st.Hashed != 1 || st.Reused != 0 {
		t.Fatalf("a file changed within RacyWindow was reused: %+v", st)
	}
}

func TestCorruptStatCacheIsIgnored(t *testing.T) {
	root := t.TempDir()
	write(t, filepath.Join(root, "a"), "x", 0o644)
	dir := t.TempDir()
	h := New(dir)
	h.racyWindow = 0
	if _, err := h.Tree(root, nil); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.gob"))
	if len(files) != 1 {
		t.Fatalf("stat cache files: %v", files)
	}
	os.WriteFile(files[0], []byte("garbage"), 0o644)
	e, err := New(dir).Tree(root, nil)
	if err != nil || e[0].Digest != sum("x") {
		t.Fatalf("got %v, %v", e, err)
	}
}

func TestTreeErrors(t *testing.T) {
	root := t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(root, "fifo"), 0o644); err != nil {
		t.Skip("mkfifo:", err)
	}
	if _, err := New("").Tree(root, nil); err == nil {
		t.Error("a fifo in a source tree was accepted")
	}
	write(t, filepath.Join(root, "file"), "x", 0o644)
	if _, err := New("").Tree(filepath.Join(root, "file"), nil); !errors.Is(err, ErrNotDir) {
		t.Errorf("tree of a file: %v", err)
	}
	if _, err := New("").Tree(filepath.Join(root, "missing"), nil); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing tree: %v", err)
	}
}

func TestFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "x.dsc")
	write(t, p, "Format: 3.0 (quilt)\n", 0o644)
	got, err := New("").File(p)
	if err != nil || got != sum("Format: 3.0 (quilt)\n") {
		t.Fatalf("File: %s, %v", got, err)
	}
}
