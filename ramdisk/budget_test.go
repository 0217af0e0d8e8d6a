package ramdisk

import (
	"math/rand"
	"strings"
	"sync"
	"testing"
)

func TestBudgetReserveRelease(t *testing.T) {
	type step struct {
		op    string // "reserve" or "release"
		n     int64
		ok    bool // for reserve
		inUse int64
	}
	tests := []struct {
		name  string
		total int64
		steps []step
	}{
		{"fill exactly", 100, []step{
			{"reserve", 60, true, 60},
			{"reserve", 41, false, 60},
			{"reserve", 40, true, 100},
			{"reserve", 1, false, 100},
			{"reserve", 0, true, 100},
			{"release", 60, false, 40},
			{"reserve", 60, true, 100},
		}},
		{"negative and over-release", 100, []step{
			{"reserve", -1, false, 0},
			{"reserve", 10, true, 10},
			{"release", -5, false, 10},
			{"release", 50, false, 0}, // clamped, never negative
			{"reserve", 100, true, 100},
		}},
		{"zero total", 0, []step{
			{"reserve", 1, false, 0},
			{"reserve", 0, true, 0},
		}},
		{"negative total", -10, []step{
			{"reserve", 1, false, 0},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := NewBudget(tt.total)
			for i, s := range tt.steps {
				switch s.op {
				case "reserve":
					if fits := b.Fits(s.n); fits != s.ok {
						t.Errorf("step %d: Fits(%d) = %v, want %v", i, s.n, fits, s.ok)
					}
					if got := b.TryReserve(s.n); got != s.ok {
						t.Errorf("step %d: TryReserve(%d) = %v, want %v", i, s.n, got, s.ok)
					}
				case "release":
					b.Release(s.n)
				}
				if got := b.InUse(); got != s.inUse {
					t.Errorf("step %d (%s %d): InUse = %d, want %d", i, s.op, s.n, got, s.inUse)
				}
			}
		})
	}
}

func TestBudgetConcurrent(t *testing.T) {
	const total = 1000
	b := NewBudget(total)
	var wg sync.WaitGroup
	for g := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewSource(int64(g)))
			var held []int64
			for range 2000 {
				if len(held) > 0 && r.Intn(2) == 0 {
					b.Release(held[len(held)-1])
					held = held[:len(held)-1]
				} else if n := int64(r.Intn(150)); b.TryReserve(n) {
					held = append(held, n)
				}
				if u := b.InUse(); u < 0 || u > total {
					t.Errorf("InUse = %d, outside [0, %d]", u, total)
					return
				}
			}
			for _, n := range held {
				b.Release(n)
			}
		}()
	}
	wg.Wait()
	if u := b.InUse(); u != 0 {
		t.Errorf("InUse after all releases = %d, want 0", u)
	}
	if b.Total() != total {
		t.Errorf("Total = %d", b.Total())
	}
}

func TestParseMemAvailable(t *testing.T) {
	tests := []struct {
		name, in string
		want     int64
		err      string
	}{
		{"debian 12", "MemTotal:       24684092 kB\nMemFree:        20000000 kB\nMemAvailable:   24325452 kB\nBuffers:  1 kB\n", 24325452 * 1024, ""},
		{"no unit", "MemAvailable: 4096\n", 4096, ""},
		{"missing", "MemTotal: 1 kB\n", 0, "no MemAvailable"},
		{"garbage", "MemAvailable: lots kB\n", 0, "malformed"},
		{"odd unit", "MemAvailable: 5 MB\n", 0, "unknown unit"},
		{"huge", "MemAvailable: 99999999999999999 kB\n", 0, "too large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseMemAvailable(strings.NewReader(tt.in))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want one containing %q", err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("= %d, %v; want %d", got, err, tt.want)
			}
		})
	}
}

func TestDefaultBudget(t *testing.T) {
	n, err := DefaultBudget()
	if err != nil {
		t.Skipf("no /proc/meminfo: %v", err)
	}
	if n <= 0 {
		t.Errorf("DefaultBudget = %d", n)
	}
}
