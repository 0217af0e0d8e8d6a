package rootfs

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestNativeShim runs the chroot shim with fake chroot, unshare, mount
// and dpkg: mmdebstrap's essential-phase call becomes the host's dpkg
// with --root and the .debs under the root; every other call reaches the
// real chroot unchanged.
func TestNativeShim(t *testing.T) {
	if !foreignArch("arm64") {
		t.Skip("arm64 is this host's own architecture")
	}
	fakes := t.TempDir()
	record := filepath.Join(t.TempDir(), "calls")
	fake := func(name, body string) {
		script := "#!/bin/sh\n" + body + "\n"
		if err := os.WriteFile(filepath.Join(fakes, name), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	fake("chroot", `echo "chroot $*" >>`+record)
	realDpkg, err := exec.LookPath("dpkg")
	if err != nil {
		t.Skip(err)
	}
	fake("dpkg", `[ "$1" = --print-architecture ] && exec `+realDpkg+` "$@"; echo "dpkg $*" >>`+record)
	fake("mount", `echo "mount $*" >>`+record)
	fake("dpkg-deb", `[ "$1 $2" = "--show --showformat=\${Package}:\${Architecture}" ] || exit 9; b=$(basename "$3" .deb); echo "dpkg-deb $b" >>`+record+`; printf %s:%s "${b%%_*}" "${b##*_}"`)
	// The fake unshare drops its options and runs the rest.
	fake("unshare", `[ "$1 $2 $3" = "--mount --propagation private" ] || exit 9; shift 3; exec "$@"`)
	t.Setenv("PATH", fakes+":"+os.Getenv("PATH"))
	t.Setenv(NativeDpkgEnv, "")

	dir, cleanup, err := nativeShim("arm64")
	if err != nil {
		t.Fatal(err)
	}
	defer cleanup()
	if dir == "" {
		t.Fatal("no shim for arm64 on a host with dpkg, unshare and chroot")
	}
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"/r o", "dpkg", "--install", "--force-depends", "--status-fd=3", "/var/cache/apt/archives/a_1_arm64.deb", "/var/cache/apt/archives/c_2_all.deb"},
			"mount --bind /r o/etc/dpkg /etc/dpkg\n" + // the probe
				"dpkg-deb a_1_arm64\ndpkg-deb c_2_all\n" +
				"mount --bind /r o/etc/dpkg /etc/dpkg\n" +
				"dpkg --root=/r o --log=/r o/var/log/dpkg.log --force-architecture --unpack --force-depends --status-fd=3 /r o/var/cache/apt/archives/a_1_arm64.deb /r o/var/cache/apt/archives/c_2_all.deb\n" +
				"chroot /r o dpkg --configure --force-depends --status-fd=3 a:arm64 c:all\n"},
		// .debs not named by absolute paths: as they are.
		{[]string{"/r", "dpkg", "--install", "--force-depends", "--status-fd=3", "a.deb"}, "chroot /r dpkg --install --force-depends --status-fd=3 a.deb\n"},
		// apt's and the hooks' calls, and dpkg calls of another shape.
		{[]string{"/r", "sh", "-c", "true"}, "chroot /r sh -c true\n"},
		{[]string{"/r", "dpkg", "--configure", "-a"}, "chroot /r dpkg --configure -a\n"},
		{[]string{"/r", "dpkg", "--install", "--force-depends"}, "chroot /r dpkg --install --force-depends\n"},
	}
	for _, tt := range tests {
		os.Remove(record)
		cmd := exec.Command(filepath.Join(dir, "chroot"), tt.args...)
		cmd.Env = withShim(os.Environ(), dir)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("chroot %q: %v\n%s", tt.args, err, out)
		}
		got, _ := os.ReadFile(record)
		if string(got) != tt.want {
			t.Errorf("chroot %q ran\n%s\nwant\n%s", tt.args, got, tt.want)
		}
	}

	// Where the mount fails (a container), the real chroot does it all.
	fake("mount", `echo "mount $*" >>`+record+`; exit 32`)
	os.Remove(record)
	args := tests[0].args
	cmd := exec.Command(filepath.Join(dir, "chroot"), args...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("chroot %q, mount failing: %v\n%s", args, err, out)
	}
	got, _ := os.ReadFile(record)
	if want := "mount --bind /r o/etc/dpkg /etc/dpkg\nchroot " + strings.Join(args, " ") + "\n"; string(got) != want {
		t.Errorf("mount failing: chroot %q ran\n%s\nwant\n%s", args, got, want)
	}

	t.Setenv(NativeDpkgEnv, "0")
	if dir, _, _ := nativeShim("arm64"); dir != "" {
		t.Errorf("%s=0: shim %s", NativeDpkgEnv, dir)
	}
	if dir, _, _ := nativeShim(hostDebArch()); dir != "" {
		t.Errorf("host architecture: shim %s", dir)
	}
}

func TestWithShim(t *testing.T) {
	env := []string{"A=1", "PATH=/usr/bin:/bin", "B=2"}
	got := strings.Join(withShim(env, "/s"), " ")
	if want := "A=1 B=2 PATH=/s:/usr/bin:/bin"; got != want {
		t.Errorf("withShim = %s, want %s", got, want)
	}
	if got := withShim(env, ""); len(got) != 3 || got[1] != "PATH=/usr/bin:/bin" {
		t.Errorf("no shim: %v", got)
	}
}
