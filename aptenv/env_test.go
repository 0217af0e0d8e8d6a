package aptenv

import (
	"bytes"
	"context"
	"flag"
	"os"
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
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./aptenv -run %s -update to create it)", err, t.Name())
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test ./aptenv -update rewrites it):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

func TestNewGolden(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{"oneline", Config{Suite: "bookworm", Architectures: []string{"arm64", "amd64"}, HostRoot: "testdata/hosts/oneline"}},
		{"deb822", Config{Suite: "bookworm", Architectures: []string{"amd64"}, HostRoot: "testdata/hosts/deb822"}},
		{"mixed", Config{Suite: "bookworm", HostRoot: "testdata/hosts/mixed"}},
		// A trixie project on a bookworm host: the host's mirrors, the
		// project's release.
		{"derived", Config{Suite: "trixie", HostRoot: "testdata/hosts/mixed"}},
		{"derived-unstable", Config{Suite: "sid", HostRoot: "testdata/hosts/mixed"}},
		{"mirror", Config{Suite: "trixie", Mirror: "http://mirror.example/debian", Components: []string{"main", "contrib", "main"},
			Architectures: []string{"arm64"}, HostRoot: "testdata/hosts/empty"}},
		{"mirror-default-components", Config{Suite: "bookworm", Mirror: "https://mirror.example/debian/",
			Architectures: []string{"amd64", "arm64"}, HostRoot: "testdata/hosts/empty"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := tt.cfg
			cfg.Dir = dir
			cfg.NativeArch = "amd64"
			e, err := New(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			root, _ := filepath.Abs(cfg.HostRoot)
			scrub := func(b []byte) []byte {
				s := strings.ReplaceAll(string(b), dir, "@DIR@")
				return []byte(strings.ReplaceAll(s, root, "@ROOT@"))
			}
			conf, err := os.ReadFile(e.ConfigFile())
			if err != nil {
				t.Fatal(err)
			}
			srcs, err := os.ReadFile(e.SourcesFile())
			if err != nil {
				t.Fatal(err)
			}
			golden(t, tt.name+".apt.conf", scrub(conf))
			golden(t, tt.name+".sources", scrub(srcs))

			if got, want := e.Environ(), []string{"APT_CONFIG=" + filepath.Join(dir, "etc/apt.conf")}; strings.Join(got, " ") != strings.Join(want, " ") {
				t.Errorf("Environ() = %q, want %q", got, want)
			}
			for _, p := range []string{"var/lib/apt/lists/partial", "var/cache/apt/archives/partial", "etc/preferences.d", "var/lib/dpkg/status"} {
				if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
					t.Errorf("missing %s: %v", p, err)
				}
			}

			// A second New with the same config writes the same bytes.
			if _, err := New(context.Background(), cfg); err != nil {
				t.Fatal(err)
			}
			conf2, _ := os.ReadFile(e.ConfigFile())
			srcs2, _ := os.ReadFile(e.SourcesFile())
			if !bytes.Equal(conf, conf2) || !bytes.Equal(srcs, srcs2) {
				t.Error("second New wrote different files")
			}
		})
	}
}

func TestNewErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"no dir", Config{Suite: "bookworm"}, "Config.Dir is empty"},
		{"no suite", Config{Dir: "x", HostRoot: "testdata/hosts/mixed"}, "Config.Suite is empty"},
		{"no matching suite", Config{Dir: "x", Suite: "jammy", HostRoot: "testdata/hosts/mixed"}, "no apt source under"},
		{"no host sources", Config{Dir: "x", Suite: "bookworm", HostRoot: "testdata/hosts/empty"}, "no apt source under"},
		{"suite prefix is not a suite", Config{Dir: "x", Suite: "book", HostRoot: "testdata/hosts/mixed"}, "no apt source under"},
		{"bad host file", Config{Dir: "x", Suite: "bookworm", HostRoot: "testdata/hosts/bad-deb822"}, "debian.sources:6:"},
		{"bad mirror", Config{Dir: "x", Suite: "bookworm", Mirror: "mirror.example/debian"}, "not an absolute URI"},
		{"bad arch", Config{Dir: "x", Suite: "bookworm", Mirror: "http://mirror.example/debian", Architectures: []string{"AMD 64"}}, "not a Debian architecture"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			if cfg.Dir != "" {
				cfg.Dir = filepath.Join(t.TempDir(), cfg.Dir)
			}
			_, err := New(context.Background(), cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New: error = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestUpdateSkipsWhenFresh(t *testing.T) {
	dir := t.TempDir()
	e, err := New(context.Background(), Config{Dir: dir, Suite: "bookworm", Mirror: "http://mirror.example/debian", HostRoot: "testdata/hosts/empty"})
	if err != nil {
		t.Fatal(err)
	}
	sum, err := e.configHash()
	if err != nil {
		t.Fatal(err)
	}
	stamp := filepath.Join(dir, stampFile)
	release := filepath.Join(e.ListsDir(), "mirror.example_debian_dists_bookworm_InRelease")
	if err := os.WriteFile(release, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(stamp, []byte(sum+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if !e.fresh(stamp, sum, time.Hour) {
		t.Error("fresh stamp with lists: want fresh")
	}
	if e.fresh(stamp, "other", time.Hour) {
		t.Error("changed sources: want stale")
	}
	old := time.Now().Add(-2 * time.Hour)
	if err := os.Chtimes(stamp, old, old); err != nil {
		t.Fatal(err)
	}
	if e.fresh(stamp, sum, time.Hour) {
		t.Error("old stamp: want stale")
	}
	os.Chtimes(stamp, time.Now(), time.Now())
	os.Remove(release)
	if e.fresh(stamp, sum, time.Hour) {
		t.Error("no lists: want stale")
	}
	os.WriteFile(release, nil, 0o644)

	// Fresh: Update returns without running apt-get (the mirror host does
	// not exist, so a real run would fail).
	if err := e.Update(context.Background(), MaxAge(time.Hour)); err != nil {
		t.Fatalf("Update on fresh lists: %v", err)
	}
}

func TestParseShowsrc(t *testing.T) {
	out := `Package: hello
Binary: hello
Version: 2.10-3
Format: 3.0 (quilt)

Package: hello
Binary: hello
Version: 2.10-3+b1~bpo

Package: hello-traditional
Version: 9.9

Package: hello
Version: 2.9-1

Package: hello
Version: 2.10-3
`
	got, err := parseShowsrc([]byte(out), "hello")
	if err != nil {
		t.Fatal(err)
	}
	want := "2.10-3+b1~bpo 2.10-3 2.9-1"
	if strings.Join(got, " ") != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestTailBuffer(t *testing.T) {
	b := &tailBuffer{max: 4}
	b.Write([]byte("abc"))
	b.Write([]byte("defg"))
	if got := b.String(); got != "[...]defg" {
		t.Errorf("got %q", got)
	}
}

func TestReleaseSources(t *testing.T) {
	got, derived, err := ReleaseSources("testdata/hosts/mixed", "trixie")
	if err != nil || !derived {
		t.Fatalf("derived %v, err %v", derived, err)
	}
	want := []string{
		"deb http://mirror.example/debian trixie main",
		"deb [signed-by=testdata/hosts/mixed/usr/share/keyrings/example-archive.gpg] http://security.example/debian-security trixie-security main",
		"deb http://mirror.example/debian trixie-updates main",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, suite := range []string{"bookworm", "jammy"} {
		if got, derived, err := ReleaseSources("testdata/hosts/mixed", suite); err != nil || derived || got != nil {
			t.Errorf("%s: %q, derived %v, err %v; want the host's own files", suite, got, derived, err)
		}
	}
}
