package deb

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/stx-build/stx-build/deb822"
)

func TestSubstRelations(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"${misc:Depends}, ${shlibs:Depends}", ""},
		{"libstx1 (= ${binary:Version}),\n ${misc:Depends}, zlib1g-dev", "libstx1 (= 1:2.0-1), zlib1g-dev"},
		{"foo (>= ${source:Version}) | bar, baz | ${x:Depends}", "foo (>= 1:2.0-1) | bar"},
	} {
		if got := substRelations(tc.in, "1:2.0-1"); got != tc.want {
			t.Errorf("substRelations(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestStandIn(t *testing.T) {
	ps, err := deb822.Parse("control", []byte("Package: libstx-dev\nArchitecture: any\nMulti-Arch: same\nDepends: libstx1 (= ${binary:Version}), ${misc:Depends}\nProvides: libstx-api\nDescription: x\n"))
	if err != nil {
		t.Fatal(err)
	}
	got := standIn(&ps[0], "libstx-dev", "1:1.0", "arm64")
	for _, want := range []string{"Package: libstx-dev\nVersion: 1:1.0\nArchitecture: arm64\nMulti-Arch: same\n", "Depends: libstx1 (= 1:1.0)\n", "Provides: libstx-api\n", "Filename: pool/libstx-dev_1.0_arm64.deb\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("stand-in lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "Description") || strings.Contains(got, "${") {
		t.Errorf("stand-in:\n%s", got)
	}
}

func TestSimGroups(t *testing.T) {
	b := &Builder{HostArch: "amd64"}
	req := func(arch, parts string, prof ...string) SimRequest {
		return SimRequest{Request: Request{Package: Package{Name: "p", Profiles: prof}, Arch: arch, Parts: parts}}
	}
	reqs := []SimRequest{req("amd64", "both"), req("arm64", "any"), req("amd64", "both"), req("amd64", "both", "nocheck"), req("arm64", "any")}
	got := simGroups(b, reqs)
	var members [][]int
	for _, g := range got {
		members = append(members, g.members)
	}
	if want := [][]int{{0, 2}, {1, 4}, {3}}; !reflect.DeepEqual(members, want) {
		t.Fatalf("groups %v, want %v", members, want)
	}
	if !strings.Contains(got[1].cmd, "--host-architecture arm64") || got[1].arch != "arm64" {
		t.Errorf("cross group: %+v", got[1])
	}
}

func TestParseSimRun(t *testing.T) {
	out := "Reading package lists...\n" +
		simMarker + "0\n" +
		"'http://mirror/debian/pool/main/z/zlib/zlib1g-dev_1.2.13.dfsg-1_amd64.deb' zlib1g-dev_1.2.13.dfsg-1_amd64.deb 916496 SHA256:AB\n" +
		"'file:/stx/repo-amd64/pool/libstx-dev_1.0_amd64.deb' libstx-dev_1.0_amd64.deb 1 SHA256:cd\n" +
		simMarker + "1\n" +
		"E: Unable to correct problems, you have held broken packages.\n" +
		simFailed + "1\n"
	got, err := parseSimRun([]byte(out), 2)
	if err != nil {
		t.Fatal(err)
	}
	if got[0].failed || len(got[0].items) != 1 || got[0].items[0].Name != "zlib1g-dev_1.2.13.dfsg-1_amd64.deb" || got[0].items[0].SHA256 != "ab" {
		t.Errorf("group 0: %+v", got[0])
	}
	if !got[1].failed || !strings.Contains(got[1].text, "held broken packages") {
		t.Errorf("group 1: %+v", got[1])
	}
	for _, bad := range []string{simMarker + "0\n", simMarker + "1\n" + simMarker + "0\n", simMarker + "0\n" + simFailed + "1\n" + simMarker + "1\n", simMarker + "0\n'x' y\n" + simMarker + "1\n"} {
		if _, err := parseSimRun([]byte(bad), 2); err == nil {
			t.Errorf("parseSimRun(%q): no error", bad)
		}
	}
}

func TestSimRepos(t *testing.T) {
	dir := t.TempDir()
	ctl := filepath.Join(dir, "src", "0", "build", "t", "debian")
	if err := os.MkdirAll(ctl, 0o755); err != nil {
		t.Fatal(err)
	}
	control := "Source: t\n\nPackage: libt1\nArchitecture: any\nDepends: ${shlibs:Depends}\n\nPackage: libt-dev\nArchitecture: any\nDepends: libt1 (= ${binary:Version})\n\nPackage: t-doc\nArchitecture: all\n\nPackage: t-udeb\nArchitecture: any\n"
	if err := os.WriteFile(filepath.Join(ctl, "control"), []byte(control), 0o644); err != nil {
		t.Fatal(err)
	}
	reqs := []SimRequest{
		{Request: Request{Package: Package{Name: "t", Version: "2.0"}, Arch: "amd64"}, Binaries: []string{"libt-dev", "libt1", "t-doc"}},
		{Request: Request{Package: Package{Name: "t", Version: "2.0"}, Arch: "arm64"}, Binaries: []string{"libt-dev", "libt1", "libt-extra"}},
	}
	archs, err := simRepos(reqs, []string{"0/build/t", "0/build/t"}, dir)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(archs, []string{"amd64", "arm64"}) {
		t.Fatalf("archs %v", archs)
	}
	for _, a := range archs {
		data, err := os.ReadFile(filepath.Join(dir, "repos", a, "dists", "stx", "main", "binary-"+a, "Packages"))
		if err != nil {
			t.Fatal(err)
		}
		idx := string(data)
		for _, want := range []string{"Package: libt1\nVersion: 2.0\nArchitecture: " + a, "Package: libt-dev\nVersion: 2.0\nArchitecture: " + a + "\nDepends: libt1 (= 2.0)", "Package: t-doc\nVersion: 2.0\nArchitecture: all"} {
			if !strings.Contains(idx, want) {
				t.Errorf("%s index lacks %q:\n%s", a, want, idx)
			}
		}
		if extra := strings.Contains(idx, "Package: libt-extra\nVersion: 2.0\nArchitecture: arm64\n"); extra != (a == "arm64") {
			t.Errorf("%s index: the binary the graph names but the control file does not declare: %v\n%s", a, extra, idx)
		}
		if strings.Contains(idx, "t-udeb") {
			t.Errorf("%s index has a binary the build does not make:\n%s", a, idx)
		}
		rel, err := os.ReadFile(filepath.Join(dir, "repos", a, "dists", "stx", "Release"))
		if err != nil || !strings.Contains(string(rel), " main/binary-"+a+"/Packages\n") {
			t.Errorf("%s Release: %v\n%s", a, err, rel)
		}
	}
}

// A kernel's build-deps are resolved from its stanza alone: the tarball
// is not unpacked (it does not even exist here); its binaries, which no
// control file declares, get stand-ins by name.
func TestSimUnpackKernel(t *testing.T) {
	work := t.TempDir()
	req := SimRequest{Request: Request{Arch: "amd64", Package: Package{Name: "linux-stx", Version: "6.6.1-1",
		Kernel: &Kernel{Tarball: filepath.Join(work, "missing.tar.xz"), Base: "defconfig", BuildDepends: "bc, bison, flex"}}},
		Binaries: []string{"linux-image-6.6.1-stx"}}
	b := &Builder{HostArch: "amd64"}
	ctl, err := b.simUnpack(context.Background(), []SimRequest{req}, filepath.Join(work, "src"), nil)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(work, "src", ctl[0], "debian", "control"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), "Build-Depends: bc, bison, flex\n") {
		t.Errorf("kernel stanza:\n%s", data)
	}
	if _, err := simRepos([]SimRequest{req}, ctl, work); err != nil {
		t.Fatal(err)
	}
	idx, err := os.ReadFile(filepath.Join(work, "repos", "amd64", "dists", "stx", "main", "binary-amd64", "Packages"))
	if err != nil || !strings.Contains(string(idx), "Package: linux-image-6.6.1-stx\nVersion: 6.6.1-1\nArchitecture: amd64\n") {
		t.Errorf("kernel stand-in: %v\n%s", err, idx)
	}
}
