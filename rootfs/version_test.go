package rootfs

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestVersionMemo: the store asks mmdebstrap for its version once per
// executable, and again when another one is installed.
func TestVersionMemo(t *testing.T) {
	bin := t.TempDir()
	calls := filepath.Join(t.TempDir(), "calls")
	fake := filepath.Join(bin, "mmdebstrap")
	install := func(version string) {
		t.Helper()
		script := "#!/bin/sh\necho call >> " + calls + "\necho 'mmdebstrap " + version + "'\n"
		tmp := fake + ".new"
		if err := os.WriteFile(tmp, []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, fake); err != nil { // as dpkg installs: a new inode
			t.Fatal(err)
		}
	}
	t.Setenv("PATH", bin+":"+os.Getenv("PATH"))
	install("1.3.5")
	st := &Store{Dir: t.TempDir()}
	spec := Spec{Suite: "bookworm", Arch: "amd64"}
	find := func() string {
		t.Helper()
		b, err := st.Find(context.Background(), spec)
		if err != nil && !errors.Is(err, ErrNotMade) {
			t.Fatal(err)
		}
		return b.Key
	}
	count := func() int {
		data, _ := os.ReadFile(calls)
		return strings.Count(string(data), "call")
	}
	k1 := find()
	if k2 := find(); k2 != k1 || count() != 1 {
		t.Errorf("second Find: key %s (first %s), mmdebstrap run %d times, want once", k2, k1, count())
	}
	time.Sleep(10 * time.Millisecond)
	install("1.4.0")
	if k3 := find(); k3 == k1 || count() != 2 {
		t.Errorf("after another mmdebstrap: key %s (before %s), run %d times, want twice", k3, k1, count())
	}
}
