package deb

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stx-build/stx-build/runner"
)

func TestCopyTreeNormalizes(t *testing.T) {
	src := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(src, "debian", "source"), 0o700))
	must(os.MkdirAll(filepath.Join(src, ".git", "objects"), 0o755))
	must(os.WriteFile(filepath.Join(src, "debian", "rules"), []byte("#!/usr/bin/make -f\n"), 0o700))
	must(os.WriteFile(filepath.Join(src, "debian", "control"), []byte("x"), 0o600))
	must(os.WriteFile(filepath.Join(src, ".git", "HEAD"), []byte("ref"), 0o644))
	must(os.Symlink("control", filepath.Join(src, "debian", "link")))

	dst := filepath.Join(t.TempDir(), "tree")
	mtime := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	must(copyTree(src, dst, mtime))

	for _, tc := range []struct {
		path string
		mode os.FileMode
	}{
		{"debian", 0o755 | os.ModeDir},
		{"debian/rules", 0o755},
		{"debian/control", 0o644},
	} {
		info, err := os.Lstat(filepath.Join(dst, tc.path))
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode() != tc.mode {
			t.Errorf("%s: mode %v, want %v", tc.path, info.Mode(), tc.mode)
		}
		if !info.ModTime().Equal(mtime) {
			t.Errorf("%s: mtime %v, want %v", tc.path, info.ModTime(), mtime)
		}
	}
	if link, err := os.Readlink(filepath.Join(dst, "debian", "link")); err != nil || link != "control" {
		t.Errorf("symlink: %q %v", link, err)
	}
	if _, err := os.Stat(filepath.Join(dst, ".git")); !os.IsNotExist(err) {
		t.Errorf(".git was copied: %v", err)
	}
}

func TestProfilesAndArgs(t *testing.T) {
	b := &Builder{HostArch: "amd64", Jobs: 2}
	tests := []struct {
		name         string
		req          Request
		wantProfiles []string
		wantDep      string
	}{
		{
			name:    "native, no profiles",
			req:     Request{Arch: "amd64", Parts: "both", Package: Package{Name: "p"}},
			wantDep: "apt-get -q --no-install-recommends build-dep -s /build/p-1",
		},
		{
			name:         "cross adds cross and nocheck",
			req:          Request{Arch: "arm64", Parts: "any", Package: Package{Name: "p", Profiles: []string{"nodoc"}}},
			wantProfiles: []string{"cross", "nocheck", "nodoc"},
			wantDep:      "apt-get -q --no-install-recommends --host-architecture arm64 -P cross,nocheck,nodoc --arch-only build-dep -s /build/p-1",
		},
		{
			name:         "indep only, duplicate profile",
			req:          Request{Arch: "amd64", Parts: "all", Package: Package{Name: "p", Profiles: []string{"nocheck", "nocheck"}}},
			wantProfiles: []string{"nocheck"},
			wantDep:      "apt-get -q --no-install-recommends -P nocheck --indep-only build-dep -s /build/p-1",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := profiles(tc.req, b.HostArch); !reflect.DeepEqual(got, tc.wantProfiles) && (len(got) > 0 || len(tc.wantProfiles) > 0) {
				t.Errorf("profiles = %q, want %q", got, tc.wantProfiles)
			}
			if got := strings.Replace(b.buildDepArgs(tc.req, "p-1"), "%s", "-s", 1); got != tc.wantDep {
				t.Errorf("build-dep:\n got %s\nwant %s", got, tc.wantDep)
			}
		})
	}
}

func TestBuildSpec(t *testing.T) {
	b := &Builder{HostArch: "amd64", Jobs: 2}
	req := Request{Arch: "arm64", Parts: "any", Package: Package{Name: "hello", Version: "2.10-3", Limits: runner.Limits{Pids: 9000}}}
	spec := b.buildStep(t.TempDir(), req, "hello-2.10", 1663927200, 0).Spec([]string{"/layer", "/base"}, "")
	if spec.Limits.Pids != 9000 {
		t.Errorf("limits %+v, want the package's pids limit 9000", spec.Limits)
	}
	want := []string{"dpkg-buildpackage", "--no-sign", "-B", "--host-arch=arm64", "--build-profiles=cross,nocheck"}
	if !reflect.DeepEqual(spec.Args, want) {
		t.Errorf("args = %q, want %q", spec.Args, want)
	}
	env := strings.Join(spec.Env, "\n")
	for _, w := range []string{"SOURCE_DATE_EPOCH=1663927200", "DEB_BUILD_OPTIONS=parallel=2 nocheck", "DEB_BUILD_PROFILES=cross nocheck", "TZ=UTC", "LC_ALL=C.UTF-8", "HOME=/nonexistent"} {
		if !strings.Contains(env, w+"\n") && !strings.HasSuffix(env, w) {
			t.Errorf("env lacks %s:\n%s", w, env)
		}
	}
	// One HOME (issue 20): a duplicate would be read as its first value.
	seen := map[string]string{}
	for _, kv := range spec.Env {
		k, _, _ := strings.Cut(kv, "=")
		if prev, ok := seen[k]; ok {
			t.Errorf("env has %s twice: %s and %s", k, prev, kv)
		}
		seen[k] = kv
	}
	if spec.Network || spec.UID != 1000 || spec.Dir != "/build/hello-2.10" {
		t.Errorf("spec: network %v uid %d dir %s", spec.Network, spec.UID, spec.Dir)
	}
	if !reflect.DeepEqual(spec.Layers, []string{"/layer", "/base"}) {
		t.Errorf("layers = %q", spec.Layers)
	}
}

func TestInstLine(t *testing.T) {
	for _, tc := range []struct{ line, name, ver string }{
		{"Inst libstx-dev:arm64 (1.0 stx-build local:stx [arm64])", "libstx-dev:arm64", "1.0"},
		{"Inst automake (1:1.16.5-1.3 Debian:12.15/oldstable [all])", "automake", "1:1.16.5-1.3"},
		{"Inst libc6 [2.36-9] (2.36-9+deb12u4 Debian-Security:12/oldstable-security [amd64])", "libc6", "2.36-9+deb12u4"},
	} {
		m := instLine.FindStringSubmatch(tc.line)
		if m == nil || m[1] != tc.name || m[2] != tc.ver {
			t.Errorf("%q: got %q", tc.line, m)
		}
	}
	if instLine.MatchString("Conf libstx1 (1.0 stx-build local:stx [amd64])") {
		t.Error("Conf lines must not count")
	}
}

func TestVersions(t *testing.T) {
	for _, tc := range []struct{ v, noEpoch, upstream string }{
		{"2.10-3", "2.10-3", "2.10"},
		{"1:1.2.13.dfsg-1", "1.2.13.dfsg-1", "1.2.13.dfsg"},
		{"1.0", "1.0", "1.0"},
	} {
		if got := noEpoch(tc.v); got != tc.noEpoch {
			t.Errorf("noEpoch(%s) = %s", tc.v, got)
		}
		if got := upstreamVersion(tc.v); got != tc.upstream {
			t.Errorf("upstreamVersion(%s) = %s", tc.v, got)
		}
	}
}

func TestShellQuote(t *testing.T) {
	for in, want := range map[string]string{
		"hello_2.10-3.dsc": "hello_2.10-3.dsc",
		"a b":              "'a b'",
		"it's":             `'it'\''s'`,
		"":                 "''",
	} {
		if got := shellQuote(in); got != want {
			t.Errorf("shellQuote(%q) = %s, want %s", in, got, want)
		}
	}
}
