package deb

import (
	"strings"
	"testing"

	"github.com/stx-build/stx-build/store"
)

// The environment step installs exactly the resolved set: the archive's
// packages by name and version, found in apt's cache as links to the
// fetched files (nothing downloaded), the local ones from their files.
func TestEnvScript(t *testing.T) {
	ds := &depSet{
		Archive: []string{"gcc=4:12.2.0-3", "libc6-dev:arm64=2.36-9"},
		Local:   []string{"/out/amd64/repo/pool/main/l/libstx/libstx-dev_1.0_amd64.deb"},
		Fetch:   []store.Item{{Name: "gcc_4%3a12.2.0-3_amd64.deb"}, {Name: "libc6-dev_2.36-9_arm64.deb"}},
	}
	got := envScript(ds)
	for _, want := range []string{
		"ln -s /stx/debs/archive/*.deb /var/cache/apt/archives/\n",
		"apt-get -q -y --allow-downgrades --no-install-recommends install gcc=4:12.2.0-3 libc6-dev:arm64=2.36-9 /stx/debs/local/*.deb\n",
		"apt-get clean\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("script lacks %q:\n%s", want, got)
		}
	}
	if got := envScript(&depSet{}); strings.Contains(got, "install") || strings.Contains(got, "ln -s") {
		t.Errorf("nothing to install, but:\n%s", got)
	}
}

// The resolve step's output: apt-get -s's Inst lines, then --print-uris'
// downloads; the archive packages are matched to their files by apt's
// quoted file names, the local ones are not fetched.
func TestParseSimulation(t *testing.T) {
	sum := strings.Repeat("ab", 32)
	out := `Reading package lists...
Inst zlib1g-dev (1:1.2.13.dfsg-1+deb12u1 Debian-Security:12/oldstable-security [amd64])
Inst libc6-dev:arm64 (2.36-9+deb12u10 Debian:12.12/oldstable [arm64])
Inst libstx-dev (1.0 stx-build local:stx [amd64])
'http://mirror.invalid/debian-security/pool/updates/main/z/zlib/zlib1g-dev_1.2.13.dfsg-1%2bdeb12u1_amd64.deb' zlib1g-dev_1%3a1.2.13.dfsg-1+deb12u1_amd64.deb 916496 SHA256:` + sum + `
'http://mirror.invalid/debian/pool/main/g/glibc/libc6-dev_2.36-9+deb12u10_arm64.deb' libc6-dev_2.36-9+deb12u10_arm64.deb 100 SHA256:` + strings.ToUpper(sum) + `
'file:/stx/repo-amd64/./pool/main/l/libstx/libstx-dev_1.0_amd64.deb' libstx-dev_1.0_amd64.deb 10 SHA256:` + sum + `
`
	local := map[string]localDeb{"libstx-dev 1.0": {sha256: "cd", path: "/r/libstx-dev_1.0_amd64.deb"}}
	ds, err := parseSimulation(strings.NewReader(out), local)
	if err != nil {
		t.Fatal(err)
	}
	if len(ds.Inst) != 3 || len(ds.Archive) != 2 || len(ds.Local) != 1 {
		t.Fatalf("set: %+v", ds)
	}
	if len(ds.Fetch) != 2 || ds.Fetch[0].Name != "libc6-dev_2.36-9+deb12u10_arm64.deb" || ds.Fetch[0].SHA256 != sum || ds.Fetch[0].Size != 100 ||
		ds.Fetch[1].URL != "http://mirror.invalid/debian-security/pool/updates/main/z/zlib/zlib1g-dev_1.2.13.dfsg-1%2bdeb12u1_amd64.deb" {
		t.Errorf("fetch: %+v", ds.Fetch)
	}

	// An archive package without a download is an error naming it.
	cut := out[:strings.Index(out, "'http://mirror.invalid/debian/")]
	if _, err := parseSimulation(strings.NewReader(cut), local); err == nil || !strings.Contains(err.Error(), "libc6-dev:arm64=2.36-9+deb12u10") {
		t.Errorf("want the package without a download named, got %v", err)
	}
	for _, bad := range []string{"'http://x/a.deb' a.deb 12", "'http://x/a.deb' a.deb 12 MD5Sum:00", "'http://x/a.deb' a.deb -1 SHA256:" + sum} {
		if _, err := parseSimulation(strings.NewReader(bad+"\n"), nil); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// With a lock, a resolved archive package the lock does not hold fails
// the build, naming it and how to add it; one it holds with another file
// too; the locked ones pass.
func TestCheckLocked(t *testing.T) {
	sum := strings.Repeat("ab", 32)
	set := &store.LockSet{Suite: "bookworm", Arch: "amd64"}
	set.Add(store.LockedPackage{Name: "debhelper", Version: "13.11.4", Arch: "all", Size: 10, SHA256: sum})
	set.Add(store.LockedPackage{Name: "zlib1g-dev", Version: "1:1.2.13.dfsg-1", Arch: "amd64", Size: 10, SHA256: sum})
	ok := []store.Item{{Name: "debhelper_13.11.4_all.deb", Size: 10, SHA256: sum}}
	if err := checkLocked(set, ok, "bookworm", "amd64"); err != nil {
		t.Errorf("locked set refused: %v", err)
	}
	bad := append(ok,
		store.Item{Name: "zlib1g-dev_1%3a1.2.13.dfsg-1+deb12u1_amd64.deb", Size: 10, SHA256: sum},
		store.Item{Name: "m4_1.4.19-3_amd64.deb", Size: 10, SHA256: sum},
	)
	bad[0].SHA256 = strings.Repeat("cd", 32)
	err := checkLocked(set, bad, "bookworm", "amd64")
	for _, want := range []string{
		"not in stx.lock for [bookworm amd64]: ",
		"zlib1g-dev 1:1.2.13.dfsg-1+deb12u1 (amd64) (the lock has 1:1.2.13.dfsg-1",
		"m4 1.4.19-3 (amd64)",
		"run stx-build lock --update",
		"debhelper 13.11.4 (all): the archive's file is sha256 cdcd",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
}

// The lock pins its versions for the resolution, except the packages the
// project builds itself.
func TestLockPins(t *testing.T) {
	set := &store.LockSet{}
	set.Add(store.LockedPackage{Name: "zlib1g-dev", Version: "1:1.2.13.dfsg-1", Arch: "amd64"})
	set.Add(store.LockedPackage{Name: "sensible-utils", Version: "0.0.17+nmu1", Arch: "all"})
	got := lockPins(set, map[string]localDeb{"sensible-utils 0.0.17-stx1": {}})
	if !strings.Contains(got, "Package: zlib1g-dev\nPin: version 1:1.2.13.dfsg-1\nPin-Priority: 1001\n") || strings.Contains(got, "sensible-utils") {
		t.Errorf("pins:\n%s", got)
	}
	if lockPins(nil, nil) != "" {
		t.Error("pins without a lock")
	}
}
