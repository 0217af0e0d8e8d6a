package iso

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/stx-build/stx-build/arch/amd64"
	"github.com/stx-build/stx-build/arch/arm64"
	"github.com/stx-build/stx-build/manifests"
	"github.com/stx-build/stx-build/repo"
)

const testEpoch = 1704067200 // 2024-01-01T00:00:00Z

// testdata/modules.dep and modules.builtin are excerpts of Debian's
// 6.1.0-56-amd64 kernel's files.
func testModules(t *testing.T) *moduleSet {
	t.Helper()
	dep, err := os.ReadFile("testdata/modules.dep")
	if err != nil {
		t.Fatal(err)
	}
	builtin, err := os.ReadFile("testdata/modules.builtin")
	if err != nil {
		t.Fatal(err)
	}
	ms, err := parseModules(dep, builtin)
	if err != nil {
		t.Fatal(err)
	}
	return ms
}

func TestModuleLoadOrder(t *testing.T) {
	ms := testModules(t)
	order, builtin, missing, err := ms.loadOrder([]string{"sr_mod", "usb-storage", "uas", "isofs", "8250", "squashfs", "nosuchmod"})
	if err != nil {
		t.Fatal(err)
	}
	// modprobe's order: a module's listed dependencies last to first.
	want := []string{
		"kernel/drivers/cdrom/cdrom.ko",
		"kernel/drivers/scsi/scsi_common.ko",
		"kernel/drivers/scsi/scsi_mod.ko",
		"kernel/drivers/scsi/sr_mod.ko",
		"kernel/drivers/usb/common/usb-common.ko",
		"kernel/drivers/usb/core/usbcore.ko",
		"kernel/drivers/usb/storage/usb-storage.ko",
		"kernel/drivers/usb/storage/uas.ko",
		"kernel/fs/isofs/isofs.ko",
		"kernel/fs/squashfs/squashfs.ko",
	}
	if !reflect.DeepEqual(order, want) {
		t.Errorf("order:\n got %q\nwant %q", order, want)
	}
	if !reflect.DeepEqual(builtin, []string{"8250"}) || !reflect.DeepEqual(missing, []string{"nosuchmod"}) {
		t.Errorf("builtin %q, missing %q", builtin, missing)
	}
	// Every module comes after everything it needs.
	pos := map[string]int{}
	for i, m := range order {
		pos[m] = i
	}
	for _, m := range order {
		for _, d := range ms.deps[m] {
			if pos[d] >= pos[m] {
				t.Errorf("%s loads before its dependency %s", m, d)
			}
		}
	}
}

func TestCpio(t *testing.T) {
	entries := []cpioEntry{
		{Name: "init", Mode: 0o755, Data: []byte("#!/bin/sh\n")},
		{Name: "dev", Mode: fs.ModeDir | 0o755},
		{Name: "dev/console", Mode: fs.ModeDevice | fs.ModeCharDevice | 0o600, Major: 5, Minor: 1},
		{Name: "bin", Mode: fs.ModeDir | 0o755},
		{Name: "bin/sh", Mode: fs.ModeSymlink | 0o777, Data: []byte("busybox")},
		{Name: "bin/busybox", Mode: 0o755, Data: bytes.Repeat([]byte{0xAB}, 1001)},
	}
	var a, b bytes.Buffer
	if err := writeCpio(&a, entries, testEpoch); err != nil {
		t.Fatal(err)
	}
	// Order of input does not matter.
	rev := append([]cpioEntry(nil), entries...)
	for i, j := 0, len(rev)-1; i < j; i, j = i+1, j-1 {
		rev[i], rev[j] = rev[j], rev[i]
	}
	if err := writeCpio(&b, rev, testEpoch); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) || a.Len()%512 != 0 {
		t.Fatalf("not deterministic or not padded: %d bytes", a.Len())
	}
	if err := writeCpio(&b, append(entries, cpioEntry{Name: "init", Mode: 0o644}), testEpoch); err == nil {
		t.Error("duplicate name accepted")
	}
	if _, err := exec.LookPath("cpio"); err != nil {
		t.Skip("cpio not installed")
	}
	cmd := exec.Command("cpio", "-itv", "--quiet")
	cmd.Stdin = bytes.NewReader(a.Bytes())
	cmd.Env = append(os.Environ(), "TZ=UTC", "LC_ALL=C")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("cpio -t: %v", err)
	}
	got := strings.Fields(string(out))
	for _, w := range []string{"bin/busybox", "1001", "bin/sh", "->", "busybox", "crw-------", "5,", "dev/console", "-rwxr-xr-x", "init"} {
		if !contains(got, w) {
			t.Errorf("cpio -tv output lacks %q:\n%s", w, out)
		}
	}
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

func TestGrubConfig(t *testing.T) {
	p := &manifests.Project{Name: "example"}
	m := &manifests.ISO{Label: "STX_X", Cmdline: "quiet", Menu: []manifests.ISOMenuEntry{{Title: "It's live"}, {Title: "Debug", Cmdline: "stx.debug"}}}
	cfg := string(grubConfig(amd64.Profile().Boot.GrubTerminal, 2, menuEntries(p, m, amd64.Profile())))
	want := `# Written by stx-build.
serial --unit=0 --speed=115200
terminal_input console serial
terminal_output console serial
set timeout=2
set default=0

menuentry 'It'\''s live' {
	linux /live/vmlinuz stx.live=STX_X console=tty0 console=ttyS0,115200 systemd.firstboot=off quiet
	initrd /live/initrd.img
}

menuentry 'Debug' {
	linux /live/vmlinuz stx.live=STX_X console=tty0 console=ttyS0,115200 systemd.firstboot=off quiet stx.debug
	initrd /live/initrd.img
}
`
	if cfg != want {
		t.Errorf("grub.cfg:\n%s\nwant:\n%s", cfg, want)
	}
	def := menuEntries(p, &manifests.ISO{Label: "A"}, arm64.Profile())
	if len(def) != 1 || def[0].Title != "example live (arm64)" || strings.Join(def[0].Args, " ") != "stx.live=A console=tty0 console=ttyAMA0,115200 systemd.firstboot=off" {
		t.Errorf("default entry: %+v", def)
	}
	if got := string(embeddedConfig("STX_X")); got != "search --no-floppy --set=root --label STX_X\nset prefix=($root)/boot/grub\n" {
		t.Errorf("embedded config %q", got)
	}
}

func TestXorrisoArgs(t *testing.T) {
	args := strings.Join(xorrisoArgs(masterSpec{Tree: "/t", Output: "/o.iso", Label: "L", Epoch: testEpoch,
		BIOSImage: biosImgPath, HybridMBR: "/b/boot_hybrid.img", EFIImage: efiImgPath}), " ")
	for _, w := range []string{
		"-volume_date uuid 2024010100000000", "-volume_date all_file_dates =1704067200", "-iso_nowtime =1704067200",
		"-boot_image any gpt_disk_guid=volume_date_uuid", "-as mkisofs -o /o.iso -V L",
		"-b boot/grub/i386-pc/eltorito.img -no-emul-boot -boot-load-size 4 -boot-info-table --grub2-boot-info --grub2-mbr /b/boot_hybrid.img -eltorito-alt-boot",
		"-e boot/grub/efi.img -no-emul-boot -efi-boot-part --efi-boot-image --protective-msdos-label /t",
	} {
		if !strings.Contains(args, w) {
			t.Errorf("xorriso args lack %q:\n%s", w, args)
		}
	}
	uefi := strings.Join(xorrisoArgs(masterSpec{Tree: "/t", Output: "/o.iso", Label: "L", Epoch: testEpoch, EFIImage: efiImgPath}), " ")
	if strings.Contains(uefi, "-b ") || strings.Contains(uefi, "grub2-mbr") || strings.Contains(uefi, "eltorito-alt-boot") {
		t.Errorf("UEFI-only args have BIOS parts: %s", uefi)
	}
}

func TestParseStatus(t *testing.T) {
	data := []byte(`Package: zlib1g
Status: install ok installed
Architecture: arm64
Version: 1:1.2.13.dfsg-1
Description: compression library
 with a continuation line: not a field

Package: removed
Status: deinstall ok config-files
Version: 1
Architecture: all

Package: base-files
Status: install ok installed
Architecture: arm64
Version: 12.4+deb12u5
`)
	got, err := parseStatus("status", data)
	if err != nil {
		t.Fatal(err)
	}
	want := []Package{{"base-files", "12.4+deb12u5", "arm64"}, {"zlib1g", "1:1.2.13.dfsg-1", "arm64"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v", got)
	}
	if string(packageList(got)) != "base-files\t12.4+deb12u5\tarm64\nzlib1g\t1:1.2.13.dfsg-1\tarm64\n" {
		t.Errorf("list %q", packageList(got))
	}
}

func TestLocalKernel(t *testing.T) {
	entries := []repo.Entry{
		{Package: "linux-image-6.1-stx-dbg", Architecture: "amd64"},
		{Package: "linux-image-6.1-stx", Architecture: "amd64"},
		{Package: "linux-image-6.1-stx", Architecture: "arm64"},
		{Package: "stx-hello", Architecture: "amd64"},
	}
	if got := localKernel(entries, "amd64"); got != "linux-image-6.1-stx" {
		t.Errorf("local kernel %q", got)
	}
	if got := localKernel(entries[3:], "amd64"); got != "" {
		t.Errorf("no local kernel: %q", got)
	}
}

func TestUpdateSums(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"a-amd64.iso", "a-arm64.iso"} {
		os.WriteFile(filepath.Join(dir, f), []byte(f), 0o644)
	}
	a := strings.Repeat("a", 64)
	b := strings.Repeat("b", 64)
	if _, err := UpdateSums(dir, map[string]string{"a-arm64.iso": b}); err != nil {
		t.Fatal(err)
	}
	// A line for a file that is gone is dropped; the other architecture's stays.
	os.WriteFile(filepath.Join(dir, SumsFile), []byte(b+"  a-arm64.iso\n"+a+"  gone.iso\n"), 0o644)
	p, err := UpdateSums(dir, map[string]string{"a-amd64.iso": a})
	if err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(p)
	if want := a + "  a-amd64.iso\n" + b + "  a-arm64.iso\n"; string(data) != want {
		t.Errorf("SHA256SUMS:\n%s\nwant:\n%s", data, want)
	}
}

// TestSign signs with a throwaway key in a temporary GNUPGHOME and checks
// the signature with gpg --verify.
func TestSign(t *testing.T) {
	if _, err := exec.LookPath("gpg"); err != nil {
		t.Skip("gpg not installed")
	}
	home, err := os.MkdirTemp("", "stx-gpg-") // short: gpg-agent's socket path is limited
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(home)
	defer exec.Command("gpgconf", "--homedir", home, "--kill", "all").Run()
	t.Setenv("GNUPGHOME", home)
	gen := exec.Command("gpg", "--batch", "--passphrase", "", "--quick-generate-key", "stx-build test <test@stx-build.invalid>", "ed25519", "sign", "1d")
	if out, err := gen.CombinedOutput(); err != nil {
		t.Fatalf("gpg key: %v\n%s", err, out)
	}
	dir := t.TempDir()
	sums := filepath.Join(dir, SumsFile)
	os.WriteFile(sums, []byte(strings.Repeat("c", 64)+"  x.iso\n"), 0o644)
	sig, err := Sign(context.Background(), sums, "test@stx-build.invalid")
	if err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(sig)
	if filepath.Base(sig) != SignatureFile || !bytes.HasPrefix(data, []byte("-----BEGIN PGP SIGNATURE-----")) {
		t.Errorf("signature %s: %.40q", sig, data)
	}
	if out, err := exec.Command("gpg", "--batch", "--verify", sig, sums).CombinedOutput(); err != nil {
		t.Errorf("gpg --verify: %v\n%s", err, out)
	}
	os.WriteFile(sums, []byte("tampered\n"), 0o644)
	if err := exec.Command("gpg", "--batch", "--verify", sig, sums).Run(); err == nil {
		t.Error("a changed SHA256SUMS still verifies")
	}
	if _, err := Sign(context.Background(), sums, "nobody@stx-build.invalid"); err == nil {
		t.Error("signing with a missing key succeeded")
	}
}

func TestESPSize(t *testing.T) {
	for _, n := range []int64{0, 1 << 20, 700 << 10, 5 << 20} {
		kib := espSizeKiB(n)
		if kib%64 != 0 || kib*1024 < n+n/8+256<<10 {
			t.Errorf("espSizeKiB(%d) = %d", n, kib)
		}
	}
}

func TestWriteInitramfs(t *testing.T) {
	needTools(t, "cpio")
	dir := t.TempDir()
	mods := filepath.Join(dir, "lib/modules/6.1.0-56-amd64")
	dep, _ := os.ReadFile("testdata/modules.dep")
	for _, l := range strings.Split(string(dep), "\n") {
		if m, _, ok := strings.Cut(l, ":"); ok {
			os.MkdirAll(filepath.Join(mods, filepath.Dir(m)), 0o755)
			os.WriteFile(filepath.Join(mods, m), []byte("module "+m), 0o644)
		}
	}
	os.WriteFile(filepath.Join(mods, "modules.dep"), dep, 0o644)
	bb := filepath.Join(dir, "busybox")
	os.WriteFile(bb, []byte("busybox"), 0o755)

	list := func(spec initramfsSpec) ([]string, *initramfsResult) {
		var buf bytes.Buffer
		res, err := writeInitramfs(&buf, spec, testEpoch)
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("cpio", "-it", "--quiet")
		cmd.Stdin = &buf
		out, err := cmd.Output()
		if err != nil {
			t.Fatal(err)
		}
		return strings.Fields(string(out)), res
	}
	files, res := list(initramfsSpec{Busybox: bb, ModulesDir: mods, Modules: []string{"squashfs", "sr_mod", "ata_piix", "nvme"}})
	for _, f := range []string{"init", "bin/busybox", "bin/sh", "dev/console", "etc/stx-live/modules", "lib/modules/kernel/fs/squashfs/squashfs.ko", "lib/modules/kernel/drivers/ata/libata.ko"} {
		if !contains(files, f) {
			t.Errorf("initramfs lacks %s: %v", f, files)
		}
	}
	if len(res.Modules) != 7 || !reflect.DeepEqual(res.Missing, []string{"nvme"}) {
		t.Errorf("modules %v, missing %v", res.Modules, res.Missing)
	}

	files, res = list(initramfsSpec{Busybox: bb, Modules: []string{"squashfs"}})
	if contains(files, "lib/modules/kernel/fs/squashfs/squashfs.ko") || !contains(files, "init") || len(res.Modules) != 0 {
		t.Errorf("without modules: %v %+v", files, res)
	}
}

func TestUsrMerged(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "usr/bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "usr/bin/busybox"), nil, 0o755); err != nil {
		t.Fatal(err)
	}
	if got, want := usrMerged(root, "bin/busybox"), filepath.Join(root, "usr/bin/busybox"); got != want {
		t.Errorf("usr-merged busybox: %s, want %s", got, want)
	}
	if err := os.MkdirAll(filepath.Join(root, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "bin/busybox"), nil, 0o755); err != nil {
		t.Fatal(err)
	}
	if got, want := usrMerged(root, "bin/busybox"), filepath.Join(root, "bin/busybox"); got != want {
		t.Errorf("busybox in bin: %s, want %s", got, want)
	}
}
