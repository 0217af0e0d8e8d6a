// Package debsrc reads what a Debian source package declares — its
// debian/control, debian/changelog or .dsc — into the graph's input, with
// errors that name the file, line and field.
package debsrc

import (
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"pault.ag/go/debian/dependency"
	"pault.ag/go/debian/version"

	"github.com/stx-build/stx-build/deb822"
	"github.com/stx-build/stx-build/graph"
	"github.com/stx-build/stx-build/internal/regularfile"
)

// ParseControl reads a debian/control file into a graph.Source. The
// version is not in debian/control; pass it from the changelog.
func ParseControl(file string, data []byte, ver string) (graph.Source, error) {
	paras, err := deb822.Parse(file, data)
	if err != nil {
		return graph.Source{}, err
	}
	if len(paras) == 0 {
		return graph.Source{}, &deb822.ParseError{File: file, Line: 1, Msg: "empty control file"}
	}
	src := paras[0]
	name, ok := src.Get("Source")
	if !ok {
		return graph.Source{}, &deb822.ParseError{File: file, Line: src.Line, Field: "Source", Msg: "missing in the first paragraph"}
	}
	if name.Value == "" {
		return graph.Source{}, &deb822.ParseError{File: file, Line: name.Line, Field: "Source", Msg: "empty"}
	}
	s := graph.Source{Name: name.Value, Version: ver, Origin: file}
	if err := parseBuildDeps(file, &src, &s); err != nil {
		return graph.Source{}, err
	}
	if len(paras) == 1 {
		return graph.Source{}, &deb822.ParseError{File: file, Line: src.Line, Msg: "no binary package paragraphs"}
	}
	for i := range paras[1:] {
		b, err := parseBinary(file, &paras[1+i], ver)
		if err != nil {
			return graph.Source{}, err
		}
		s.Binaries = append(s.Binaries, b)
	}
	return s, nil
}

func parseBuildDeps(file string, p *deb822.Paragraph, s *graph.Source) error {
	for _, fd := range []struct {
		name string
		dst  *dependency.Dependency
	}{
		{"Build-Depends", &s.BuildDepends},
		{"Build-Depends-Arch", &s.BuildDependsArch},
		{"Build-Depends-Indep", &s.BuildDependsIndep},
	} {
		d, err := parseRelations(file, p, fd.name, s.Version)
		if err != nil {
			return err
		}
		*fd.dst = d
	}
	return nil
}

func parseRelations(file string, p *deb822.Paragraph, field, ver string) (dependency.Dependency, error) {
	f, ok := p.Get(field)
	if !ok || strings.TrimSpace(f.Value) == "" {
		return dependency.Dependency{}, nil
	}
	// The parser wants one line; continuation newlines are plain separators.
	val := expandVersionSubstvars(strings.ReplaceAll(f.Value, "\n", " "), ver)
	d, err := dependency.Parse(val)
	if err != nil {
		return dependency.Dependency{}, &deb822.ParseError{File: file, Line: f.Line, Field: f.Name, Msg: err.Error()}
	}
	for _, r := range d.Relations {
		for _, pos := range r.Possibilities {
			if !pos.Substvar && !validPackageName(pos.Name) {
				return dependency.Dependency{}, &deb822.ParseError{File: file, Line: f.Line, Field: f.Name, Msg: fmt.Sprintf("bad package name %q", pos.Name)}
			}
			if pos.Version != nil && !strings.Contains(pos.Version.Number, "${") {
				if _, err := version.Parse(pos.Version.Number); err != nil {
					return dependency.Dependency{}, &deb822.ParseError{File: file, Line: f.Line, Field: f.Name, Msg: fmt.Sprintf("%s: bad version %q: %v", pos.Name, pos.Version.Number, err)}
				}
			}
		}
	}
	return *d, nil
}

var packageNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9+.-]+$`)

func validPackageName(s string) bool { return packageNameRE.MatchString(s) }

// expandVersionSubstvars replaces the version substitution variables that
// dpkg-gencontrol fills in from the changelog, so versioned Provides such as
// "foo (= ${binary:Version})" can satisfy versioned build-deps. Other
// substvars stay as they are (and such versions satisfy no constraint).
func expandVersionSubstvars(s, ver string) string {
	if ver == "" || !strings.Contains(s, "${") {
		return s
	}
	v, err := version.Parse(ver)
	if err != nil {
		return s
	}
	return strings.NewReplacer(
		"${binary:Version}", ver,
		"${source:Version}", ver,
		"${source:Upstream-Version}", v.Version,
	).Replace(s)
}

func parseBinary(file string, p *deb822.Paragraph, ver string) (graph.Binary, error) {
	pkg, ok := p.Get("Package")
	if !ok {
		return graph.Binary{}, &deb822.ParseError{File: file, Line: p.Line, Field: "Package", Msg: "missing in binary paragraph"}
	}
	if !validPackageName(pkg.Value) {
		return graph.Binary{}, &deb822.ParseError{File: file, Line: pkg.Line, Field: "Package", Msg: fmt.Sprintf("bad package name %q", pkg.Value)}
	}
	b := graph.Binary{Name: pkg.Value, MultiArch: p.Value("Multi-Arch")}
	arch, ok := p.Get("Architecture")
	if !ok {
		return graph.Binary{}, &deb822.ParseError{File: file, Line: p.Line, Field: "Architecture", Msg: "missing in paragraph of " + pkg.Value}
	}
	archs, err := dependency.ParseArchitectures(strings.Join(strings.Fields(arch.Value), " "))
	if err != nil || len(archs) == 0 {
		return graph.Binary{}, &deb822.ParseError{File: file, Line: arch.Line, Field: "Architecture", Msg: fmt.Sprintf("bad architecture list %q", arch.Value)}
	}
	b.Architectures = archs
	prov, err := parseRelations(file, p, "Provides", ver)
	if err != nil {
		return graph.Binary{}, err
	}
	b.Provides = prov
	if bp, ok := p.Get("Build-Profiles"); ok {
		sets, err := parseRestrictionFormula(bp.Value)
		if err != nil {
			return graph.Binary{}, &deb822.ParseError{File: file, Line: bp.Line, Field: bp.Name, Msg: err.Error()}
		}
		b.BuildProfiles = sets
	}
	return b, nil
}

// parseRestrictionFormula parses "<!nocheck> <stage1 cross>" by letting the
// dependency parser read it as the restriction of a dummy relation.
func parseRestrictionFormula(s string) ([]dependency.StageSet, error) {
	s = strings.TrimSpace(strings.ReplaceAll(s, "\n", " "))
	if !strings.HasPrefix(s, "<") {
		return nil, fmt.Errorf("bad restriction formula %q", s)
	}
	d, err := dependency.Parse("x " + s)
	if err != nil || len(d.Relations) != 1 || len(d.Relations[0].Possibilities) != 1 {
		return nil, fmt.Errorf("bad restriction formula %q", s)
	}
	return d.Relations[0].Possibilities[0].StageSets, nil
}

// Changelog is what stx-build takes from the top entry of debian/changelog.
type Changelog struct {
	Source  string
	Version string
	// Date is the entry's date: the package's SOURCE_DATE_EPOCH.
	Date time.Time
}

var changelogHead = regexp.MustCompile(`^([a-z0-9][a-z0-9+.-]+) \(([^()\s]+)\) [^;]+;`)

// ParseChangelog reads the top entry of a debian/changelog.
func ParseChangelog(file string, data []byte) (Changelog, error) {
	lines := strings.Split(string(data), "\n")
	var c Changelog
	headLine := 0
	for i, l := range lines {
		if headLine == 0 {
			if strings.TrimSpace(l) == "" {
				continue
			}
			m := changelogHead.FindStringSubmatch(l)
			if m == nil {
				return c, &deb822.ParseError{File: file, Line: i + 1, Msg: fmt.Sprintf("expected \"source (version) distribution; urgency=...\", got %q", l)}
			}
			if _, err := version.Parse(m[2]); err != nil {
				return c, &deb822.ParseError{File: file, Line: i + 1, Field: "version", Msg: fmt.Sprintf("bad version %q: %v", m[2], err)}
			}
			c.Source, c.Version, headLine = m[1], m[2], i+1
			continue
		}
		if strings.HasPrefix(l, " -- ") {
			// The date follows the maintainer's address; dpkg-parsechangelog
			// also accepts extra spaces after "--" and one space before the
			// date (" --  Name <a@b> date"), with a warning.
			date, ok := "", false
			if i := strings.LastIndex(l, "> "); i >= 0 {
				date, ok = l[i+2:], true
			} else {
				_, date, ok = strings.Cut(strings.TrimPrefix(l, " -- "), "  ")
			}
			if !ok {
				return c, &deb822.ParseError{File: file, Line: i + 1, Field: "trailer", Msg: "expected two spaces between maintainer and date"}
			}
			t, err := time.Parse(time.RFC1123Z, strings.TrimSpace(date))
			if err != nil {
				// dpkg also accepts a one-digit day ("Mon, 8 Nov 2021 ...").
				t, err = time.Parse("Mon, 2 Jan 2006 15:04:05 -0700", strings.TrimSpace(date))
			}
			if err != nil {
				return c, &deb822.ParseError{File: file, Line: i + 1, Field: "trailer", Msg: fmt.Sprintf("bad date %q", strings.TrimSpace(date))}
			}
			c.Date = t.UTC()
			return c, nil
		}
	}
	if headLine == 0 {
		return c, &deb822.ParseError{File: file, Line: 1, Msg: "empty changelog"}
	}
	return c, &deb822.ParseError{File: file, Line: headLine, Msg: "top entry has no trailer line (\" -- name <email>  date\")"}
}

// ReadDir reads debian/control and debian/changelog of an unpacked source
// tree and checks that they agree on the source name.
func ReadDir(dir string) (graph.Source, Changelog, error) {
	clFile := filepath.Join(dir, "debian", "changelog")
	data, err := readSourceFile(clFile)
	if err != nil {
		return graph.Source{}, Changelog{}, err
	}
	cl, err := ParseChangelog(clFile, data)
	if err != nil {
		return graph.Source{}, Changelog{}, err
	}
	ctlFile := filepath.Join(dir, "debian", "control")
	data, err = readSourceFile(ctlFile)
	if err != nil {
		return graph.Source{}, Changelog{}, err
	}
	s, err := ParseControl(ctlFile, data, cl.Version)
	if err != nil {
		return graph.Source{}, Changelog{}, err
	}
	if s.Name != cl.Source {
		return graph.Source{}, Changelog{}, fmt.Errorf("%s: source %q does not match %s: %q", ctlFile, s.Name, clFile, cl.Source)
	}
	return s, cl, nil
}

// maxSourceFile bounds debian/control and debian/changelog (the longest
// changelogs in Debian are a few megabytes).
const maxSourceFile = 64 << 20

// readSourceFile reads a file of an unpacked source tree, refusing what is
// not a regular file (a FIFO would block for good) or is too large.
func readSourceFile(file string) ([]byte, error) {
	data, err := regularfile.Read(file, maxSourceFile)
	var r *regularfile.Refusal
	if errors.As(err, &r) {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return data, err
}

// ParseDSC reads a .dsc into a graph.Source. A .dsc lists binaries in
// Package-List (name, type, section, priority, arch=..., profile=...) but
// not their Provides or Multi-Arch: those are unknown for such sources.
func ParseDSC(file string, data []byte) (graph.Source, error) {
	paras, err := deb822.Parse(file, data)
	if err != nil {
		return graph.Source{}, err
	}
	if len(paras) != 1 {
		return graph.Source{}, &deb822.ParseError{File: file, Line: 1, Msg: fmt.Sprintf("expected one paragraph, found %d", len(paras))}
	}
	p := &paras[0]
	var s graph.Source
	for _, req := range []string{"Source", "Version", "Package-List"} {
		f, ok := p.Get(req)
		if !ok || f.Value == "" {
			return graph.Source{}, &deb822.ParseError{File: file, Line: p.Line, Field: req, Msg: "missing"}
		}
	}
	s.Name, s.Version, s.Origin = p.Value("Source"), p.Value("Version"), file
	if _, err := version.Parse(s.Version); err != nil {
		f, _ := p.Get("Version")
		return graph.Source{}, &deb822.ParseError{File: file, Line: f.Line, Field: "Version", Msg: err.Error()}
	}
	if err := parseBuildDeps(file, p, &s); err != nil {
		return graph.Source{}, err
	}
	bins, err := parsePackageList(file, p)
	if err != nil {
		return graph.Source{}, err
	}
	s.Binaries = bins
	return s, nil
}

// parsePackageList reads the binaries of a Package-List field (nil when
// the paragraph has none).
func parsePackageList(file string, p *deb822.Paragraph) ([]graph.Binary, error) {
	pl, _ := p.Get("Package-List")
	var bins []graph.Binary
	for i, line := range strings.Split(pl.Value, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		b, err := parsePackageListLine(line)
		if err != nil {
			return nil, &deb822.ParseError{File: file, Line: pl.Line + i, Field: "Package-List", Msg: err.Error()}
		}
		if b.Name != "" {
			bins = append(bins, b)
		}
	}
	return bins, nil
}

func parsePackageListLine(line string) (graph.Binary, error) {
	f := strings.Fields(line)
	if len(f) < 4 {
		return graph.Binary{}, fmt.Errorf("expected \"name type section priority [key=value...]\", got %q", line)
	}
	if f[1] != "deb" && f[1] != "udeb" {
		return graph.Binary{}, nil // e.g. "dsc" lines are not binaries
	}
	b := graph.Binary{Name: f[0]}
	for _, kv := range f[4:] {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "arch":
			archs, err := dependency.ParseArchitectures(strings.ReplaceAll(v, ",", " "))
			if err != nil {
				return graph.Binary{}, fmt.Errorf("%s: bad arch %q", f[0], v)
			}
			b.Architectures = archs
		case "profile":
			// dpkg writes "<!a !b> <c>" as "!a,!b+c".
			var parts []string
			for _, set := range strings.Split(v, "+") {
				parts = append(parts, "<"+strings.ReplaceAll(set, ",", " ")+">")
			}
			sets, err := parseRestrictionFormula(strings.Join(parts, " "))
			if err != nil {
				return graph.Binary{}, fmt.Errorf("%s: %v", f[0], err)
			}
			b.BuildProfiles = sets
		}
	}
	if len(b.Architectures) == 0 {
		any, _ := dependency.ParseArch("any")
		b.Architectures = []dependency.Arch{*any} // old .dsc without arch=: assume any
	}
	return b, nil
}
