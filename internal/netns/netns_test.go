package netns

import (
	"strings"
	"testing"
)

func TestOnlyLoopback(t *testing.T) {
	const head = "Inter-|   Receive                            |  Transmit\n face |bytes    packets errs drop fifo frame compressed multicast|bytes\n"
	lo := "    lo:       0       0    0    0    0     0          0         0        0\n"
	eth := "  eth0: 1234567    2000    0    0    0     0          0         0   765432\n"
	if err := onlyLoopback(head + lo); err != nil {
		t.Errorf("lo only: %v", err)
	}
	if err := onlyLoopback(head + lo + eth); err == nil || !strings.Contains(err.Error(), "eth0") {
		t.Errorf("with eth0: %v", err)
	}
	// This process (go test) runs with the machine's network or without:
	// either way the file is readable.
	if err := OnlyLoopback(); err != nil && !strings.Contains(err.Error(), "not in an empty network namespace") {
		t.Errorf("OnlyLoopback: %v", err)
	}
}
