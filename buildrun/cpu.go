package buildrun

import (
	"sync"
	"syscall"
	"time"
)

// cpuMeter measures the CPU time of builds that ran alone. The sandbox's
// processes are this process's descendants, reaped by the sandbox init,
// whose usage reaches RUSAGE_CHILDREN when the runner waits for it; but
// that counter is process-wide, so it is only attributed to a build when
// no other build (or publish) ran at any moment of it.
type cpuMeter struct {
	mu      sync.Mutex
	running map[int]*cpuRun
}

type cpuRun struct {
	start   time.Duration
	overlap bool
}

func newCPUMeter() *cpuMeter { return &cpuMeter{running: map[int]*cpuRun{}} }

func childrenCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_CHILDREN, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// begin starts measuring task id.
func (m *cpuMeter) begin(id int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r := &cpuRun{start: childrenCPU()}
	if len(m.running) > 0 {
		r.overlap = true
		for _, o := range m.running {
			o.overlap = true
		}
	}
	m.running[id] = r
}

// end stops measuring id and returns its CPU seconds, or 0 when another
// task overlapped it.
func (m *cpuMeter) end(id int) float64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	r := m.running[id]
	delete(m.running, id)
	if r == nil || r.overlap {
		return 0
	}
	return (childrenCPU() - r.start).Seconds()
}
