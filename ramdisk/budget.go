package ramdisk

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
)

// Budget is a RAM budget in bytes shared by all concurrent tmpfs slots.
// Reservations never exceed the total and the amount in use never goes
// below zero. A Budget is safe for concurrent use and may be shared by
// several Managers. Once a Manager opens with it, it is also shared with
// every other process's Manager on the same root: what they hold counts
// against the total too.
type Budget struct {
	mu     sync.Mutex
	total  int64
	inUse  int64   // reserved by this process
	ledger *ledger // nil: this process only
}

// NewBudget returns a budget of total bytes (a total of 0 or less admits
// nothing).
func NewBudget(total int64) *Budget {
	return &Budget{total: max(total, 0)}
}

// BudgetFraction is the share of MemAvailable that DefaultBudget gives to
// tmpfs slots. The other half is left for what the builds themselves need:
// compilers, linkers and test suites, and the page cache. tmpfs pages can
// only be swapped out, never dropped, so overcommitting them hurts more than
// building on disk.
const BudgetFraction = 0.5

// DefaultBudget is half of MemAvailable (BudgetFraction) from /proc/meminfo.
func DefaultBudget() (int64, error) {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0, fmt.Errorf("ramdisk: default budget: %w", err)
	}
	avail, err := parseMemAvailable(bytes.NewReader(b))
	if err != nil {
		return 0, fmt.Errorf("ramdisk: default budget: /proc/meminfo: %w", err)
	}
	return int64(float64(avail) * BudgetFraction), nil
}

// parseMemAvailable returns MemAvailable in bytes from /proc/meminfo text.
func parseMemAvailable(r io.Reader) (int64, error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		key, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok || key != "MemAvailable" {
			continue
		}
		f := strings.Fields(rest)
		if len(f) == 0 || len(f) > 2 {
			return 0, fmt.Errorf("MemAvailable: malformed value %q", strings.TrimSpace(rest))
		}
		n, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("MemAvailable: malformed value %q", strings.TrimSpace(rest))
		}
		mult := int64(1)
		if len(f) == 2 {
			if f[1] != "kB" {
				return 0, fmt.Errorf("MemAvailable: unknown unit %q", f[1])
			}
			mult = 1024
		}
		if n > (1<<63-1)/mult {
			return 0, fmt.Errorf("MemAvailable: value too large")
		}
		return n * mult, nil
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("no MemAvailable line (Linux 3.14 or later is needed)")
}

// Total is the budget's size in bytes.
func (b *Budget) Total() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.total
}

// InUse is the number of bytes this process has reserved now.
func (b *Budget) InUse() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.inUse
}

// Fits says whether n bytes could be reserved now. The answer may be stale
// by the time it is acted on; TryReserve is the authority.
func (b *Budget) Fits(n int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ledger == nil {
		return n >= 0 && n <= b.total-b.inUse
	}
	fits := false
	err := b.ledger.locked(func(others int64) error {
		fits = n >= 0 && n <= b.total-b.inUse-others
		return nil
	})
	return err == nil && fits
}

// Others is the number of bytes other processes on the same root have
// reserved now (0 for a budget no Manager has opened with).
func (b *Budget) Others() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ledger == nil {
		return 0
	}
	var n int64
	_ = b.ledger.locked(func(others int64) error { n = others; return nil })
	return n
}

// share makes the budget count the reservations of the other runs in l.
// A budget shared already keeps its first ledger.
func (b *Budget) share(l *ledger) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ledger != nil {
		return nil
	}
	b.ledger = l
	return l.locked(func(int64) error { return l.write(b.inUse) })
}

// TryReserve reserves n bytes if they fit, and says whether it did. It never
// blocks. Reserving 0 bytes always succeeds; a negative n never does.
func (b *Budget) TryReserve(n int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ledger == nil {
		if n < 0 || n > b.total-b.inUse {
			return false
		}
		b.inUse += n
		return true
	}
	ok := false
	err := b.ledger.locked(func(others int64) error {
		if n < 0 || n > b.total-b.inUse-others {
			return nil
		}
		if err := b.ledger.write(b.inUse + n); err != nil {
			return err
		}
		b.inUse += n
		ok = true
		return nil
	})
	return err == nil && ok
}

// Release returns n bytes reserved earlier. Returning more than is in use
// (a caller's bug) empties the budget rather than making it negative;
// n <= 0 does nothing.
func (b *Budget) Release(n int64) {
	if n <= 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.inUse = max(b.inUse-n, 0)
	if b.ledger != nil {
		// A failed write leaves the file too high, which only makes the
		// other runs more careful until this run ends.
		_ = b.ledger.locked(func(int64) error { return b.ledger.write(b.inUse) })
	}
}
