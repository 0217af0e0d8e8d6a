package graph

import (
	"fmt"
	"sort"
	"strings"

	"pault.ag/go/debian/dependency"
	"pault.ag/go/debian/version"
)

// ArchiveIndex maps each binary package name of the archive's indexes for
// one architecture (Architecture: all included) to its versions.
type ArchiveIndex map[string][]ArchivePackage

// ArchivePackage is one version of an archive binary package.
type ArchivePackage struct {
	Version string
	// Depends is Pre-Depends and Depends as written in the index.
	Depends string
	// Essential marks the packages every base root holds.
	Essential bool
}

// VersionConflict says that a binary the project builds cannot be used
// where a build environment needs it: the project's builds always win over
// the archive's (apt pins the project's repository above 1000), and this
// one is older than a relation on it allows.
type VersionConflict struct {
	// Package is the project source whose build environment needs Binary;
	// empty for every build's base root (Essential packages and
	// build-essential).
	Package string `json:"package,omitempty"`
	// Chain lists the archive packages from the build-dependency to the
	// one with the relation, "name version" each; empty when Package's
	// own Build-Depends has it.
	Chain []string `json:"chain,omitempty"`
	// Relation is the relation as written that Binary does not satisfy.
	Relation       string `json:"relation"`
	Binary         string `json:"binary"`
	ProjectVersion string `json:"project_version"`
	ProjectSource  string `json:"project_source"`
}

func (c VersionConflict) String() string {
	var b strings.Builder
	switch {
	case c.Package == "":
		b.WriteString("every build's base root")
	default:
		b.WriteString(c.Package)
	}
	if len(c.Chain) == 0 {
		fmt.Fprintf(&b, " build-depends on %s", c.Relation)
	} else {
		if c.Package == "" {
			b.WriteString(" holds ")
		} else {
			b.WriteString(" needs ")
		}
		fmt.Fprintf(&b, "%s from the archive, which depends on %s", strings.Join(c.Chain, " → "), c.Relation)
	}
	fmt.Fprintf(&b, ", but the project builds %s %s (source %s), and the project's build always replaces the archive's", c.Binary, c.ProjectVersion, c.ProjectSource)
	return b.String()
}

// Conflicts finds, for the sources named in only (every source when only
// is empty) and for the base root, the binaries the project builds that
// are too old for a relation their build environments must satisfy: a
// Build-Depends no other alternative satisfies, or a Depends/Pre-Depends
// of an archive package the environment installs (followed through the
// archive, first satisfiable alternative, as apt does). Relations on
// packages the index does not know (virtual ones) are left to apt.
func Conflicts(srcs []Source, opts Options, idx ArchiveIndex, only []string) ([]VersionConflict, error) {
	host, err := dependency.ParseArch(opts.Arch)
	if err != nil {
		return nil, fmt.Errorf("graph: architecture %q: %w", opts.Arch, err)
	}
	sorted, err := sortedSources(srcs, opts.Arch)
	if err != nil {
		return nil, err
	}
	g := &Graph{Arch: opts.Arch, index: map[string]int{}}
	nodeSrc, nodeProfiles, providers := g.addNodes(sorted, host, opts)
	w := &walker{g: g, host: host, idx: idx, providers: providers, parsed: map[string]dependency.Dependency{}}

	var out []VersionConflict
	want := map[string]bool{}
	for _, n := range only {
		want[n] = true
	}
	for i, s := range nodeSrc {
		if len(want) > 0 && !want[s.Name] {
			continue
		}
		rels := s.BuildDepends.Relations
		rels = append(rels[:len(rels):len(rels)], s.BuildDependsArch.Relations...)
		if g.Nodes[i].BuildsIndep {
			rels = append(rels, s.BuildDependsIndep.Relations...)
		}
		var roots []string
		for _, rel := range rels {
			kept := applicable(rel, host, nodeProfiles[i])
			if len(kept) == 0 {
				continue
			}
			c, root := w.relation(kept, i)
			if c != nil {
				c.Package = s.Name
				out = append(out, *c)
			}
			if root != "" {
				roots = append(roots, root)
			}
		}
		out = append(out, w.walk(s.Name, roots)...)
	}
	// The base root: Essential packages and build-essential.
	var base []string
	for name, vs := range idx {
		if w.projectBuilds(name) {
			continue // the project's build replaces it; its deps are the build's
		}
		if best := newest(vs); best != nil && best.Essential {
			base = append(base, name)
		}
	}
	sort.Strings(base)
	if _, ok := idx["build-essential"]; ok && !w.projectBuilds("build-essential") {
		base = append(base, "build-essential")
	}
	out = append(out, w.walk("", base)...)
	sort.SliceStable(out, func(a, b int) bool {
		if out[a].Package != out[b].Package {
			return out[a].Package < out[b].Package
		}
		return out[a].Binary < out[b].Binary
	})
	return dedupeConflicts(out), nil
}

type walker struct {
	g         *Graph
	host      *dependency.Arch
	idx       ArchiveIndex
	providers map[string][]producer
	parsed    map[string]dependency.Dependency
}

// projectBuilds reports whether a project source builds a binary named
// name (not only Provides it).
func (w *walker) projectBuilds(name string) bool {
	for _, c := range w.providers[name] {
		if !c.provides {
			return true
		}
	}
	return false
}

// relation classifies one relation's alternatives the way apt picks one:
// the first alternative something satisfies wins. It returns a conflict
// when no alternative is satisfiable and one of them is a project binary
// too old for it, and the archive package to follow when the chosen
// alternative comes from the archive. self, when >= 0, is the source
// whose own binaries do not count (a build-dependency on itself comes
// from the archive).
func (w *walker) relation(alts []dependency.Possibility, self int) (*VersionConflict, string) {
	var tooOld *VersionConflict
	for _, p := range alts {
		real := false
		for _, c := range w.providers[p.Name] {
			if c.src == self {
				continue
			}
			if satisfies(p.Version, c) {
				return nil, "" // the project's own build satisfies it
			}
			if !c.provides {
				real = true
				if tooOld == nil {
					tooOld = &VersionConflict{Relation: possibilityString(p), Binary: c.binary, ProjectVersion: c.version, ProjectSource: w.g.Nodes[c.src].Name}
				}
			}
		}
		if real {
			// apt's candidate for a name the project builds is the
			// project's: the archive's versions of it do not count.
			continue
		}
		vs, ok := w.idx[p.Name]
		if !ok {
			return nil, "" // virtual or unknown: apt's business
		}
		for _, v := range sortedVersions(vs) {
			if satisfies(p.Version, producer{version: v.Version}) {
				return nil, p.Name
			}
		}
	}
	return tooOld, ""
}

// walk follows the archive packages from roots through their Depends and
// returns the conflicts met, for the build of pkg ("" for the base root).
func (w *walker) walk(pkg string, roots []string) []VersionConflict {
	parent := map[string]string{}
	var queue []string
	for _, r := range roots {
		if _, seen := parent[r]; !seen {
			parent[r] = ""
			queue = append(queue, r)
		}
	}
	var out []VersionConflict
	for len(queue) > 0 {
		name := queue[0]
		queue = queue[1:]
		for _, rel := range w.depends(name).Relations {
			var alts []dependency.Possibility
			for _, p := range rel.Possibilities {
				if p.Architectures != nil && !p.Architectures.Matches(w.host) {
					continue
				}
				alts = append(alts, p)
			}
			if len(alts) == 0 {
				continue
			}
			c, next := w.relation(alts, -1)
			if c != nil {
				c.Package = pkg
				for n := name; n != ""; n = parent[n] {
					c.Chain = append([]string{n + " " + newest(w.idx[n]).Version}, c.Chain...)
				}
				out = append(out, *c)
			}
			if next != "" {
				if _, seen := parent[next]; !seen {
					parent[next] = name
					queue = append(queue, next)
				}
			}
		}
	}
	return out
}

// depends returns the parsed relations of the archive's newest version of
// name (what apt installs without a pin), parsed once.
func (w *walker) depends(name string) dependency.Dependency {
	if d, ok := w.parsed[name]; ok {
		return d
	}
	var d dependency.Dependency
	if best := newest(w.idx[name]); best != nil && best.Depends != "" {
		if pd, err := dependency.Parse(best.Depends); err == nil {
			d = *pd
		}
	}
	w.parsed[name] = d
	return d
}

// newest returns the highest version of vs, nil for none.
func newest(vs []ArchivePackage) *ArchivePackage {
	var best *ArchivePackage
	var bv version.Version
	for i := range vs {
		v, err := version.Parse(vs[i].Version)
		if err != nil {
			continue
		}
		if best == nil || version.Compare(v, bv) > 0 {
			best, bv = &vs[i], v
		}
	}
	return best
}

// sortedVersions returns vs newest first.
func sortedVersions(vs []ArchivePackage) []ArchivePackage {
	out := append([]ArchivePackage(nil), vs...)
	sort.SliceStable(out, func(a, b int) bool {
		va, ea := version.Parse(out[a].Version)
		vb, eb := version.Parse(out[b].Version)
		if ea != nil || eb != nil {
			return ea == nil
		}
		return version.Compare(va, vb) > 0
	})
	return out
}

func dedupeConflicts(in []VersionConflict) []VersionConflict {
	var out []VersionConflict
	seen := map[string]bool{}
	for _, c := range in {
		k := c.Package + "\x00" + c.Binary + "\x00" + c.Relation
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, c)
	}
	return out
}
