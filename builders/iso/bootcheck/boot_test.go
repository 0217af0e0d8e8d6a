package bootcheck

import (
	"strings"
	"testing"
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
