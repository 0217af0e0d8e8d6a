package arch_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/stx-build/stx-build/arch"
	"github.com/stx-build/stx-build/arch/amd64"
	"github.com/stx-build/stx-build/arch/arm64"
)

func TestProfiles(t *testing.T) {
	for _, tc := range []struct {
		p                          *arch.Profile
		arch, triplet, efi, kernel string
		console                    string
		firmware                   []string
	}{
		{amd64.Profile(), "amd64", "x86_64-linux-gnu", "BOOTX64.EFI", "linux-image-amd64", "ttyS0", []string{"bios", "uefi"}},
		{arm64.Profile(), "arm64", "aarch64-linux-gnu", "BOOTAA64.EFI", "linux-image-arm64", "ttyAMA0", []string{"uefi"}},
	} {
		p := tc.p
		if p.Arch != tc.arch || p.GNUTriplet != tc.triplet || p.Boot.EFI.Binary != tc.efi || p.Kernel.Package != tc.kernel || p.Kernel.Console != tc.console {
			t.Errorf("%s: %+v", tc.arch, p)
		}
		if got := p.FirmwareNames(); !reflect.DeepEqual(got, tc.firmware) {
			t.Errorf("%s firmware %v, want %v", tc.arch, got, tc.firmware)
		}
		for _, m := range []string{"squashfs", "overlay", "isofs", "loop", "sr_mod", "usb_storage"} {
			found := false
			for _, x := range p.Kernel.InitrdModules {
				found = found || x == m
			}
			if !found {
				t.Errorf("%s: initrd-modules lacks %s", tc.arch, m)
			}
		}
	}
	if amd64.Profile().Boot.BIOS == nil || arm64.Profile().Boot.BIOS != nil {
		t.Error("BIOS boot is for amd64 only")
	}
}

func TestQemuCommand(t *testing.T) {
	got, err := amd64.Profile().QemuCommand(arch.QemuRun{ISO: "/x/a.iso"})
	if err != nil {
		t.Fatal(err)
	}
	want := "qemu-system-x86_64 -machine pc,accel=tcg -cpu max -m 2048 -smp 2 -nographic -monitor none -serial stdio -no-reboot " +
		"-drive file=/x/a.iso,if=ide,index=2,media=cdrom,readonly=on,format=raw"
	if strings.Join(got, " ") != want {
		t.Errorf("amd64 bios:\n got %s\nwant %s", strings.Join(got, " "), want)
	}

	got, err = arm64.Profile().QemuCommand(arch.QemuRun{ISO: "/x/b.iso", KVM: true, VarsCopy: "/t/vars.fd", Media: "usb"})
	if err != nil {
		t.Fatal(err)
	}
	want = "qemu-system-aarch64 -machine virt,accel=kvm -cpu host -m 2048 -smp 2 -nographic -monitor none -serial stdio -no-reboot " +
		"-drive if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/AAVMF/AAVMF_CODE.fd -drive if=pflash,format=raw,unit=1,file=/t/vars.fd " +
		"-device qemu-xhci,id=xhci -drive file=/x/b.iso,if=none,id=stick,media=disk,readonly=on,format=raw -device usb-storage,bus=xhci.0,drive=stick"
	if strings.Join(got, " ") != want {
		t.Errorf("arm64 uefi usb:\n got %s\nwant %s", strings.Join(got, " "), want)
	}

	if _, err := arm64.Profile().QemuCommand(arch.QemuRun{ISO: "a", Firmware: "bios"}); err == nil || !strings.Contains(err.Error(), "arm64 boots with uefi") {
		t.Errorf("arm64 bios: %v", err)
	}
	if _, err := amd64.Profile().QemuCommand(arch.QemuRun{ISO: "a", Firmware: "uefi"}); err == nil || !strings.Contains(err.Error(), "writable copy") {
		t.Errorf("uefi without vars copy: %v", err)
	}
	if _, err := amd64.Profile().QemuCommand(arch.QemuRun{ISO: "a", Media: "floppy"}); err == nil {
		t.Error("unknown media accepted")
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ data, want string }{
		{"arch: amd64\nbogus: 1\n", "field bogus not found"},
		{"arch: amd64\n", "missing gnu-triplet"},
	} {
		if _, err := arch.Parse("p.yaml", []byte(tc.data)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%q) = %v, want %q", tc.data, err, tc.want)
		}
	}
}
