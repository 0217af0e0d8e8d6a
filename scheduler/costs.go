package scheduler

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
)

// Cost is a given estimate for one package: seconds on tmpfs and the peak
// size of its build tree (0: unknown).
type Cost struct {
	Seconds   float64 `json:"seconds"`
	PeakBytes int64   `json:"peak_bytes"`
}

// Costs are estimates by package name ("hello") or by package and
// architecture ("hello:arm64", which wins), e.g. from stx-build plan
// --costs FILE.
type Costs map[string]Cost

// For returns the cost of pkg on arch, if given.
func (c Costs) For(pkg, arch string) (Cost, bool) {
	if v, ok := c[pkg+":"+arch]; ok {
		return v, true
	}
	v, ok := c[pkg]
	return v, ok
}

// ParseCosts reads a costs file: a JSON object
// {"<package>[:<arch>]": {"seconds": S, "peak_bytes": B}, ...}.
func ParseCosts(file string, data []byte) (Costs, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var c Costs
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("%s: %w (want {\"<package>\": {\"seconds\": S, \"peak_bytes\": B}})", file, err)
	}
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := c[k]
		if k == "" || v.Seconds < 0 || v.PeakBytes < 0 {
			return nil, fmt.Errorf("%s: %q: empty name or negative value", file, k)
		}
	}
	return c, nil
}
