// Package netns tells whether this process runs with no network: in a
// network namespace whose only interface is the loopback, as `unshare
// --net` makes one. The offline tests run their second build in one and
// check it first, so that "offline" is proven, not assumed.
package netns

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// devFile lists this process's network namespace's interfaces
// (/sys/class/net is the namespace sysfs was mounted in, not this one).
const devFile = "/proc/self/net/dev"

// OnlyLoopback returns nil when lo is the only interface of this
// process's network namespace, else an error naming the first other one.
func OnlyLoopback() error {
	data, err := os.ReadFile(devFile)
	if err != nil {
		return err
	}
	return onlyLoopback(string(data))
}

func onlyLoopback(dev string) error {
	for _, l := range strings.Split(dev, "\n") {
		if name, _, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(name) != "lo" {
			return fmt.Errorf("not in an empty network namespace: %s", strings.TrimSpace(name))
		}
	}
	return nil
}

// Rerun runs this test binary again with only the test named test, in a
// new network namespace with no network (unshare --net), with env added
// to this process's environment. Unless that test passed, the error holds
// the run's last 60 lines.
func Rerun(test string, env ...string) error {
	if _, err := exec.LookPath("unshare"); err != nil {
		return fmt.Errorf("unshare (util-linux) not installed")
	}
	cmd := exec.Command("unshare", "--net", os.Args[0], "-test.run=^"+test+"$", "-test.v", "-test.count=1", "-test.timeout=60m")
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err == nil && strings.Contains(string(out), "--- PASS: "+test) {
		return nil
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return fmt.Errorf("%s in an empty network namespace: %v\n%s", test, err, strings.Join(lines[max(0, len(lines)-60):], "\n"))
}
