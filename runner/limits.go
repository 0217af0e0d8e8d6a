package runner

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Limits are a sandbox's resource limits, enforced with a cgroup of its
// own (see CgroupSupport). Zero fields take the defaults.
type Limits struct {
	// Pids is the most processes and threads at once (DefaultPids).
	Pids int64
	// Memory is the most memory in bytes, the page cache and the tmpfs
	// pages the sandbox writes included (DefaultMemory: three quarters of
	// the machine's RAM, so that one runaway build cannot take the host).
	Memory int64
}

// DefaultPids is the default process limit of a sandbox: far above what
// make -j with a compiler per job needs, far below what a fork bomb
// makes.
const DefaultPids = 4096

// DefaultShmSize is the size of the sandbox's /dev/shm.
const DefaultShmSize = 256 << 20

// DefaultMemory is the default memory limit: three quarters of MemTotal
// (at least 1 GiB; 8 GiB when /proc/meminfo cannot be read).
func DefaultMemory() int64 {
	total := memTotal()
	if total <= 0 {
		return 8 << 30
	}
	return max(total/4*3, 1<<30)
}

// memTotal reads MemTotal from /proc/meminfo, in bytes (0 if unknown).
func memTotal() int64 {
	data, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, "MemTotal:"); ok {
			f := strings.Fields(v)
			if len(f) >= 1 {
				kb, _ := strconv.ParseInt(f[0], 10, 64)
				return kb << 10
			}
		}
	}
	return 0
}

// withDefaults returns l with its zero fields set to the defaults.
func (l Limits) withDefaults() Limits {
	if l.Pids <= 0 {
		l.Pids = DefaultPids
	}
	if l.Memory <= 0 {
		l.Memory = DefaultMemory()
	}
	return l
}

// formatBytes is n in the largest binary unit that keeps one decimal.
func formatBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%d bytes", n)
}
