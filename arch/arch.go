// Package arch describes what differs between the architectures stx-build
// builds for: Debian and GNU names, the kernel, how the architecture boots
// (EFI binary name, GRUB platforms, console device, the modules the live
// initramfs needs) and how qemu runs it. Each architecture's data lives in
// its own package (arch/amd64, arch/arm64) as an embedded profile.yaml,
// parsed by Parse.
package arch

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"
)

// Profile is one architecture's data.
type Profile struct {
	// Arch is the Debian architecture (amd64).
	Arch string `yaml:"arch"`
	// GNUTriplet is the GNU system type (x86_64-linux-gnu).
	GNUTriplet string `yaml:"gnu-triplet"`
	Kernel     Kernel `yaml:"kernel"`
	Boot       Boot   `yaml:"boot"`
	Qemu       Qemu   `yaml:"qemu"`
}

// Kernel describes the architecture's kernel and console.
type Kernel struct {
	// Package is the archive's kernel metapackage (linux-image-amd64).
	Package string `yaml:"package"`
	// Console is the serial console device (ttyS0).
	Console string `yaml:"console"`
	// ConsoleArgs are kernel arguments for the screen and the serial
	// console; the last console= is /dev/console.
	ConsoleArgs []string `yaml:"console-args"`
	// InitrdModules are the kernel modules the live initramfs loads to find
	// and mount the medium (their dependencies are added). A module built
	// into the kernel is skipped.
	InitrdModules []string `yaml:"initrd-modules"`
}

// Boot says how the architecture's ISO boots.
type Boot struct {
	// Packages are extracted (not installed) from the archive for the
	// boot files: GRUB's module directories and busybox for the initramfs.
	Packages []string `yaml:"packages"`
	// Busybox is the path of a static busybox in those packages.
	Busybox string `yaml:"busybox"`
	// GrubModules are built into every GRUB image.
	GrubModules []string `yaml:"grub-modules"`
	// GrubTerminal are grub.cfg lines that set up the screen and serial
	// terminals.
	GrubTerminal []string `yaml:"grub-terminal"`
	EFI          EFI      `yaml:"efi"`
	// BIOS is nil for architectures without a PC BIOS.
	BIOS *BIOS `yaml:"bios"`
}

// EFI describes the UEFI boot loader.
type EFI struct {
	// Binary is the removable-media boot file name (BOOTX64.EFI), placed
	// in EFI/BOOT/ of the EFI system partition image.
	Binary string `yaml:"binary"`
	// Platform is GRUB's platform (x86_64-efi).
	Platform string `yaml:"platform"`
	// Modules are added to GrubModules for this platform.
	Modules []string `yaml:"modules"`
}

// BIOS describes the PC BIOS boot loader: GRUB as an El Torito
// no-emulation image, and GRUB's hybrid MBR so the ISO also boots from a
// USB stick.
type BIOS struct {
	// Platform is GRUB's platform (i386-pc); the image is made in its
	// -eltorito format.
	Platform string `yaml:"platform"`
	// HybridMBR is GRUB's boot_hybrid.img, relative to the extracted
	// packages.
	HybridMBR string `yaml:"hybrid-mbr"`
	// Modules are added to GrubModules for this platform.
	Modules []string `yaml:"modules"`
}

// Qemu says how qemu runs this architecture for boot tests.
type Qemu struct {
	// Command is the qemu system emulator and Package the Debian package
	// that has it.
	Command string `yaml:"command"`
	Package string `yaml:"package"`
	// Machine is the -machine type.
	Machine string `yaml:"machine"`
	// CPU is the -cpu model with KVM and with TCG (emulation).
	CPU struct {
		KVM string `yaml:"kvm"`
		TCG string `yaml:"tcg"`
	} `yaml:"cpu"`
	// Memory in MiB and the number of CPUs.
	Memory int `yaml:"memory"`
	SMP    int `yaml:"smp"`
	// CDROM are the arguments that attach the ISO ({iso} is replaced by
	// its path) as a CD-ROM drive.
	CDROM []string `yaml:"cdrom"`
	// USB are the arguments that attach the ISO as a USB stick (the image
	// written to a stick with dd), the same way.
	USB []string `yaml:"usb"`
	// Firmware by name (bios, uefi); the first listed is the default.
	Firmware []Firmware `yaml:"firmware"`
}

// Firmware is one way to start the machine.
type Firmware struct {
	// Name is bios or uefi.
	Name string `yaml:"name"`
	// Code and Vars are UEFI flash images (Vars is copied, since the
	// firmware writes to it); both empty means qemu's built-in firmware.
	Code string `yaml:"code"`
	Vars string `yaml:"vars"`
	// Package is the Debian package that provides Code and Vars.
	Package string `yaml:"package"`
}

// Parse reads a profile strictly: unknown fields and missing values are
// errors. name names the data in messages.
func Parse(name string, data []byte) (*Profile, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	p := &Profile{}
	if err := dec.Decode(p); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if err := p.validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return p, nil
}

// MustParse is Parse for data embedded in this module, which is tested.
func MustParse(name string, data []byte) *Profile {
	p, err := Parse(name, data)
	if err != nil {
		panic(err)
	}
	return p
}

func (p *Profile) validate() error {
	var missing []string
	need := func(field, v string) {
		if v == "" {
			missing = append(missing, field)
		}
	}
	need("arch", p.Arch)
	need("gnu-triplet", p.GNUTriplet)
	need("kernel.package", p.Kernel.Package)
	need("kernel.console", p.Kernel.Console)
	need("boot.busybox", p.Boot.Busybox)
	need("boot.efi.binary", p.Boot.EFI.Binary)
	need("boot.efi.platform", p.Boot.EFI.Platform)
	need("qemu.command", p.Qemu.Command)
	need("qemu.machine", p.Qemu.Machine)
	need("qemu.cpu.tcg", p.Qemu.CPU.TCG)
	if len(p.Kernel.ConsoleArgs) == 0 {
		missing = append(missing, "kernel.console-args")
	}
	if len(p.Boot.Packages) == 0 {
		missing = append(missing, "boot.packages")
	}
	if len(p.Qemu.CDROM) == 0 {
		missing = append(missing, "qemu.cdrom")
	}
	if len(p.Qemu.USB) == 0 {
		missing = append(missing, "qemu.usb")
	}
	if len(p.Qemu.Firmware) == 0 {
		missing = append(missing, "qemu.firmware")
	}
	if p.Boot.BIOS != nil {
		need("boot.bios.platform", p.Boot.BIOS.Platform)
		need("boot.bios.hybrid-mbr", p.Boot.BIOS.HybridMBR)
	}
	if len(missing) > 0 {
		return fmt.Errorf("missing %s", strings.Join(missing, ", "))
	}
	if !strings.HasPrefix(p.Kernel.ConsoleArgs[len(p.Kernel.ConsoleArgs)-1], "console="+p.Kernel.Console) {
		return fmt.Errorf("kernel.console-args: the last console= must be the serial console %s (it becomes /dev/console)", p.Kernel.Console)
	}
	seen := map[string]bool{}
	for _, f := range p.Qemu.Firmware {
		if f.Name != "bios" && f.Name != "uefi" {
			return fmt.Errorf("qemu.firmware: unknown firmware %q (bios or uefi)", f.Name)
		}
		if seen[f.Name] {
			return fmt.Errorf("qemu.firmware: %s listed twice", f.Name)
		}
		seen[f.Name] = true
		if (f.Code == "") != (f.Vars == "") {
			return fmt.Errorf("qemu.firmware %s: set both code and vars, or neither", f.Name)
		}
	}
	if seen["bios"] != (p.Boot.BIOS != nil) {
		return fmt.Errorf("qemu.firmware: bios firmware and boot.bios go together")
	}
	return nil
}

// FirmwareNames lists the firmware the architecture boots with, the
// default first.
func (p *Profile) FirmwareNames() []string {
	var out []string
	for _, f := range p.Qemu.Firmware {
		out = append(out, f.Name)
	}
	return out
}

// Firmware returns the named firmware ("" for the default).
func (p *Profile) Firmware(name string) (*Firmware, error) {
	if name == "" {
		return &p.Qemu.Firmware[0], nil
	}
	for i := range p.Qemu.Firmware {
		if p.Qemu.Firmware[i].Name == name {
			return &p.Qemu.Firmware[i], nil
		}
	}
	return nil, fmt.Errorf("%s boots with %s, not %q", p.Arch, strings.Join(p.FirmwareNames(), " or "), name)
}

// QemuRun describes one qemu run.
type QemuRun struct {
	// ISO is the image to boot from.
	ISO string
	// Firmware is the firmware's name ("" for the default).
	Firmware string
	// Media is how the ISO is attached: "cdrom" (default) or "usb".
	Media string
	// KVM selects hardware virtualization; otherwise TCG emulates.
	KVM bool
	// VarsCopy is a writable copy of the firmware's Vars file (the caller
	// makes it, see Firmware.Vars); unused without UEFI flash.
	VarsCopy string
}

// QemuCommand returns the qemu command line (program first) for run: no
// display, the serial console on standard input and output, no monitor,
// and no reboot (a crash ends qemu instead of looping).
func (p *Profile) QemuCommand(run QemuRun) ([]string, error) {
	fw, err := p.Firmware(run.Firmware)
	if err != nil {
		return nil, err
	}
	q := p.Qemu
	accel, cpu := "tcg", q.CPU.TCG
	if run.KVM {
		accel, cpu = "kvm", q.CPU.KVM
		if cpu == "" {
			cpu = "host"
		}
	}
	args := []string{q.Command,
		"-machine", q.Machine + ",accel=" + accel,
		"-cpu", cpu,
		"-m", fmt.Sprint(max(q.Memory, 256)),
		"-smp", fmt.Sprint(max(q.SMP, 1)),
		"-nographic", "-monitor", "none", "-serial", "stdio",
		"-no-reboot",
	}
	if fw.Code != "" {
		if run.VarsCopy == "" {
			return nil, fmt.Errorf("%s %s firmware needs a writable copy of %s", p.Arch, fw.Name, fw.Vars)
		}
		args = append(args,
			"-drive", "if=pflash,format=raw,unit=0,readonly=on,file="+fw.Code,
			"-drive", "if=pflash,format=raw,unit=1,file="+run.VarsCopy)
	}
	media := q.CDROM
	switch run.Media {
	case "", "cdrom":
	case "usb":
		media = q.USB
	default:
		return nil, fmt.Errorf("unknown media %q (cdrom or usb)", run.Media)
	}
	for _, a := range media {
		args = append(args, strings.ReplaceAll(a, "{iso}", run.ISO))
	}
	return args, nil
}

// Check reports a missing firmware file with the package to install.
func (f *Firmware) Check() error {
	for _, p := range []string{f.Code, f.Vars} {
		if p == "" {
			continue
		}
		if _, err := os.Stat(p); err != nil {
			return fmt.Errorf("%s firmware %s: %w (install %s)", f.Name, filepath.Base(p), err, f.Package)
		}
	}
	return nil
}
