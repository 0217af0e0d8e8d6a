package sources

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stx-build/stx-build/aptenv"
	"github.com/stx-build/stx-build/manifests"
)

// TestFetchDebianHello fetches hello, at the version the host's archive
// offers for bookworm, through a real private apt environment.
func TestFetchDebianHello(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: needs the host's archive over the network")
	}
	if _, err := exec.LookPath("apt-get"); err != nil {
		t.Skip("apt-get not found")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	tmp := t.TempDir()
	env, err := aptenv.New(ctx, aptenv.Config{Dir: filepath.Join(tmp, "apt"), Suite: "bookworm", Log: testLog{t}})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := env.Update(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("apt update: %v", time.Since(start).Round(10*time.Millisecond))
	versions, err := env.SourceVersions(ctx, "hello")
	if err != nil {
		t.Fatal(err)
	}
	spec := "hello=" + versions[0]

	f := &Fetcher{CacheDir: filepath.Join(tmp, "cache"), Apt: env}
	pkg := &manifests.Package{Name: "hello", Source: manifests.Source{Debian: spec}}
	start = time.Now()
	got, err := f.Fetch(ctx, pkg)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("fetch %s: %v into %s", spec, time.Since(start).Round(10*time.Millisecond), got.Dir)
	if got.Kind != KindDebian || filepath.Dir(got.DSC) != got.Dir {
		t.Errorf("Fetch = %+v", got)
	}
	dsc, err := verifyDir(got.Dir, filepath.Base(got.DSC), "")
	if err != nil {
		t.Fatal(err)
	}
	if dsc.Source != "hello" || dsc.Version.String() != versions[0] {
		t.Errorf("fetched %s %s, want hello %s", dsc.Source, dsc.Version, versions[0])
	}
	entries, _ := os.ReadDir(got.Dir)
	for _, e := range entries {
		t.Logf("  %s", e.Name())
	}
	if names := cacheEntries(t, f.CacheDir); len(names) != 1 {
		t.Errorf("cache holds %q, want one entry", names)
	}

	start = time.Now()
	if _, err := f.Fetch(ctx, pkg); err != nil {
		t.Fatal(err)
	}
	t.Logf("cached fetch: %v", time.Since(start).Round(time.Millisecond))

	// A version the mirror does not serve: the error lists those it does.
	gone := &manifests.Package{Name: "hello", Source: manifests.Source{Debian: "hello=2.9-0.1"}}
	_, err = f.Fetch(ctx, gone)
	if err == nil {
		t.Fatal("fetched a version the mirror does not serve")
	}
	for _, want := range []string{"version 2.9-0.1 of source package hello is not served", "they serve " + versions[0]} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
}

// testLog sends apt's output to the test log.
type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Helper()
	l.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
