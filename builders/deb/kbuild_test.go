package deb

import (
	"strings"
	"testing"
)

// The configure step of a kernel: signing off without a key, on (and
// checked after olddefconfig) with one; cross-compiling for a foreign
// architecture; the release checked against the manifest's.
func TestKernelScript(t *testing.T) {
	for _, tc := range []struct {
		name, arch, key string
		want, not       []string
	}{
		{name: "unsigned", arch: "amd64",
			want: []string{"make ARCH=x86_64 LOCALVERSION=-stx tinyconfig", "--disable MODULE_SIG --disable MODULE_SIG_ALL --set-str MODULE_SIG_KEY ''", `if [ "$release" != 6.1.192-stx ]`},
			not:  []string{"CROSS_COMPILE", "--enable MODULE_SIG", signingKeyPath}},
		{name: "signed", arch: "amd64", key: "/keys/release.pem",
			want: []string{"--enable MODULE_SIG --enable MODULE_SIG_ALL", "--set-str MODULE_SIG_KEY " + signingKeyPath, "grep -qx 'CONFIG_MODULE_SIG_ALL=y' .config ||"},
			not:  []string{"/keys/release.pem", "--disable MODULE_SIG "}},
		{name: "cross", arch: "arm64",
			want: []string{"make ARCH=arm64 CROSS_COMPILE=aarch64-linux-gnu- LOCALVERSION=-stx", "KBUILD_DEBARCH=arm64"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := &Kernel{Release: "6.1.192-stx", LocalVersion: "-stx", Base: "tinyconfig", Fragments: []string{"/a/qemu.config"}, SigningKey: tc.key}
			req := Request{Package: Package{Name: "linux", Version: "6.1.192-1stx1", Kernel: k}, Arch: tc.arch}
			sh, err := kernelScript(k, req, "amd64", 2)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.want {
				if !strings.Contains(sh, w) {
					t.Errorf("script lacks %q:\n%s", w, sh)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(sh, n) {
					t.Errorf("script has %q:\n%s", n, sh)
				}
			}
		})
	}
	if _, err := kernelScript(&Kernel{}, Request{Arch: "riscv64"}, "amd64", 1); err == nil {
		t.Error("riscv64: no error")
	}
}
