package netns

import (
	"os"
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

// TestRerun runs TestRerunChild again in an empty network namespace: it
// passes there, and a child that fails is reported with its output.
func TestRerun(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("unshare --net needs root")
	}
	if err := Rerun("TestRerunChild", rerunEnv+"=lo"); err != nil {
		t.Fatal(err)
	}
	err := Rerun("TestRerunChild", rerunEnv+"=fail")
	if err == nil || !strings.Contains(err.Error(), "asked to fail") {
		t.Fatalf("a failing child: %v", err)
	}
}

const rerunEnv = "STX_TEST_NETNS_CHILD"

func TestRerunChild(t *testing.T) {
	switch os.Getenv(rerunEnv) {
	case "":
		t.Skip("run by TestRerun")
	case "fail":
		t.Fatal("asked to fail")
	}
	if err := OnlyLoopback(); err != nil {
		t.Fatal(err)
	}
}
