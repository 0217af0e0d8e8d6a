// Package netns tells whether this process runs with no network: in a
// network namespace whose only interface is the loopback, as `unshare
// --net` makes one. The offline tests run their second build in one and
// check it first, so that "offline" is proven, not assumed.
package netns

import (
	"fmt"
	"os"
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
