package store

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

func sum(c byte) string { return strings.Repeat(string(c), 64) }

// testLock builds a lock adding its entries in a scrambled order.
func testLock() *Lock {
	l := &Lock{}
	arm := l.Set("bookworm", "arm64")
	amd := l.Set("bookworm", "amd64")
	amd.Add(LockedPackage{Name: "zlib1g-dev", Version: "1:1.2.13.dfsg-1+deb12u1", Arch: "amd64", Size: 916496, SHA256: sum('9'),
		Path: "pool/updates/main/z/zlib/zlib1g-dev_1.2.13.dfsg-1%2bdeb12u1_amd64.deb"})
	amd.Add(LockedPackage{Name: "debhelper", Version: "13.11.4", Arch: "all", Size: 941736, SHA256: sum('b'),
		Path: "pool/main/d/debhelper/debhelper_13.11.4_all.deb"})
	arm.Add(LockedPackage{Name: "libc6-dev", Version: "2.36-9+deb12u10", Arch: "arm64", Size: 100, SHA256: sum('c'),
		Path: "pool/main/g/glibc/libc6-dev_2.36-9+deb12u10_arm64.deb"})
	arm.Add(LockedPackage{Name: "debhelper", Version: "13.11.4", Arch: "all", Size: 941736, SHA256: sum('b'),
		Path: "pool/main/d/debhelper/debhelper_13.11.4_all.deb"})
	amd.Releases = []LockRelease{{Name: ReleaseName("mirror.invalid_debian_dists_bookworm_InRelease"), SHA256: sum('1')},
		{Name: ReleaseName("mirror.invalid_debian-security_dists_bookworm-security_InRelease"), SHA256: sum('2')}}
	arm.Releases = amd.Releases
	return l
}

// The lock's text is deterministic (sorted whatever the order entries
// were added in) and reads back to the same lock.
func TestLockGolden(t *testing.T) {
	got := testLock().Marshal()
	golden := filepath.Join("testdata", "stx.lock.golden")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (regenerate: make golden)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("lock differs from %s (make golden, review the diff):\n%s", golden, got)
	}
	l, err := ParseLock(golden, bytes.NewReader(want))
	if err != nil {
		t.Fatal(err)
	}
	if again := l.Marshal(); !bytes.Equal(again, want) {
		t.Errorf("parse and write again differs:\n%s", again)
	}
	if items := l.Items(); len(items) != 3 || items[0].Name != "debhelper_13.11.4_all.deb" || items[2].Name != "zlib1g-dev_1%3a1.2.13.dfsg-1+deb12u1_amd64.deb" {
		t.Errorf("items: %+v", items)
	}
	if p, ok := l.Find("bookworm", "amd64").Lookup("zlib1g-dev", "1:1.2.13.dfsg-1+deb12u1", ""); !ok || p.Size != 916496 {
		t.Errorf("lookup: %+v %v", p, ok)
	}
}

func TestParseLockErrors(t *testing.T) {
	in := "stx-lock 2\n" +
		"zlib1g 1 amd64 1 sha256:" + sum('a') + " pool/a.deb\n" +
		"[bookworm amd64]\n" +
		"zlib1g 1 amd64 -1 sha256:" + sum('a') + " pool/a.deb\n" +
		"zlib1g 1 amd64 1 md5:00 pool/a.deb\n" +
		"zlib1g 1 amd64\n" +
		"release x sha256:00\n" +
		"[bookworm amd64]\n" +
		"zlib1g 1 amd64 1 sha256:" + sum('a') + " http://mirror.invalid/debian/pool/a.deb\n"
	_, err := ParseLock("stx.lock", strings.NewReader(in))
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"stx.lock:2: ", "stx.lock:4: zlib1g: size", "stx.lock:5: zlib1g: \"md5:00\"", "stx.lock:6: package line has 3 fields", "stx.lock:7: release line", "stx.lock:8: set [bookworm amd64] appears twice", "stx.lock:9: zlib1g: \"http://mirror.invalid/debian/pool/a.deb\" is not a path"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("errors lack %q:\n%v", want, err)
		}
	}
	if _, err := ParseLock("stx.lock", strings.NewReader("stx-lock 1\n")); err == nil || !strings.Contains(err.Error(), "stx.lock:1: ") || !strings.Contains(err.Error(), "stx-build lock --update") {
		t.Errorf("another version: %v", err)
	}
}

func TestReleaseNameAndArchivePath(t *testing.T) {
	for file, want := range map[string]string{
		"mirror.invalid_debian_dists_bookworm_InRelease":                      "bookworm",
		"mirror.invalid:8080_debian-security_dists_bookworm-security_Release": "bookworm-security",
		"_var_cache_repo_dists_stx_InRelease":                                 "stx",
		"mirror.invalid_debian_dists_bookworm_main_binary-amd64_Packages":     "",
	} {
		if got := ReleaseName(file); got != want {
			t.Errorf("ReleaseName(%s) = %q, want %q", file, got, want)
		}
	}
	for u, want := range map[string]string{
		"http://mirror.invalid/debian/pool/main/h/hello/hello_2.10-3_amd64.deb":                    "pool/main/h/hello/hello_2.10-3_amd64.deb",
		"http://mirror.invalid:3142/mirror.invalid/debian-security/pool/updates/main/z/zlib/z.deb": "pool/updates/main/z/zlib/z.deb",
		"http://mirror.invalid/debian/dists/bookworm/Release":                                      "",
	} {
		got, err := ArchivePath(u)
		if got != want || (err != nil) != (want == "") {
			t.Errorf("ArchivePath(%s) = %q, %v; want %q", u, got, err, want)
		}
	}
}

func TestDebFileName(t *testing.T) {
	for _, tc := range []struct{ name, version, arch, want string }{
		{"zlib1g", "1:1.2.13.dfsg-1", "amd64", "zlib1g_1%3a1.2.13.dfsg-1_amd64.deb"},
		{"libstdc++6", "12.2.0-14", "arm64", "libstdc++6_12.2.0-14_arm64.deb"},
		{"po-debconf", "1.0.21+nmu1", "all", "po-debconf_1.0.21+nmu1_all.deb"},
	} {
		if got := DebFileName(tc.name, tc.version, tc.arch); got != tc.want {
			t.Errorf("%s %s %s: %s, want %s", tc.name, tc.version, tc.arch, got, tc.want)
		}
	}
}

func TestParseDebFileName(t *testing.T) {
	for _, tc := range []struct{ file, name, version, arch string }{
		{"zlib1g_1%3a1.2.13.dfsg-1_amd64.deb", "zlib1g", "1:1.2.13.dfsg-1", "amd64"},
		{"libstdc++6_12.2.0-14_arm64.deb", "libstdc++6", "12.2.0-14", "arm64"},
	} {
		n, v, a, err := ParseDebFileName(tc.file)
		if err != nil || n != tc.name || v != tc.version || a != tc.arch {
			t.Errorf("%s: %q %q %q %v", tc.file, n, v, a, err)
		}
		if back := DebFileName(n, v, a); back != tc.file {
			t.Errorf("%s: written back as %s", tc.file, back)
		}
	}
	for _, bad := range []string{"a_1.deb", "a_1_amd64.udeb", "../a_1_amd64.deb", "a_1_2_amd64.deb", "a__amd64.deb"} {
		if _, _, _, err := ParseDebFileName(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestReadLockFile(t *testing.T) {
	dir := t.TempDir()
	if l, err := ReadLockFile(filepath.Join(dir, LockFile)); l != nil || err != nil {
		t.Errorf("no lock: %v, %v; want nil, nil", l, err)
	}
	p := filepath.Join(dir, LockFile)
	if err := os.WriteFile(p, []byte("not a lock\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadLockFile(p); err == nil || !strings.Contains(err.Error(), p) {
		t.Errorf("bad lock: %v, want an error naming %s", err, p)
	}
}
