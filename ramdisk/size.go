package ramdisk

import (
	"fmt"
	"math"
)

const (
	// MiB and GiB are binary size units.
	MiB int64 = 1 << 20
	GiB int64 = 1 << 30

	// DefaultSize is the predicted size used when a request says 0
	// (unknown): enough for most source packages' build trees.
	DefaultSize = 2 * GiB
	// PadPercent is how much larger than predicted a tmpfs is mounted,
	// because predictions from history or manifests are rough.
	PadPercent = 25
	// MinTmpfsSize is the smallest tmpfs mounted (by default): below it
	// the padding would not absorb even a small misprediction.
	MinTmpfsSize = 256 * MiB
)

// PaddedSize is the size of the tmpfs mounted for a predicted size:
// PadPercent more, at least minSize, rounded up to a whole MiB. A size of 0
// counts as DefaultSize. It saturates at math.MaxInt64 instead of
// overflowing.
func PaddedSize(size, minSize int64) int64 {
	if size <= 0 {
		size = DefaultSize
	}
	if size > (math.MaxInt64-MiB)/(100+PadPercent)*100 {
		return math.MaxInt64
	}
	// Split the multiplication so that it cannot overflow.
	p := size + size/100*PadPercent + size%100*PadPercent/100
	p = max(p, minSize)
	return (p + MiB - 1) / MiB * MiB
}

var sizeUnits = []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}

// FormatSize formats a byte count for people: "512 B", "1.5 GiB",
// "256.0 MiB" (binary units, one decimal).
func FormatSize(n int64) string {
	if n > -1024 && n < 1024 {
		return fmt.Sprintf("%d B", n)
	}
	v := float64(n)
	u := 0
	// Move up a unit before the rounded value would print as 1024.0.
	for math.Abs(v) >= 1023.95 && u < len(sizeUnits)-1 {
		v /= 1024
		u++
	}
	return fmt.Sprintf("%.1f %s", v, sizeUnits[u])
}
