package graph

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"pault.ag/go/debian/dependency"
	"pault.ag/go/debian/version"
)

// Options say for which architecture and with which build profiles a graph
// is compiled.
type Options struct {
	// Arch is the host architecture the packages are built for (amd64, arm64).
	Arch string
	// BuildArch is the architecture of the build machine; defaults to Arch.
	// When it differs, the graph describes a cross build and build-deps on
	// ":native" binaries are marked as needing the build architecture's build.
	BuildArch string
	// Indep says that Architecture: all binaries are built on this
	// architecture, so Build-Depends-Indep counts.
	Indep bool
	// Profiles are build profiles active for every source (e.g. nocheck).
	Profiles []string
	// CycleBreaks take one binary, or every binary of one source, from the
	// archive for one source.
	CycleBreaks []CycleBreak
	// Cycles says what a cycle does: CyclesStrict (the default) makes
	// Compile return a *CycleError; CyclesArchive cuts the edges of the
	// suggested breaks (Graph.Cut says which and why) and goes on.
	Cycles CyclePolicy
	// Layers maps sources to a layer (StarlingX's compiler, distro,
	// flock, ...) and LayerOrder lists the layers, lowest first: a source
	// is built after those of lower layers where no build-dependency
	// orders the two already (edges with Via ViaLayer). Sources of no
	// listed layer are not ordered.
	Layers     map[string]string
	LayerOrder []string
	// Archive, when known, maps the binary packages the archive has to their
	// versions. The suggested breaks then prefer edges whose relation the
	// archive satisfies. Nil means nothing is known: every edge is as good.
	Archive map[string]string
}

// CyclePolicy says what Compile does with build-dependency cycles.
type CyclePolicy int

const (
	// CyclesStrict reports cycles as a *CycleError with the breaks to add.
	CyclesStrict CyclePolicy = iota
	// CyclesArchive resolves the edges of the suggested breaks from the
	// archive without their being listed.
	CyclesArchive
)

// CycleBreak says: when building Package, build-dependencies on Binary, or
// on any binary of the local source Source, are satisfied from the archive,
// not from the local tree. Exactly one of Binary and Source is set.
type CycleBreak struct {
	Package string
	Binary  string
	Source  string
}

// String renders the break as its warnings name it: "pkg -> binary" or
// "pkg -> source src".
func (cb CycleBreak) String() string {
	if cb.Source != "" {
		return cb.Package + " -> source " + cb.Source
	}
	return cb.Package + " -> " + cb.Binary
}

// Graph is the build-dependency DAG of the local sources for one architecture.
type Graph struct {
	Arch string
	// Nodes are sorted by name.
	Nodes []*Node
	// Edges are sorted by From, To, Via.
	Edges []Edge
	// External lists build-dependency relations no local source satisfies:
	// they are installed from the archive.
	External []External
	// Order is a stable topological order: every source after the sources
	// it build-depends on, ties broken by name. Empty when the graph has a cycle.
	Order []string
	// Warnings are problems that do not stop the compile (unused cycle
	// breaks, ambiguous providers, local versions too old for a relation).
	Warnings []string
	// Cut lists the edges resolved from the archive instead of the local
	// build, with the reason: self build-dependencies (From == To) and,
	// with CyclesArchive, the edges of the suggested breaks.
	Cut []CutEdge
	// Cycles holds, when the graph as declared has cycles, one shortest
	// cycle per strongly connected component, the component's packages and
	// a complete set of breaks (see CycleError). With CyclesArchive those
	// breaks were applied (see Cut) and the graph has an Order.
	Cycles *Cycles
	// Unresolved lists packages of the project whose sources could not be
	// read, so the graph was compiled without them (set by the caller,
	// which knows why; Compile leaves it empty).
	Unresolved []Unresolved

	index map[string]int
	deps  [][]int // node -> nodes it build-depends on, sorted
	rdeps [][]int // node -> nodes that build-depend on it, sorted
	bl    []float64
	// notInArchive marks node pairs {from, to} with an edge whose relation
	// the archive is not known to satisfy (only when Options.Archive is set).
	notInArchive map[[2]int]bool
	// buildNeeds marks node pairs {from, to} with an edge the build itself
	// needs, not only its tests (<!nocheck>).
	buildNeeds map[[2]int]bool
}

// CutEdge is an edge resolved from the archive, and why.
type CutEdge struct {
	Edge
	Reason string `json:"reason"`
}

// Node is one source package in the graph.
type Node struct {
	Name    string
	Version string
	// Binaries produced by this source on the graph's architecture, sorted
	// (architecture-specific and Architecture: all ones).
	Binaries []string
	// BuildsArch is true when this source builds architecture-specific
	// binaries for this architecture.
	BuildsArch bool
	// BuildsIndep is true when this source builds Architecture: all binaries
	// on this architecture.
	BuildsIndep bool
	// Cost is the estimated build time in seconds (>= 1 unless given smaller).
	Cost float64
	// Deps are the sources this one build-depends on, sorted.
	Deps []string
	// Dependents are the sources that build-depend on this one, sorted.
	Dependents []string
}

// Edge records that From build-depends on a binary (Via) that To produces.
type Edge struct {
	From string `json:"from"`
	To   string `json:"to"`
	Via  string `json:"via"`
	// Relation is the build-dependency relation as written (after arch and
	// profile restrictions were applied).
	Relation string `json:"relation"`
	// Native is set when the relation asks for the build architecture's
	// binary (":native") in a cross build.
	Native bool `json:"native,omitempty"`
}

// External is a build-dependency relation left to the archive.
type External struct {
	Package  string `json:"package"`
	Relation string `json:"relation"`
	// Note explains why a local binary of that name was not used.
	Note string `json:"note,omitempty"`
}

type producer struct {
	src      int
	binary   string
	provides bool
	version  string // binary version, or the provided version ("" unversioned)
}

// Unresolved is a package left out of the graph, with the reason.
type Unresolved struct {
	Package string `json:"package"`
	Reason  string `json:"reason"`
}

// Compile builds the graph of srcs for opts.Arch. On a build-dependency
// cycle it returns the graph (without Order) and a *CycleError naming every
// cycle; any other error means the input was unusable.
func Compile(srcs []Source, opts Options) (*Graph, error) {
	if opts.Arch == "" {
		return nil, fmt.Errorf("graph: no architecture given")
	}
	host, err := dependency.ParseArch(opts.Arch)
	if err != nil {
		return nil, fmt.Errorf("graph: architecture %q: %w", opts.Arch, err)
	}
	sorted, err := sortedSources(srcs, opts.Arch)
	if err != nil {
		return nil, err
	}
	breaks := map[CycleBreak]bool{}
	for _, cb := range opts.CycleBreaks {
		if (cb.Binary == "") == (cb.Source == "") {
			return nil, fmt.Errorf("graph: cycle break for %s: give exactly one of binary and source", cb.Package)
		}
		breaks[cb] = false
	}

	g := &Graph{Arch: opts.Arch, index: make(map[string]int, len(sorted)), buildNeeds: map[[2]int]bool{}}
	if opts.Archive != nil {
		g.notInArchive = map[[2]int]bool{}
	}
	nodeSrc, nodeProfiles, providers := g.addNodes(sorted, host, opts)
	r := resolver{g: g, host: host, cross: opts.BuildArch != "" && opts.BuildArch != opts.Arch, providers: providers, breaks: breaks, archive: opts.Archive}
	for i, s := range nodeSrc {
		rels := s.BuildDepends.Relations
		rels = append(rels[:len(rels):len(rels)], s.BuildDependsArch.Relations...)
		if g.Nodes[i].BuildsIndep {
			rels = append(rels, s.BuildDependsIndep.Relations...)
		}
		for _, rel := range rels {
			r.resolve(i, rel, nodeProfiles[i])
		}
	}
	g.warnUnused(opts, breaks)
	g.finishEdges()
	sort.Strings(g.Warnings)
	g.Warnings = dedupe(g.Warnings)

	if cyc := g.findCycles(); cyc != nil {
		g.Cycles = cyc
		if opts.Cycles != CyclesArchive {
			g.sortExternal()
			return g, &CycleError{Arch: opts.Arch, Cycles: cyc.Shown, Components: cyc.Components, Breaks: cyc.Breaks, Bound: cyc.Bound}
		}
		g.cutBreaks(cyc)
	}
	g.addLayerEdges(opts)
	g.sortExternal()
	g.sortCut()
	g.Order = g.topoOrder()
	g.computeBottomLevels()
	return g, nil
}

// sortedSources returns the sources allowed on arch sorted by name, so
// every later loop is deterministic; a source declared twice is an error.
func sortedSources(srcs []Source, arch string) ([]*Source, error) {
	sorted := make([]*Source, 0, len(srcs))
	seen := make(map[string]string, len(srcs))
	for i := range srcs {
		s := &srcs[i]
		if prev, dup := seen[s.Name]; dup {
			return nil, fmt.Errorf("graph: source %s declared twice (%s and %s)", s.Name, prev, s.Origin)
		}
		seen[s.Name] = s.Origin
		if archAllowed(s.Architectures, arch) {
			sorted = append(sorted, s)
		}
	}
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	return sorted, nil
}

// addNodes makes a node of each source that builds a binary on the host
// architecture and returns, for each node, its source and active profiles,
// and the producers of every binary and virtual package.
func (g *Graph) addNodes(sorted []*Source, host *dependency.Arch, opts Options) ([]*Source, []map[string]bool, map[string][]producer) {
	nodeSrc := make([]*Source, 0, len(sorted))
	nodeProfiles := make([]map[string]bool, 0, len(sorted))
	bins := 0
	for _, s := range sorted {
		bins += len(s.Binaries)
	}
	providers := make(map[string][]producer, bins)
	for _, s := range sorted {
		active := activeProfiles(opts.Profiles, s.Profiles)
		n := &Node{Name: s.Name, Version: s.Version, Cost: s.Cost}
		if n.Cost <= 0 {
			n.Cost = 1
		}
		idx := len(g.Nodes)
		var archBins, indepBins int
		for bi := range s.Binaries {
			b := &s.Binaries[bi]
			if !profilesHold(b.BuildProfiles, active) {
				continue
			}
			switch {
			case b.builtFor(host):
				archBins++
			case b.IsIndep():
				indepBins++
			default:
				continue
			}
			n.Binaries = append(n.Binaries, b.Name)
			providers[b.Name] = append(providers[b.Name], producer{src: idx, binary: b.Name, version: s.Version})
			for _, pv := range b.Provides.GetAllPossibilities() {
				p := producer{src: idx, binary: b.Name, provides: true}
				if pv.Version != nil && pv.Version.Operator == "=" {
					p.version = pv.Version.Number
				}
				providers[pv.Name] = append(providers[pv.Name], p)
			}
		}
		if archBins == 0 && indepBins == 0 {
			continue // nothing to build here
		}
		n.BuildsArch = archBins > 0
		n.BuildsIndep = opts.Indep && indepBins > 0
		sort.Strings(n.Binaries)
		g.index[n.Name] = idx
		g.Nodes = append(g.Nodes, n)
		nodeSrc = append(nodeSrc, s)
		nodeProfiles = append(nodeProfiles, active)
	}
	return nodeSrc, nodeProfiles, providers
}

// warnUnused warns about each cycle break no relation used.
func (g *Graph) warnUnused(opts Options, breaks map[CycleBreak]bool) {
	for _, cb := range opts.CycleBreaks {
		if used, ok := breaks[cb]; ok && !used {
			what := "a local " + cb.Binary
			if cb.Source != "" {
				what = "a binary of the local source " + cb.Source
			}
			g.Warnings = append(g.Warnings, fmt.Sprintf("cycle break %s is not used on %s: %s does not build-depend on %s", cb, opts.Arch, cb.Package, what))
			breaks[cb] = true // warn once for duplicates
		}
	}
}

func (g *Graph) sortExternal() {
	slices.SortFunc(g.External, func(a, b External) int {
		if c := strings.Compare(a.Package, b.Package); c != 0 {
			return c
		}
		return strings.Compare(a.Relation, b.Relation)
	})
}

func (g *Graph) sortCut() {
	slices.SortFunc(g.Cut, func(a, b CutEdge) int { return compareEdges(a.Edge, b.Edge) })
}

// compareEdges orders edges by From, To, Via and Relation.
func compareEdges(a, b Edge) int {
	if c := strings.Compare(a.From, b.From); c != 0 {
		return c
	}
	if c := strings.Compare(a.To, b.To); c != 0 {
		return c
	}
	if c := strings.Compare(a.Via, b.Via); c != 0 {
		return c
	}
	return strings.Compare(a.Relation, b.Relation)
}

// resolver holds what resolving relations needs besides the relation.
type resolver struct {
	g         *Graph
	host      *dependency.Arch
	cross     bool
	providers map[string][]producer
	breaks    map[CycleBreak]bool
	archive   map[string]string
}

// resolve adds the edge or external entry for one relation of node i.
//
// The alternatives are tried in order and the first one satisfied locally
// becomes the edge. An alternative that is taken from the archive on
// purpose ends the search with an external entry: one a cycle break names
// (its binary, or the source that would build it), or one only the source
// itself builds (a self build-dependency; the archive's binary is the only
// one that can exist before the build). A later local alternative is not
// used then, so a break only ever removes edges.
func (r *resolver) resolve(i int, rel dependency.Relation, active map[string]bool) {
	g := r.g
	n := g.Nodes[i]
	kept := applicable(rel, r.host, active)
	if len(kept) == 0 {
		return // the relation does not apply to this arch/profile set
	}
	text := relationString(kept)
	var notes []string
	external := func(note string) {
		if note != "" {
			notes = append(notes, note)
		}
		g.External = append(g.External, External{Package: n.Name, Relation: text, Note: strings.Join(notes, "; ")})
	}
	for _, p := range kept {
		if cb := (CycleBreak{Package: n.Name, Binary: p.Name}); r.isBreak(cb) {
			external(fmt.Sprintf("%s taken from the archive (cycle break)", p.Name))
			return
		}
		chosen, self := r.candidates(i, p)
		if len(chosen) == 0 {
			if self != nil {
				g.Cut = append(g.Cut, CutEdge{
					Edge:   Edge{From: n.Name, To: n.Name, Via: self.binary, Relation: text},
					Reason: fmt.Sprintf("self build-dependency: %s builds %s itself; the archive's is used", n.Name, self.binary),
				})
				external(fmt.Sprintf("%s is built by %s itself: taken from the archive (self build-dependency)", self.binary, n.Name))
				return
			}
			if tooOld := r.tooOld(p); len(tooOld) > 0 {
				notes = append(notes, fmt.Sprintf("%s does not satisfy %s", strings.Join(tooOld, ", "), possibilityString(p)))
			}
			continue
		}
		c := chosen[0]
		to := g.Nodes[c.src].Name
		if cb := (CycleBreak{Package: n.Name, Binary: c.binary}); r.isBreak(cb) {
			external(fmt.Sprintf("%s (from %s) taken from the archive (cycle break)", p.Name, c.binary))
			return
		}
		if cb := (CycleBreak{Package: n.Name, Source: to}); r.isBreak(cb) {
			external(fmt.Sprintf("%s taken from the archive (cycle break: source %s)", p.Name, to))
			return
		}
		if names := producerNames(g, chosen); len(names) > 1 {
			g.Warnings = append(g.Warnings, fmt.Sprintf("%s on %s: %s is provided by several local sources (%s); using %s", n.Name, g.Arch, p.Name, strings.Join(names, ", "), names[0]))
		}
		native := r.cross && p.Arch != nil && p.Arch.CPU == "native"
		g.Edges = append(g.Edges, Edge{From: n.Name, To: to, Via: c.binary, Relation: text, Native: native})
		if !testOnly(p) {
			g.buildNeeds[[2]int{i, c.src}] = true
		}
		if r.archive != nil && !archiveSatisfies(r.archive, p) {
			g.notInArchive[[2]int{i, c.src}] = true
		}
		return
	}
	external("")
}

// isBreak reports whether cb is a configured cycle break, and marks it used.
func (r *resolver) isBreak(cb CycleBreak) bool {
	if _, ok := r.breaks[cb]; ok {
		r.breaks[cb] = true
		return true
	}
	return false
}

// candidates returns the local producers of p that satisfy it, real
// binaries before Provides, sorted by source name, leaving out source i
// itself. self is source i's producer when it satisfies p.
func (r *resolver) candidates(i int, p dependency.Possibility) (chosen []producer, self *producer) {
	g := r.g
	var real, virt []producer
	for _, c := range r.providers[p.Name] {
		if !satisfies(p.Version, c) {
			continue
		}
		if c.src == i {
			if self == nil {
				self = &c
			}
			continue
		}
		if c.provides {
			virt = append(virt, c)
		} else {
			real = append(real, c)
		}
	}
	chosen = real
	if len(chosen) == 0 {
		chosen = virt
	}
	sort.Slice(chosen, func(a, b int) bool { return g.Nodes[chosen[a].src].Name < g.Nodes[chosen[b].src].Name })
	return chosen, self
}

// tooOld describes the local producers of p whose version does not
// satisfy it.
func (r *resolver) tooOld(p dependency.Possibility) []string {
	var out []string
	for _, c := range r.providers[p.Name] {
		if !satisfies(p.Version, c) {
			out = append(out, fmt.Sprintf("local %s %s", r.g.Nodes[c.src].Name, describeVersion(c)))
		}
	}
	return out
}

// applicable returns the alternatives of rel that apply to the host
// architecture and active profiles (substvars left out).
func applicable(rel dependency.Relation, host *dependency.Arch, active map[string]bool) []dependency.Possibility {
	var kept []dependency.Possibility
	for _, p := range rel.Possibilities {
		if p.Substvar {
			continue
		}
		if p.Architectures != nil && !p.Architectures.Matches(host) {
			continue
		}
		if !profilesHold(p.StageSets, active) {
			continue
		}
		kept = append(kept, p)
	}
	return kept
}

// testOnly reports whether p applies only when the tests run: each of its
// build-profile groups has <!nocheck>.
func testOnly(p dependency.Possibility) bool {
	if len(p.StageSets) == 0 {
		return false
	}
	for _, set := range p.StageSets {
		nocheck := false
		for _, st := range set.Stages {
			if st.Name == "nocheck" && st.Not {
				nocheck = true
			}
		}
		if !nocheck {
			return false
		}
	}
	return true
}

// archiveSatisfies reports whether the archive's binary of p's name
// satisfies p's version relation.
func archiveSatisfies(archive map[string]string, p dependency.Possibility) bool {
	v, ok := archive[p.Name]
	if !ok {
		return false
	}
	return satisfies(p.Version, producer{version: v})
}

// satisfies reports whether producer c satisfies the version relation vr.
func satisfies(vr *dependency.VersionRelation, c producer) bool {
	if vr == nil {
		return true
	}
	if c.version == "" {
		return false // unversioned Provides never satisfy a versioned relation
	}
	v, err := version.Parse(c.version)
	if err != nil {
		return false
	}
	return vr.SatisfiedBy(v)
}

func describeVersion(c producer) string {
	if c.provides {
		if c.version == "" {
			return "(unversioned Provides by " + c.binary + ")"
		}
		return c.version + " (Provides by " + c.binary + ")"
	}
	return c.version
}

func producerNames(g *Graph, ps []producer) []string {
	var names []string
	for _, p := range ps {
		name := g.Nodes[p.src].Name
		if len(names) == 0 || names[len(names)-1] != name {
			names = append(names, name)
		}
	}
	return names
}

// finishEdges sorts and deduplicates edges and fills the adjacency lists.
func (g *Graph) finishEdges() {
	slices.SortFunc(g.Edges, compareEdges)
	out := g.Edges[:0]
	for i, e := range g.Edges {
		if i > 0 && e == g.Edges[i-1] {
			continue
		}
		out = append(out, e)
	}
	g.Edges = out
	g.link()
}

// link fills the adjacency lists and each node's Deps and Dependents from
// the sorted edges.
func (g *Graph) link() {
	g.deps = make([][]int, len(g.Nodes))
	g.rdeps = make([][]int, len(g.Nodes))
	for _, e := range g.Edges {
		from, to := g.index[e.From], g.index[e.To]
		if d := g.deps[from]; len(d) == 0 || d[len(d)-1] != to {
			g.deps[from] = append(d, to)
		}
	}
	for i, d := range g.deps {
		for _, j := range d {
			g.rdeps[j] = append(g.rdeps[j], i)
		}
	}
	for i, n := range g.Nodes {
		n.Deps = g.names(g.deps[i])
		n.Dependents = g.names(g.rdeps[i])
	}
}

func (g *Graph) names(idx []int) []string {
	out := make([]string, len(idx))
	for i, j := range idx {
		out[i] = g.Nodes[j].Name
	}
	return out
}

func dedupe(xs []string) []string {
	if len(xs) == 0 {
		return xs
	}
	out := xs[:1]
	for _, x := range xs[1:] {
		if x != out[len(out)-1] {
			out = append(out, x)
		}
	}
	return out
}

func archAllowed(list []string, arch string) bool {
	if len(list) == 0 {
		return true
	}
	for _, a := range list {
		if a == arch {
			return true
		}
	}
	return false
}

func activeProfiles(lists ...[]string) map[string]bool {
	m := map[string]bool{}
	for _, l := range lists {
		for _, p := range l {
			m[p] = true
		}
	}
	return m
}

// relationString renders possibilities as they would be written in
// debian/control, joined by " | ".
func relationString(ps []dependency.Possibility) string {
	parts := make([]string, len(ps))
	for i, p := range ps {
		parts[i] = possibilityString(p)
	}
	return strings.Join(parts, " | ")
}

func possibilityString(p dependency.Possibility) string {
	var b strings.Builder
	b.WriteString(p.Name)
	if p.Arch != nil {
		b.WriteString(":")
		b.WriteString(archQualifier(p.Arch))
	}
	if p.Version != nil {
		b.WriteString(" (")
		b.WriteString(p.Version.Operator)
		b.WriteString(" ")
		b.WriteString(p.Version.Number)
		b.WriteString(")")
	}
	return b.String()
}

func archQualifier(a *dependency.Arch) string {
	switch a.CPU {
	case "native", "any":
		return a.CPU
	}
	return a.String()
}

// Node returns the node named name, or nil.
func (g *Graph) Node(name string) *Node {
	if i, ok := g.index[name]; ok {
		return g.Nodes[i]
	}
	return nil
}

// Parts says which binaries the node builds on the graph's architecture,
// as the deb builder takes it: "both" (dpkg-buildpackage -b), "any" (-B),
// "all" (-A), or "" when it builds nothing here (Architecture: all only,
// built on another architecture).
func (n *Node) Parts() string {
	switch {
	case n.BuildsArch && n.BuildsIndep:
		return "both"
	case n.BuildsArch:
		return "any"
	case n.BuildsIndep:
		return "all"
	}
	return ""
}

// ApplicableRelations renders the relations of d as they apply on the
// host architecture with the active profiles, the way apt-get build-dep
// evaluates a source's fields: each relation as its alternatives that
// apply, without their restrictions ("a (>= 1) | b:native"); a relation
// none of whose alternatives applies is left out. Order is d's.
func ApplicableRelations(d dependency.Dependency, host string, profiles []string) ([]string, error) {
	arch, err := dependency.ParseArch(host)
	if err != nil {
		return nil, fmt.Errorf("architecture %q: %w", host, err)
	}
	active := activeProfiles(profiles)
	var out []string
	for _, rel := range d.Relations {
		if kept := applicable(rel, arch, active); len(kept) > 0 {
			out = append(out, relationString(kept))
		}
	}
	return out, nil
}
