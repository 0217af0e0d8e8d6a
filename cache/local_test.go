package cache

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stx-build/stx-build/cache/filehash"
)

// testBuild is a build of pkg on amd64 whose key depends on src.
func testBuild(t testing.TB, pkg, src string) Build {
	t.Helper()
	b, err := NewBuild(pkg, "1.0", "amd64", []Input{
		{KindManifest, "name", pkg},
		{KindSource, "main.c", "file " + src},
		{KindBuild, "arch", "amd64"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// artifacts writes build outputs into a new directory and returns their paths.
func artifacts(t testing.TB, pkg, content string) []string {
	t.Helper()
	dir := t.TempDir()
	var out []string
	for _, name := range []string{pkg + "_1.0_amd64.deb", pkg + "-dev_1.0_amd64.deb", pkg + "_1.0_amd64.buildinfo"} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(name+":"+content), 0o644); err != nil {
			t.Fatal(err)
		}
		out = append(out, p)
	}
	return out
}

func openLocal(t testing.TB) *Local {
	t.Helper()
	l, err := OpenLocal(filepath.Join(t.TempDir(), "artifacts"))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func readDir(t *testing.T, dir string) map[string]string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, de := range des {
		data, err := os.ReadFile(filepath.Join(dir, de.Name()))
		if err != nil {
			t.Fatal(err)
		}
		m[de.Name()] = string(data)
	}
	return m
}

func TestPutAndRestore(t *testing.T) {
	ctx := context.Background()
	l := openLocal(t)
	b := testBuild(t, "libstx", "1")
	files := artifacts(t, "libstx", "v1")
	e, err := l.Put(ctx, b, files)
	if err != nil {
		t.Fatal(err)
	}
	if e.Dir != filepath.Join(l.Dir(), string(b.Key)) || len(e.Manifest.Files) != 3 {
		t.Fatalf("entry %+v", e)
	}
	if !slices.IsSortedFunc(e.Manifest.Files, func(a, b File) int { return strings.Compare(a.Name, b.Name) }) {
		t.Error("manifest files not sorted")
	}
	got, err := l.Get(ctx, b.Key)
	if err != nil || got.Manifest.Key != b.Key || len(got.Manifest.Inputs) != 3 {
		t.Fatalf("Get: %+v %v", got, err)
	}

	dest := filepath.Join(t.TempDir(), "out", "amd64", "debs", "libstx_1.0")
	h := filehash.New("")
	res, err := l.Restore(ctx, b.Key, dest, h)
	if err != nil {
		t.Fatal(err)
	}
	if res.Unchanged || len(res.Files) != 3 || filepath.Dir(res.Files[0]) != dest {
		t.Fatalf("first restore: %+v", res)
	}
	want := map[string]string{}
	for _, f := range files {
		data, _ := os.ReadFile(f)
		want[filepath.Base(f)] = string(data)
	}
	if got := readDir(t, dest); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("restored %v, want %v", got, want)
	}
	res, err = l.Restore(ctx, b.Key, dest, h)
	if err != nil || !res.Unchanged {
		t.Fatalf("second restore: %+v %v", res, err)
	}
	// A stray file in the destination is replaced by exactly the entry.
	os.WriteFile(filepath.Join(dest, "stray.deb"), []byte("x"), 0o644)
	if res, err = l.Restore(ctx, b.Key, dest, h); err != nil || res.Unchanged {
		t.Fatalf("restore over a stray file: %+v %v", res, err)
	}
	if got := readDir(t, dest); len(got) != 3 {
		t.Fatalf("after restore: %v", got)
	}
	if k, err := l.Ref("libstx", "amd64"); err != nil || k != b.Key {
		t.Errorf("Ref: %s %v", k, err)
	}
	// Storing the same key again keeps the entry.
	if _, err := l.Put(ctx, b, artifacts(t, "libstx", "other")); err != nil {
		t.Fatal(err)
	}
	if got := readDir(t, e.Dir)["libstx_1.0_amd64.deb"]; got != "libstx_1.0_amd64.deb:v1" {
		t.Errorf("entry replaced: %q", got)
	}
}

func TestRestoreMissingAndCorrupt(t *testing.T) {
	ctx := context.Background()
	l := openLocal(t)
	dest := filepath.Join(t.TempDir(), "debs", "libstx_1.0")
	b := testBuild(t, "libstx", "1")
	if _, err := l.Restore(ctx, b.Key, dest, nil); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing entry: %v", err)
	}
	corruptions := []struct {
		name string
		do   func(dir string)
	}{
		{"flipped byte", func(dir string) {
			p := filepath.Join(dir, "libstx_1.0_amd64.deb")
			data, _ := os.ReadFile(p)
			data[0] ^= 1
			os.WriteFile(p, data, 0o644)
		}},
		{"truncated", func(dir string) { os.Truncate(filepath.Join(dir, "libstx-dev_1.0_amd64.deb"), 3) }},
		{"file missing", func(dir string) { os.Remove(filepath.Join(dir, "libstx_1.0_amd64.buildinfo")) }},
		{"manifest garbage", func(dir string) { os.WriteFile(filepath.Join(dir, ManifestFile), []byte("{"), 0o644) }},
		{"manifest of another key", func(dir string) {
			data, _ := os.ReadFile(filepath.Join(dir, ManifestFile))
			other := testBuild(t, "libstx", "2").Key
			os.WriteFile(filepath.Join(dir, ManifestFile), bytes.ReplaceAll(data, []byte(b.Key), []byte(other)), 0o644)
		}},
	}
	for _, tc := range corruptions {
		t.Run(tc.name, func(t *testing.T) {
			if err := os.MkdirAll(dest, 0o755); err != nil {
				t.Fatal(err)
			}
			os.WriteFile(filepath.Join(dest, "previous.deb"), []byte("earlier build"), 0o644)
			e, err := l.Put(ctx, b, artifacts(t, "libstx", "v1"))
			if err != nil {
				t.Fatal(err)
			}
			tc.do(e.Dir)
			_, err = l.Restore(ctx, b.Key, dest, nil)
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("restore of a corrupt entry: %v", err)
			}
			if _, err := os.Stat(e.Dir); !os.IsNotExist(err) {
				t.Errorf("corrupt entry kept: %v", err)
			}
			if got := readDir(t, dest); len(got) != 1 || got["previous.deb"] != "earlier build" {
				t.Errorf("destination changed by a failed restore: %v", got)
			}
			// The rebuilt artifacts can be stored again.
			if _, err := l.Put(ctx, b, artifacts(t, "libstx", "v1")); err != nil {
				t.Fatal(err)
			}
			if _, err := l.Restore(ctx, b.Key, dest, nil); err != nil {
				t.Fatal(err)
			}
			os.RemoveAll(dest)
			l.discard(b.Key)
		})
	}
}

func TestPutRefusesBadInput(t *testing.T) {
	ctx := context.Background()
	l := openLocal(t)
	b := testBuild(t, "x", "1")
	dir := t.TempDir()
	for _, f := range []string{".hidden", ManifestFile, "a.deb", "sub/a.deb"} {
		os.MkdirAll(filepath.Dir(filepath.Join(dir, f)), 0o755)
		os.WriteFile(filepath.Join(dir, f), []byte("x"), 0o644)
	}
	for _, tc := range []struct {
		name  string
		files []string
	}{
		{"no files", nil},
		{"hidden name", []string{filepath.Join(dir, ".hidden")}},
		{"manifest name", []string{filepath.Join(dir, ManifestFile)}},
		{"missing file", []string{filepath.Join(dir, "missing.deb")}},
		{"directory", []string{filepath.Join(dir, "sub")}},
		{"same name twice", []string{filepath.Join(dir, "a.deb"), filepath.Join(dir, "sub", "a.deb")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := l.Put(ctx, b, tc.files); err == nil {
				t.Error("accepted")
			}
		})
	}
	if _, err := l.Put(ctx, Build{Key: "nope"}, artifacts(t, "x", "1")); err == nil {
		t.Error("invalid key accepted")
	}
	if des, _ := os.ReadDir(l.Dir()); len(des) != 1 { // .lock
		t.Errorf("leftovers: %v", des)
	}
}

func TestImport(t *testing.T) {
	ctx := context.Background()
	src := openLocal(t)
	b := testBuild(t, "libstx", "1")
	e, err := src.Put(ctx, b, artifacts(t, "libstx", "v1"))
	if err != nil {
		t.Fatal(err)
	}
	copyEntry := func(dir string) error {
		des, _ := os.ReadDir(e.Dir)
		for _, de := range des {
			data, _ := os.ReadFile(filepath.Join(e.Dir, de.Name()))
			os.WriteFile(filepath.Join(dir, de.Name()), data, 0o644)
		}
		return nil
	}
	tests := []struct {
		name string
		key  Key
		fill func(dir string) error
		ok   bool
	}{
		{"complete", b.Key, copyEntry, true},
		{"other key", testBuild(t, "libstx", "2").Key, copyEntry, false},
		{"extra file", b.Key, func(dir string) error {
			copyEntry(dir)
			return os.WriteFile(filepath.Join(dir, "extra"), nil, 0o644)
		}, false},
		{"short file", b.Key, func(dir string) error {
			copyEntry(dir)
			return os.Truncate(filepath.Join(dir, "libstx_1.0_amd64.deb"), 1)
		}, false},
		{"fill fails", b.Key, func(string) error { return ErrNotFound }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := openLocal(t)
			_, err := l.Import(ctx, tc.key, tc.fill)
			if (err == nil) != tc.ok {
				t.Fatalf("Import: %v", err)
			}
			if _, gerr := l.Get(ctx, tc.key); (gerr == nil) != tc.ok {
				t.Errorf("Get after Import: %v", gerr)
			}
		})
	}
}

// setUsed backdates an entry's last use.
func setUsed(t *testing.T, l *Local, k Key, when time.Time) {
	t.Helper()
	if err := os.Chtimes(filepath.Join(l.Dir(), string(k), ManifestFile), when, when); err != nil {
		t.Fatal(err)
	}
}

func TestPruneAndStats(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	setup := func(t *testing.T) (*Local, map[string]Key) {
		l := openLocal(t)
		keys := map[string]Key{}
		for i, id := range []string{"a1", "a2", "a3", "b1"} {
			b := testBuild(t, id[:1], id)
			if _, err := l.Put(ctx, b, artifacts(t, id[:1], id)); err != nil {
				t.Fatal(err)
			}
			keys[id] = b.Key
			setUsed(t, l, b.Key, now.Add(-time.Duration(10-i)*24*time.Hour)) // a1 oldest, b1 newest
		}
		os.MkdirAll(filepath.Join(l.Dir(), strings.Repeat("f", 64)), 0o755) // an entry without manifest
		return l, keys
	}
	tests := []struct {
		name    string
		opts    PruneOptions
		removed []string
	}{
		{"nothing but unreadable", PruneOptions{}, nil},
		{"keep 1", PruneOptions{Keep: 1}, []string{"a1", "a2"}},
		{"keep 2", PruneOptions{Keep: 2}, []string{"a1"}},
		{"older than 8 days", PruneOptions{OlderThan: 8*24*time.Hour + time.Minute}, []string{"a1", "a2"}},
		{"dry run", PruneOptions{Keep: 1, DryRun: true}, []string{"a1", "a2"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l, keys := setup(t)
			st, err := l.Stats(ctx)
			if err != nil || st.Entries != 4 || st.Packages != 2 || st.Unreadable != 1 || st.PerArch["amd64"] != 4 {
				t.Fatalf("stats %+v %v", st, err)
			}
			tc.opts.Now = now
			removed, err := l.Prune(ctx, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range removed {
				for id, k := range keys {
					if k == r.Key {
						got = append(got, id)
					}
				}
			}
			slices.Sort(got)
			if fmt.Sprint(got) != fmt.Sprint(tc.removed) || len(removed) != len(tc.removed)+1 {
				t.Fatalf("removed %v (%d), want %v + the unreadable one", got, len(removed), tc.removed)
			}
			entries, bad, _ := l.List(ctx)
			wantLeft := 4 - len(tc.removed)
			if tc.opts.DryRun {
				wantLeft = 4
			}
			if len(entries) != wantLeft || (len(bad) == 0) == tc.opts.DryRun {
				t.Errorf("left: %d entries, %d unreadable", len(entries), len(bad))
			}
		})
	}
	if _, err := openLocal(t).Prune(ctx, PruneOptions{Keep: -1}); err == nil {
		t.Error("negative keep accepted")
	}
}

func TestVerify(t *testing.T) {
	ctx := context.Background()
	l := openLocal(t)
	var keys []Key
	for i := range 4 {
		b := testBuild(t, "p"+strconv.Itoa(i), "x")
		e, err := l.Put(ctx, b, artifacts(t, "p"+strconv.Itoa(i), "x"))
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, b.Key)
		switch i {
		case 1: // same size, other content
			p := filepath.Join(e.Dir, "p1_1.0_amd64.deb")
			data, _ := os.ReadFile(p)
			data[len(data)-1] ^= 0x20
			os.WriteFile(p, data, 0o644)
		case 2:
			os.WriteFile(filepath.Join(e.Dir, "unexpected.deb"), nil, 0o644)
		case 3:
			os.Remove(filepath.Join(e.Dir, ManifestFile))
		}
	}
	os.MkdirAll(filepath.Join(l.Dir(), tmpPrefix+"crashed"), 0o755)
	res, err := l.Verify(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.Checked != 3 || len(res.Removed) != 3 {
		t.Fatalf("verify: %+v", res)
	}
	entries, bad, _ := l.List(ctx)
	if len(entries) != 1 || entries[0].Manifest.Key != keys[0] || len(bad) != 0 {
		t.Errorf("after verify: %d entries, %d unreadable", len(entries), len(bad))
	}
	if _, err := os.Stat(filepath.Join(l.Dir(), tmpPrefix+"crashed")); !os.IsNotExist(err) {
		t.Error("leftover of a crashed run kept")
	}
}

func TestPruneWaitsForReaders(t *testing.T) {
	l := openLocal(t)
	unlock, err := lock(context.Background(), l.lockPath(), lockShared)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := l.Prune(ctx, PruneOptions{Keep: 1}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("prune while a reader holds the lock: %v", err)
	}
	unlock()
	if _, err := l.Prune(context.Background(), PruneOptions{Keep: 1}); err != nil {
		t.Fatal(err)
	}
}

func TestConcurrentPutsInOneProcess(t *testing.T) {
	ctx := context.Background()
	l := openLocal(t)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b := testBuild(t, "p", strconv.Itoa(i%4)) // 4 keys, each stored 4 times at once
			if _, err := l.Put(ctx, b, artifacts(t, "p", strconv.Itoa(i%4))); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	res, err := l.Verify(ctx)
	if err != nil || res.Checked != 4 || len(res.Removed) != 0 {
		t.Fatalf("verify: %+v %v", res, err)
	}
}

// TestConcurrentRunsShareOneCache runs several processes (this test binary
// as a helper) storing and restoring the same keys in one store, with a
// verify running too, and checks that every process succeeded and the
// store is intact.
func TestConcurrentRunsShareOneCache(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	dir := filepath.Join(t.TempDir(), "artifacts")
	var cmds []*exec.Cmd
	var outs []*bytes.Buffer
	for i := range 4 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperRun$")
		cmd.Env = append(os.Environ(), "STX_CACHE_HELPER_DIR="+dir, "STX_CACHE_HELPER_ID="+strconv.Itoa(i))
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
		outs = append(outs, &out)
	}
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Errorf("helper %d: %v\n%s", i, err, outs[i])
		}
	}
	l, err := OpenLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	res, err := l.Verify(context.Background())
	if err != nil || res.Checked != 8 || len(res.Removed) != 0 {
		t.Fatalf("verify: %+v %v", res, err)
	}
}

func TestHelperRun(t *testing.T) {
	dir := os.Getenv("STX_CACHE_HELPER_DIR")
	if dir == "" {
		t.Skip("helper process for TestConcurrentRunsShareOneCache")
	}
	ctx := context.Background()
	id, _ := strconv.Atoi(os.Getenv("STX_CACHE_HELPER_ID"))
	l, err := OpenLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	for round := range 20 {
		n := (round + id) % 8
		b := testBuild(t, "p"+strconv.Itoa(n), "x")
		if _, err := l.Put(ctx, b, artifacts(t, "p"+strconv.Itoa(n), "x")); err != nil {
			t.Fatal(err)
		}
		dest := filepath.Join(t.TempDir(), "debs")
		if _, err := l.Restore(ctx, b.Key, dest, nil); err != nil {
			t.Fatal(err)
		}
		if id == 0 && round%5 == 0 {
			if res, err := l.Verify(ctx); err != nil || len(res.Removed) != 0 {
				t.Fatalf("verify: %+v %v", res, err)
			}
		}
	}
}
