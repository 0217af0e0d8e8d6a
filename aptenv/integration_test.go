package aptenv

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestUpdateHost runs apt-get update for real against the host's archive
// (as its apt sources name it) in a private environment.
func TestUpdateHost(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: needs the host's archive over the network")
	}
	if _, err := exec.LookPath("apt-get"); err != nil {
		t.Skip("apt-get not found")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	dir := t.TempDir()
	e, err := New(ctx, Config{Dir: dir, Suite: "bookworm", Architectures: []string{"amd64"}, Log: testLog{t}})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := e.Update(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("Update on a fresh lists dir: %v", time.Since(start).Round(10*time.Millisecond))

	sources, _ := filepath.Glob(filepath.Join(e.ListsDir(), "*_source_Sources*"))
	if len(sources) == 0 {
		entries, _ := os.ReadDir(e.ListsDir())
		var names []string
		for _, en := range entries {
			names = append(names, en.Name())
		}
		t.Fatalf("no Sources index in %s; it holds %q", e.ListsDir(), names)
	}

	// Unchanged sources and fresh lists: the second Update is a no-op.
	start = time.Now()
	if err := e.Update(ctx); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("second Update took %v; want it skipped", d)
	}

	vs, err := e.SourceVersions(ctx, "hello")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("hello source versions: %q", vs)

	// The host's apt state is not used: the private status file is empty.
	out, err := e.Output(ctx, "apt-config", "shell", "S", "Dir::State::status/f", "L", "Dir::State::Lists/d")
	if err != nil {
		t.Fatal(err)
	}
	want := "S='" + filepath.Join(dir, "var/lib/dpkg/status") + "'\nL='" + e.ListsDir() + "/'\n"
	if string(out) != want {
		t.Errorf("apt-config shell = %q, want %q", out, want)
	}
}

// testLog sends apt's output to the test log.
type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Helper()
	l.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
