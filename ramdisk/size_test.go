package ramdisk

import (
	"math"
	"testing"
)

func TestPaddedSize(t *testing.T) {
	tests := []struct {
		size, min, want int64
	}{
		{0, MinTmpfsSize, 2560 * MiB},       // unknown: DefaultSize + 25%
		{2 * GiB, MinTmpfsSize, 2560 * MiB}, // same
		{MiB, MinTmpfsSize, MinTmpfsSize},   // small: the minimum
		{300 * MiB, MinTmpfsSize, 375 * MiB},
		{100*MiB + 1, 0, 126 * MiB}, // rounded up to a MiB
		{MiB, MiB, 2 * MiB},         // 1.25 MiB rounds up
		{4 * MiB, MiB, 5 * MiB},
		{-5, MinTmpfsSize, 2560 * MiB},
		{math.MaxInt64, 0, math.MaxInt64},
		{math.MaxInt64 / 10 * 9, 0, math.MaxInt64},
		{4 * (1 << 60), 0, 5 * (1 << 60)},
	}
	for _, tt := range tests {
		if got := PaddedSize(tt.size, tt.min); got != tt.want {
			t.Errorf("PaddedSize(%d, %d) = %d (%s), want %d (%s)", tt.size, tt.min, got, FormatSize(got), tt.want, FormatSize(tt.want))
		}
	}
	// Monotonic and never below the prediction, across the range.
	prev := int64(0)
	for s := int64(1); s > 0 && s < math.MaxInt64/3; s = s*3 + 7 {
		p := PaddedSize(s, MiB)
		if p < s || p < prev || p%MiB != 0 {
			t.Fatalf("PaddedSize(%d) = %d (previous %d)", s, p, prev)
		}
		prev = p
	}
}

func TestFormatSize(t *testing.T) {
	tests := []struct {
		n    int64
		want string
	}{
		{0, "0 B"},
		{512, "512 B"},
		{1023, "1023 B"},
		{1024, "1.0 KiB"},
		{1536 * MiB, "1.5 GiB"},
		{2 * GiB, "2.0 GiB"},
		{256 * MiB, "256.0 MiB"},
		{GiB - 1, "1.0 GiB"},
		{-1536 * MiB, "-1.5 GiB"},
		{math.MaxInt64, "8.0 EiB"},
	}
	for _, tt := range tests {
		if got := FormatSize(tt.n); got != tt.want {
			t.Errorf("FormatSize(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
}
