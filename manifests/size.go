package manifests

import (
	"fmt"
	"math/big"
	"regexp"
	"strings"
)

// sizePattern is a decimal number and an optional unit.
var sizePattern = regexp.MustCompile(`^([0-9]+(?:\.[0-9]+)?) ?([A-Za-z]*)$`)

// sizeUnits are binary: K, KiB and KB all mean 1024 bytes.
var sizeUnits = map[string]int64{
	"": 1, "b": 1,
	"k": 1 << 10, "kb": 1 << 10, "kib": 1 << 10,
	"m": 1 << 20, "mb": 1 << 20, "mib": 1 << 20,
	"g": 1 << 30, "gb": 1 << 30, "gib": 1 << 30,
	"t": 1 << 40, "tb": 1 << 40, "tib": 1 << 40,
}

// ParseSize parses a byte size such as "512MiB", "2GiB", "4G", "1.5G" or
// "1048576". Units are binary whatever their spelling (K, KB and KiB are all
// 1024 bytes) and case-insensitive; a bare number is bytes. Fractions are
// rounded down to a whole byte.
func ParseSize(s string) (int64, error) {
	m := sizePattern.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return 0, fmt.Errorf("invalid size %q (use a number with an optional unit, such as 512MiB or 2GiB)", s)
	}
	unit, ok := sizeUnits[strings.ToLower(m[2])]
	if !ok {
		return 0, fmt.Errorf("invalid size %q: unknown unit %q (use B, KiB, MiB, GiB or TiB)", s, m[2])
	}
	// The pattern only admits plain decimals, which big.Rat parses exactly.
	r, _ := new(big.Rat).SetString(m[1])
	r.Mul(r, new(big.Rat).SetInt64(unit))
	n := new(big.Int).Quo(r.Num(), r.Denom())
	if !n.IsInt64() {
		return 0, fmt.Errorf("invalid size %q: too large", s)
	}
	return n.Int64(), nil
}
