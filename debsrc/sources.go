package debsrc

import (
	"fmt"
	"sort"
	"strings"

	"pault.ag/go/debian/dependency"
	"pault.ag/go/debian/version"

	"github.com/stx-build/stx-build/deb822"
	"github.com/stx-build/stx-build/graph"
)

// ParseSources reads an archive's Sources index (the deb822 stanzas apt
// keeps under its lists directory, decompressed) into graph input, one
// Source per source package. A stanza has the fields of a .dsc, with the
// source's name in Package. When a source appears several times (an index
// concatenated from a suite and its updates), the highest version wins.
// Stanzas marked Extra-Source-Only (kept only for licence reasons) are
// skipped. A stanza without Package-List (very old ones) gets its binaries
// from Binary and Architecture.
func ParseSources(file string, data []byte) ([]graph.Source, error) {
	paras, err := deb822.Parse(file, data)
	if err != nil {
		return nil, err
	}
	best := map[string]graph.Source{}
	for i := range paras {
		p := &paras[i]
		if strings.EqualFold(p.Value("Extra-Source-Only"), "yes") {
			continue
		}
		s, err := sourceStanza(file, p)
		if err != nil {
			return nil, err
		}
		if prev, ok := best[s.Name]; ok && newerOrSame(prev.Version, s.Version) {
			continue
		}
		best[s.Name] = s
	}
	out := make([]graph.Source, 0, len(best))
	for _, s := range best {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// newerOrSame says whether version a >= b (unparsable versions lose).
func newerOrSame(a, b string) bool {
	va, errA := version.Parse(a)
	vb, errB := version.Parse(b)
	if errB != nil {
		return true
	}
	if errA != nil {
		return false
	}
	return version.Compare(va, vb) >= 0
}

func sourceStanza(file string, p *deb822.Paragraph) (graph.Source, error) {
	for _, req := range []string{"Package", "Version"} {
		if f, ok := p.Get(req); !ok || f.Value == "" {
			return graph.Source{}, &deb822.ParseError{File: file, Line: p.Line, Field: req, Msg: "missing"}
		}
	}
	s := graph.Source{Name: p.Value("Package"), Version: p.Value("Version")}
	s.Origin = fmt.Sprintf("%s:%d", file, p.Line)
	if _, err := version.Parse(s.Version); err != nil {
		f, _ := p.Get("Version")
		return graph.Source{}, &deb822.ParseError{File: file, Line: f.Line, Field: "Version", Msg: err.Error()}
	}
	if err := parseBuildDeps(file, p, &s); err != nil {
		return graph.Source{}, err
	}
	if pl, ok := p.Get("Package-List"); ok && strings.TrimSpace(pl.Value) != "" {
		bins, err := parsePackageList(file, p)
		if err != nil {
			return graph.Source{}, err
		}
		s.Binaries = bins
		return s, nil
	}
	archs, err := dependency.ParseArchitectures(p.Value("Architecture"))
	if err != nil || len(archs) == 0 {
		f, _ := p.Get("Architecture")
		return graph.Source{}, &deb822.ParseError{File: file, Line: max(f.Line, p.Line), Field: "Architecture", Msg: fmt.Sprintf("bad or missing %q", f.Value)}
	}
	for _, name := range strings.Split(p.Value("Binary"), ",") {
		if name = strings.TrimSpace(name); name != "" {
			s.Binaries = append(s.Binaries, graph.Binary{Name: name, Architectures: archs})
		}
	}
	return s, nil
}
