package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/stx-build/stx-build/builders/iso"
	"github.com/stx-build/stx-build/builders/iso/bootcheck"
)

// DefaultExpect is what stx-build boot waits for by default: the login
// prompt systemd's serial getty prints on the console.
const DefaultExpect = "login:"

func newBootCmd() *cobra.Command {
	var (
		archName, firmware, media, expect, accel, logFile string
		timeout                                           time.Duration
		quiet                                             bool
	)
	cmd := &cobra.Command{
		Use:   "boot ISO",
		Short: "Boot an ISO in qemu and wait for a line on its serial console",
		Long: `Boot ISO in qemu (KVM when /dev/kvm is usable for the ISO's architecture,
else TCG emulation) with no display and the serial console on a pipe,
and wait for --expect to appear on the console. Exit status 0 when it
does (qemu is stopped then), non-zero with the last console lines when
qemu stops first or --timeout passes. Ctrl-C stops qemu too.

The architecture is read from the ISO (its EFI boot file) unless --arch is
given. --firmware chooses bios (amd64 only; qemu's SeaBIOS) or uefi (OVMF
on amd64, AAVMF on arm64, from Debian's ovmf and qemu-efi-aarch64);
--media usb attaches the ISO as a USB stick instead of a CD-ROM, as if it
had been written to one with dd.`,
		Example: `  stx-build boot out/iso/example-amd64.iso --firmware uefi --expect "STX-BOOT-MARKER"
  stx-build boot out/iso/example-arm64.iso --timeout 15m`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if archName == "" {
				a, err := isoArch(args[0])
				if err != nil {
					return err
				}
				archName = a
			}
			prof, err := iso.Profile(archName)
			if err != nil {
				return err
			}
			opts := bootcheck.Options{
				ISO: args[0], Profile: prof, Firmware: firmware, Media: media,
				Expect: expect, Timeout: timeout, Accel: accel,
			}
			var sinks []io.Writer
			if !quiet {
				sinks = append(sinks, cmd.ErrOrStderr())
			}
			if logFile != "" {
				f, err := os.Create(logFile)
				if err != nil {
					return err
				}
				defer f.Close()
				sinks = append(sinks, f)
			}
			if len(sinks) > 0 {
				opts.Console = io.MultiWriter(sinks...)
			}
			fw, err := prof.Firmware(firmware)
			if err != nil {
				return err
			}
			res, err := bootcheck.Run(cmd.Context(), opts)
			var be *bootcheck.Error
			if errors.As(err, &be) {
				return exitError{code: 1, err: fmt.Errorf("boot %s (%s, %s): %w", args[0], archName, fw.Name, err)}
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "boot %s (%s, %s, %s): %q after %s\n", args[0], archName, fw.Name, res.Accel, res.Line, res.Elapsed.Round(100*time.Millisecond))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&archName, "arch", "", "architecture of the ISO: amd64 or arm64 (default: from the ISO)")
	f.StringVar(&firmware, "firmware", "", "bios or uefi (default: bios on amd64, uefi on arm64)")
	f.StringVar(&media, "media", "cdrom", "attach the ISO as a cdrom or a usb stick")
	f.StringVar(&expect, "expect", DefaultExpect, "text to wait for on the serial console")
	f.DurationVar(&timeout, "timeout", 10*time.Minute, "give up after this long")
	f.StringVar(&accel, "accel", "auto", "auto (KVM when usable), kvm or tcg")
	f.StringVar(&logFile, "log", "", "also write the console to this file")
	f.BoolVarP(&quiet, "quiet", "q", false, "do not copy the console to standard error")
	return cmd
}

// isoArch tells an ISO's architecture (iso.ArchOf), or asks for --arch.
func isoArch(file string) (string, error) {
	a, err := iso.ArchOf(file)
	if errors.Is(err, iso.ErrUnknownArch) {
		return "", fmt.Errorf("%w: give --arch", err)
	}
	return a, err
}
