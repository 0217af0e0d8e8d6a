package buildrun_test

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stx-build/stx-build/buildrun"
)

// TestBuildDepsInstallHasNoNetwork builds a package whose
// build-dependency (a project package) has a postinst that connects to
// a listener of the test on the host's loopback and on another address of
// the host. The postinst runs as root while the build environment is
// installed, which has no network: both connections fail, the listener
// sees nothing, and (the postinst tolerating it) the build succeeds.
func TestBuildDepsInstallHasNoNetwork(t *testing.T) {
	needBuildHost(t)
	ln, err := net.Listen("tcp4", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var arrived atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			arrived.Add(1)
			c.Close()
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port
	addrs := []string{net.JoinHostPort("127.0.0.1", strconv.Itoa(port))}
	if ip := outsideIPv4(); ip != "" {
		addrs = append(addrs, net.JoinHostPort(ip, strconv.Itoa(port)))
	}
	// The same probes from the host reach the listener, so the failures
	// below are the sandbox's doing.
	for _, a := range addrs {
		c, err := net.Dial("tcp", a)
		if err != nil {
			t.Fatalf("probe listener unreachable from the host at %s: %v", a, err)
		}
		c.Close()
	}
	// Wait for the accept loop to count the host's own probes.
	for deadline := time.Now().Add(5 * time.Second); arrived.Load() < int32(len(addrs)) && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	arrived.Store(0)

	dir := copyProject(t, t.TempDir(), false, "stx-postinst-probe", "stx-uses-probe")
	postinst := filepath.Join(dir, "packages", "stx-postinst-probe", "src", "debian", "postinst")
	data, err := os.ReadFile(postinst)
	if err != nil {
		t.Fatal(err)
	}
	data = bytes.ReplaceAll(data, []byte("@PROBE_ADDRESSES@"), []byte(strings.Join(addrs, " ")))
	if err := os.WriteFile(postinst, data, 0o755); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	_, _, err = build(t, dir, buildrun.Options{Archs: []string{"amd64"}, Packages: []string{"stx-postinst-probe", "stx-uses-probe"}, OutDir: out})
	log, _ := os.ReadFile(filepath.Join(out, "amd64", "logs", "stx-uses-probe_1.0.log"))
	if n := arrived.Load(); n != 0 {
		t.Errorf("%d connections from the build environment's install arrived at %v", n, addrs)
	}
	if bytes.Contains(log, []byte("stx-postinst-probe: REACHED")) {
		t.Errorf("the postinst reached the network:\n%s", lastLines(log, 30))
	}
	for _, a := range addrs {
		if !bytes.Contains(log, []byte("stx-postinst-probe: cannot reach "+a)) {
			t.Errorf("log does not show the postinst failing to reach %s:\n%s", a, lastLines(log, 30))
		}
	}
	if err != nil {
		t.Fatalf("the postinst tolerates no network, so the build should succeed: %v", err)
	}
}

// outsideIPv4 is an IPv4 address of the host other than loopback, or "".
func outsideIPv4() string {
	as, err := net.InterfaceAddrs()
	if err != nil {
		return ""
	}
	for _, a := range as {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && !n.IP.IsLoopback() {
			return n.IP.String()
		}
	}
	return ""
}
