package iso

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/stx-build/stx-build/arch"
	"github.com/stx-build/stx-build/rootfs"
)

// Paths on the medium.
const (
	kernelPath   = "live/vmlinuz"
	initrdPath   = "live/initrd.img"
	squashfsPath = "live/filesystem.squashfs"
	packagesPath = "live/filesystem.packages"
	grubCfgPath  = "boot/grub/grub.cfg"
	biosImgPath  = "boot/grub/i386-pc/eltorito.img"
	efiImgPath   = "boot/grub/efi.img"
)

// menuEntry is one rendered boot menu entry.
type menuEntry struct {
	Title string
	Args  []string
}

// grubConfig renders boot/grub/grub.cfg: the terminals, the menu, and for
// each entry the kernel with its arguments and the initramfs.
func grubConfig(terminal []string, timeout int, entries []menuEntry) []byte {
	var b strings.Builder
	b.WriteString("# Written by stx-build.\n")
	for _, l := range terminal {
		b.WriteString(l + "\n")
	}
	fmt.Fprintf(&b, "set timeout=%d\nset default=0\n", timeout)
	for _, e := range entries {
		fmt.Fprintf(&b, "\nmenuentry %s {\n", grubQuote(e.Title))
		fmt.Fprintf(&b, "\tlinux /%s %s\n", kernelPath, strings.Join(e.Args, " "))
		fmt.Fprintf(&b, "\tinitrd /%s\n}\n", initrdPath)
	}
	return []byte(b.String())
}

// grubQuote quotes s as one word for GRUB's shell-like parser.
func grubQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// embeddedConfig is built into each GRUB image: it finds the medium by
// label (the EFI image is loaded from the EFI system partition, not from
// the ISO 9660 file system) and points GRUB at boot/grub there, where
// normal mode reads grub.cfg.
func embeddedConfig(label string) []byte {
	return []byte(fmt.Sprintf("search --no-floppy --set=root --label %s\nset prefix=($root)/boot/grub\n", label))
}

// grubImage makes one GRUB image with every module it needs built in, so
// the medium carries no module directories.
func grubImage(ctx context.Context, tools *toolRunner, format, moduleDir, embedCfg, out string, modules []string) error {
	args := []string{"-O", format, "-d", moduleDir, "-p", "/boot/grub", "-c", embedCfg, "-o", out}
	args = append(args, modules...)
	return tools.run(ctx, "grub-mkimage", args...)
}

// efiImage makes the EFI system partition image holding
// EFI/BOOT/<binary>: a FAT file system made with constant ids and times
// (mkfs.fat --invariant, a volume id from the epoch) and filled by mcopy
// with the files' mtimes (set to the epoch), in UTC.
func efiImage(ctx context.Context, tools *toolRunner, efiBinary, name, work, out string, epoch int64) error {
	tree := filepath.Join(work, "esp")
	boot := filepath.Join(tree, "EFI", "BOOT")
	if err := os.MkdirAll(boot, 0o755); err != nil {
		return err
	}
	data, err := os.ReadFile(efiBinary)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(boot, name), data, 0o644); err != nil {
		return err
	}
	if err := rootfs.ClampTimes(tree, time.Unix(epoch, 0)); err != nil {
		return err
	}
	kib := espSizeKiB(int64(len(data)))
	os.Remove(out)
	if err := tools.run(ctx, "mkfs.fat", "-C", "--invariant", "-i", fmt.Sprintf("%08X", uint32(epoch)), "-n", "STX_EFI", out, strconv.FormatInt(kib, 10)); err != nil {
		return err
	}
	return tools.run(ctx, "mcopy", "-s", "-m", "-i", out, filepath.Join(tree, "EFI"), "::/")
}

// espSizeKiB sizes the EFI system partition image for one file of n
// bytes: the file plus FAT overhead and slack, in whole 64 KiB steps.
func espSizeKiB(n int64) int64 {
	kib := (n+1023)/1024 + n/1024/8 + 256
	return (kib + 63) / 64 * 64
}

// bootFiles makes the boot loader files for p in dir (the medium's tree):
// grub.cfg, the EFI image (and EFI/BOOT/<binary> on the medium too, for
// firmware that reads ISO 9660), and for BIOS the El Torito image.
func bootFiles(ctx context.Context, tools *toolRunner, p *arch.Profile, grubRoot, label, work, dir string, cfg []byte, epoch int64) error {
	for _, d := range []string{filepath.Join(dir, "boot/grub"), work} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	if err := os.WriteFile(filepath.Join(dir, grubCfgPath), cfg, 0o644); err != nil {
		return err
	}
	embed := filepath.Join(work, "embed.cfg")
	if err := os.WriteFile(embed, embeddedConfig(label), 0o644); err != nil {
		return err
	}
	efi := p.Boot.EFI
	efiBin := filepath.Join(work, efi.Binary)
	mods := append(append([]string(nil), p.Boot.GrubModules...), efi.Modules...)
	if err := grubImage(ctx, tools, efi.Platform, filepath.Join(grubRoot, "usr/lib/grub", efi.Platform), embed, efiBin, mods); err != nil {
		return err
	}
	if err := efiImage(ctx, tools, efiBin, efi.Binary, work, filepath.Join(dir, efiImgPath), epoch); err != nil {
		return err
	}
	data, err := os.ReadFile(efiBin)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(dir, "EFI/BOOT"), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "EFI/BOOT", efi.Binary), data, 0o644); err != nil {
		return err
	}
	if bios := p.Boot.BIOS; bios != nil {
		out := filepath.Join(dir, biosImgPath)
		if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
			return err
		}
		mods := append(append([]string(nil), p.Boot.GrubModules...), bios.Modules...)
		if err := grubImage(ctx, tools, bios.Platform+"-eltorito", filepath.Join(grubRoot, "usr/lib/grub", bios.Platform), embed, out, mods); err != nil {
			return err
		}
	}
	return nil
}
