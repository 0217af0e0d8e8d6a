package iso

import (
	"strconv"
	"time"
)

// masterSpec describes the ISO xorriso writes.
type masterSpec struct {
	// Tree is the medium's content.
	Tree string
	// Output is the ISO file.
	Output string
	// Label is the volume identifier.
	Label string
	// Epoch is SOURCE_DATE_EPOCH: every date in the image.
	Epoch int64
	// BIOS: the El Torito no-emulation image (relative to Tree) and GRUB's
	// hybrid MBR (a host path); empty for UEFI-only architectures.
	BIOSImage, HybridMBR string
	// EFIImage is the EFI system partition image, relative to Tree.
	EFIImage string
}

// xorrisoArgs is the mastering command: Rock Ridge and Joliet, El Torito
// boot entries for BIOS (GRUB's eltorito.img, with boot info table) and
// UEFI (the FAT image), GRUB's hybrid MBR and a GPT whose EFI system
// partition is the same FAT image, so the image boots as a CD and when
// written to a USB stick.
//
// Reproducibility: every volume date and every file's dates are the epoch
// (-volume_date, -iso_nowtime), the GPT disk GUID (and from it the
// partition GUIDs) is derived from the volume's "uuid" date instead of
// being random, and the tree's own mtimes were set to the epoch.
func xorrisoArgs(s masterSpec) []string {
	t := time.Unix(s.Epoch, 0).UTC()
	stamp := t.Format("20060102150405") + "00"
	at := "=" + strconv.FormatInt(s.Epoch, 10)
	args := []string{
		"-report_about", "WARNING",
		"-volume_date", "uuid", stamp,
		"-volume_date", "c", at,
		"-volume_date", "m", at,
		"-volume_date", "all_file_dates", at,
		"-iso_nowtime", at,
		"-boot_image", "any", "gpt_disk_guid=volume_date_uuid",
		"-as", "mkisofs",
		"-o", s.Output,
		"-V", s.Label,
		"-iso-level", "3",
		"-full-iso9660-filenames",
		"-joliet", "-joliet-long",
		"-rational-rock",
		"--modification-date=" + stamp,
	}
	if s.BIOSImage != "" {
		args = append(args,
			"-b", s.BIOSImage,
			"-no-emul-boot", "-boot-load-size", "4", "-boot-info-table",
			"--grub2-boot-info", "--grub2-mbr", s.HybridMBR,
			"-eltorito-alt-boot")
	}
	args = append(args,
		"-e", s.EFIImage, "-no-emul-boot",
		"-efi-boot-part", "--efi-boot-image",
		"--protective-msdos-label",
		s.Tree)
	return args
}
