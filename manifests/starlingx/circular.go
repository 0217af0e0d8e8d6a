package starlingx

import (
	"os"
	"path/filepath"
	"sort"
	"strconv"
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

// Repeated lists the packages the order names more than once, in order
// of their first appearance. build-pkgs builds each of them once, at its
// first place: a later appearance is skipped as "has been built/reused in
// this round" (build-tools/stx/build-pkgs, the build loop).
func (g CircularGroup) Repeated() []string {
	seen := map[string]int{}
	var out []string
	for _, p := range g.Order {
		if seen[p]++; seen[p] == 2 {
			out = append(out, p)
		}
	}
	return out
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

// LayerOrder lists the tree's layers by build priority, lowest first, as
// build-pkgs orders them: stx-tools/debian-mirror-tools/config/debian/
// <codename>/<layer>/priority (compiler 10, distro 20, flock 30, ...), 99
// for a layer without one (discovery.py get_layer_priority), ties by name.
// The layers are those of the config directory and of the repos read.
func (t *Tree) LayerOrder() []string {
	dir := filepath.Join(t.Root, "stx-tools", "debian-mirror-tools", "config", "debian", t.Codename)
	prio := map[string]int{}
	if entries, err := os.ReadDir(dir); err == nil {
		for _, e := range entries {
			if e.IsDir() && e.Name() != "common" {
				prio[e.Name()] = 99
			}
		}
	}
	for _, r := range t.Repos {
		if r.Layer != "" {
			prio[r.Layer] = 99
		}
	}
	for l := range prio {
		if data, err := regularfile.Read(filepath.Join(dir, l, "priority"), maxListFile); err == nil {
			if lines := listLines(data); len(lines) > 0 {
				if n, err := strconv.Atoi(lines[0].text); err == nil {
					prio[l] = n
				}
			}
		}
	}
	out := make([]string, 0, len(prio))
	for l := range prio {
		out = append(out, l)
	}
	sort.Slice(out, func(i, j int) bool {
		if prio[out[i]] != prio[out[j]] {
			return prio[out[i]] < prio[out[j]]
		}
		return out[i] < out[j]
	})
	return out
}
