package starlingx

import (
	"path/filepath"
	"strings"

	"github.com/stx-build/stx-build/internal/regularfile"
)

// CircularGroup is one entry of build-tools/stx/circular_dep.conf: a set
// of source packages that depend on each other and the order StarlingX
// builds them in, serially (a package may appear twice).
type CircularGroup struct {
	Set   []string
	Order []string
	// Line is where "BUILD ORDER:" is, in File (relative to the root).
	File string
	Line int
}

// Before reports whether a is built before b in the group's order, by
// their first appearance; false when either is not in it.
func (g CircularGroup) Before(a, b string) bool {
	ia, ib := -1, -1
	for i, p := range g.Order {
		if p == a && ia < 0 {
			ia = i
		}
		if p == b && ib < 0 {
			ib = i
		}
	}
	return ia >= 0 && ib >= 0 && ia < ib
}

// CircularGroups reads build-tools/stx/circular_dep.conf ("SRC SET:" then
// "BUILD ORDER:" lines, "#" comments); nil when the tree has none.
func (t *Tree) CircularGroups() []CircularGroup {
	file := filepath.Join(t.MyRepo, "build-tools", "stx", "circular_dep.conf")
	data, err := regularfile.Read(file, maxListFile)
	if err != nil {
		return nil
	}
	var out []CircularGroup
	var set []string
	for _, l := range listLines(data) {
		if v, ok := strings.CutPrefix(l.text, "SRC SET:"); ok {
			set = strings.Fields(v)
			continue
		}
		if v, ok := strings.CutPrefix(l.text, "BUILD ORDER:"); ok && set != nil {
			out = append(out, CircularGroup{Set: set, Order: strings.Fields(v), File: t.rel(file), Line: l.line})
			set = nil
		}
	}
	return out
}
