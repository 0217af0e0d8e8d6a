package bootcheck

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stx-build/stx-build/arch"
)

func TestWatcher(t *testing.T) {
	w := &watcher{expect: "STX-BOOT-MARKER: booted", fail: DefaultFail, found: make(chan string, 1), failed: make(chan string, 1)}
	for _, chunk := range []string{"[  OK  ] Started\r\n", "STX-BOOT-", "MARKER: boo", "ted\r\n", "more\n"} {
		w.Write([]byte(chunk))
	}
	select {
	case line := <-w.found:
		if line != "STX-BOOT-MARKER: booted" {
			t.Errorf("line %q", line)
		}
	default:
		t.Fatal("marker split across writes not found")
	}
	if tail := w.tail(2); tail != "    | STX-BOOT-MARKER: booted\n    | more\n" {
		t.Errorf("tail %q", tail)
	}

	w = &watcher{expect: "login:", fail: DefaultFail, found: make(chan string, 1), failed: make(chan string, 1)}
	w.Write([]byte("stx-live: error: no medium labelled X\n"))
	select {
	case line := <-w.failed:
		if !strings.Contains(line, "no medium") {
			t.Errorf("failed line %q", line)
		}
	default:
		t.Fatal("failure text not seen")
	}
	// A prompt without a newline counts.
	w = &watcher{expect: "login:", found: make(chan string, 1), failed: make(chan string, 1)}
	w.Write([]byte("\nlocalhost login: "))
	if len(w.found) != 1 {
		t.Error("prompt without newline not found")
	}
}

func TestStripControl(t *testing.T) {
	if got := stripControl("\x1b[2J\x1b[01;01H\x1b[=3hBdsDxe: ok\x07"); got != "BdsDxe: ok" {
		t.Errorf("%q", got)
	}
}

func TestHasCPUFlag(t *testing.T) {
	info := []byte("processor\t: 0\nflags\t\t: fpu vme de pse hypervisor lahf_lm\n")
	if hasCPUFlag(info, "vmx") || !hasCPUFlag(info, "hypervisor") || hasCPUFlag(info, "lahf") {
		t.Error("flag parsing")
	}
}

func TestUseKVM(t *testing.T) {
	if kvm, err := useKVM("tcg", "amd64"); kvm || err != nil {
		t.Errorf("tcg: %v %v", kvm, err)
	}
	if _, err := useKVM("warp", "amd64"); err == nil {
		t.Error("unknown accelerator accepted")
	}
	if kvm, _ := useKVM("auto", "sparc64"); kvm {
		t.Error("KVM for a foreign architecture")
	}
}

// Run with a stand-in for qemu (a script printing a console): the
// expected text ends the boot, a fail text or qemu's exit is an *Error
// with the console's last lines.
func TestRunFakeQemu(t *testing.T) {
	dir := t.TempDir()
	iso := filepath.Join(dir, "x.iso")
	if err := os.WriteFile(iso, []byte("iso"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, console, want, wantErr string
	}{
		{"found", `echo booting; echo "login: STX-BOOT-MARKER"; exec sleep 30`, "login: STX-BOOT-MARKER", ""},
		{"panic", `echo booting; echo "Kernel panic - not syncing: VFS"; exec sleep 30`, "", "failed after"},
		{"exit", `echo booting; exit 3`, "", "qemu exited"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			qemu := filepath.Join(dir, "qemu-"+tc.name)
			if err := os.WriteFile(qemu, []byte("#!/bin/sh\n"+tc.console+"\n"), 0o755); err != nil {
				t.Fatal(err)
			}
			p := &arch.Profile{Arch: "riscv64"}
			p.Qemu.Command, p.Qemu.Machine = qemu, "virt"
			p.Qemu.CDROM = []string{"-cdrom", "{iso}"}
			p.Qemu.Firmware = []arch.Firmware{{Name: "bios"}}
			res, err := Run(context.Background(), Options{ISO: iso, Profile: p, Expect: "STX-BOOT-MARKER", Accel: "tcg", Timeout: 20 * time.Second})
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if res.Line != tc.want || res.Accel != "tcg" || res.Command[0] != qemu {
					t.Errorf("got %+v", res)
				}
				return
			}
			var be *Error
			if !errors.As(err, &be) || !strings.Contains(be.Reason, tc.wantErr) || !strings.Contains(be.Tail, "booting") {
				t.Errorf("got %v, want an *Error %q with the console's tail", err, tc.wantErr)
			}
		})
	}
}
