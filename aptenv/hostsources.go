package aptenv

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/stx-build/stx-build/deb822"
)

// Source is one apt source entry: a one-line "deb ..." line or a deb822
// stanza of a *.sources file.
type Source struct {
	// Types holds "deb" and/or "deb-src".
	Types []string
	// URIs are the archive roots.
	URIs []string
	// Suites are suite names ("bookworm-updates") or, ending in "/", exact paths.
	Suites []string
	// Components are archive areas (main, contrib, ...); empty for exact paths.
	Components []string
	// SignedBy is the Signed-By value as written: keyring paths or
	// fingerprints, or an inline key block (lines joined with "\n").
	SignedBy string
	// Arch is the arch= / Architectures: restriction, if any.
	Arch []string

	// File and Line say where the entry was read (for messages).
	File string
	Line int
}

// ParseHostSources reads the apt sources of the system rooted at root ("/"
// for the running host): etc/apt/sources.list and the *.list and *.sources
// files of etc/apt/sources.list.d, in apt's (lexical) order. Files with
// other names (foo.list.disabled, foo.save) and deb822 stanzas with
// "Enabled: no" are skipped, as apt skips them. Errors name file:line.
func ParseHostSources(root string) ([]Source, error) {
	var files []string
	main := filepath.Join(root, "etc/apt/sources.list")
	if fi, err := os.Stat(main); err == nil && fi.Mode().IsRegular() {
		files = append(files, main)
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	partsDir := filepath.Join(root, "etc/apt/sources.list.d")
	entries, err := os.ReadDir(partsDir) // sorted by name
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".list") && !strings.HasSuffix(name, ".sources") {
			continue
		}
		p := filepath.Join(partsDir, name)
		// Stat, not e.Type(): a symlink to a regular file counts, as for apt.
		if fi, err := os.Stat(p); err != nil || !fi.Mode().IsRegular() {
			continue
		}
		files = append(files, p)
	}

	var out []Source
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var srcs []Source
		if strings.HasSuffix(f, ".sources") {
			srcs, err = parseDeb822(f, data)
		} else {
			srcs, err = parseOneLine(f, data)
		}
		if err != nil {
			return nil, err
		}
		out = append(out, srcs...)
	}
	return out, nil
}

func checkTypes(file string, line int, types []string) error {
	if len(types) == 0 {
		return fmt.Errorf("%s:%d: no type (want deb or deb-src)", file, line)
	}
	for _, t := range types {
		if t != "deb" && t != "deb-src" {
			return fmt.Errorf("%s:%d: unknown type %q (want deb or deb-src)", file, line, t)
		}
	}
	return nil
}

// checkComponents applies apt's rule: a suite that is an exact path (ends
// in "/") takes no components, any other suite needs at least one.
func checkComponents(file string, line int, suites, comps []string) error {
	for _, s := range suites {
		exact := strings.HasSuffix(s, "/")
		if exact && len(comps) > 0 {
			return fmt.Errorf("%s:%d: suite %q is an exact path and takes no components", file, line, s)
		}
		if !exact && len(comps) == 0 {
			return fmt.Errorf("%s:%d: suite %q needs at least one component", file, line, s)
		}
	}
	return nil
}

// stripComment cuts a one-line entry at "#", except inside [options]
// (apt accepts "#" in option values).
func stripComment(s string) string {
	depth := 0
	for i, r := range s {
		switch r {
		case '[':
			depth++
		case ']':
			depth--
		case '#':
			if depth <= 0 {
				return s[:i]
			}
		}
	}
	return s
}

func parseOneLine(file string, data []byte) ([]Source, error) {
	var out []Source
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	lineNo := 0
	for sc.Scan() {
		lineNo++
		line := strings.TrimSpace(stripComment(sc.Text()))
		if line == "" {
			continue
		}
		typ, rest, _ := strings.Cut(line, " ")
		if i := strings.IndexAny(typ, "\t["); i >= 0 { // "deb\t..." or "deb[opts]"
			typ, rest = typ[:i], line[i:]
		}
		rest = strings.TrimSpace(rest)
		src := Source{Types: []string{typ}, File: file, Line: lineNo}
		if err := checkTypes(file, lineNo, src.Types); err != nil {
			return nil, err
		}
		if strings.HasPrefix(rest, "[") {
			end := strings.IndexByte(rest, ']')
			if end < 0 {
				return nil, fmt.Errorf("%s:%d: unterminated option list (missing ']')", file, lineNo)
			}
			for _, opt := range strings.Fields(rest[1:end]) {
				key, val, ok := strings.Cut(opt, "=")
				if !ok || key == "" {
					return nil, fmt.Errorf("%s:%d: option %q is not key=value", file, lineNo, opt)
				}
				switch strings.ToLower(key) {
				case "arch":
					src.Arch = splitList(val)
				case "signed-by":
					src.SignedBy = val
				}
			}
			rest = strings.TrimSpace(rest[end+1:])
		}
		fields := strings.Fields(rest)
		if len(fields) < 2 {
			return nil, fmt.Errorf("%s:%d: want %q, got %q", file, lineNo, typ+" URI SUITE [COMPONENT...]", line)
		}
		src.URIs = []string{fields[0]}
		src.Suites = []string{fields[1]}
		src.Components = fields[2:]
		if len(src.Components) == 0 {
			src.Components = nil
		}
		if err := checkComponents(file, lineNo, src.Suites, src.Components); err != nil {
			return nil, err
		}
		out = append(out, src)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s:%d: %w", file, lineNo+1, err)
	}
	return out, nil
}

func splitList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' })
}

// parseDeb822 reads a *.sources file with the deb822 reader: one Source
// per enabled stanza.
func parseDeb822(file string, data []byte) ([]Source, error) {
	paras, err := deb822.Parse(file, data)
	if err != nil {
		return nil, err
	}
	var out []Source
	for i := range paras {
		src, ok, err := stanzaSource(file, &paras[i])
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, src)
		}
	}
	return out, nil
}

// stanzaSource turns one deb822 stanza into a Source; ok is false for a
// disabled stanza.
func stanzaSource(file string, p *deb822.Paragraph) (src Source, ok bool, err error) {
	src = Source{File: file, Line: p.Line}
	words := func(name string) []string {
		w := strings.Fields(p.Value(name))
		if len(w) == 0 {
			return nil
		}
		return w
	}
	if f, ok := p.Get("Enabled"); ok {
		switch v := strings.ToLower(strings.ReplaceAll(f.Value, "\n", "")); v {
		case "no", "false":
			return Source{}, false, nil
		case "yes", "true":
		default:
			return Source{}, false, fmt.Errorf("%s:%d: Enabled: want yes or no, got %q", file, f.Line, v)
		}
	}
	for _, req := range []string{"Types", "URIs", "Suites"} {
		if len(words(req)) == 0 {
			return Source{}, false, fmt.Errorf("%s:%d: stanza has no %s field", file, src.Line, req)
		}
	}
	src.Types = words("Types")
	src.URIs = words("URIs")
	src.Suites = words("Suites")
	src.Components = words("Components")
	src.Arch = words("Architectures")
	if f, ok := p.Get("Signed-By"); ok {
		lines := strings.Split(f.Value, "\n")
		if lines[0] == "" && len(lines) > 1 { // value starts on the next line (inline key)
			lines = lines[1:]
		}
		for i, l := range lines {
			if l == "." { // an empty line inside a multi-line value
				lines[i] = ""
			}
		}
		src.SignedBy = strings.Join(lines, "\n")
	}
	types, _ := p.Get("Types")
	if err := checkTypes(file, types.Line, src.Types); err != nil {
		return Source{}, false, err
	}
	line := src.Line
	if f, ok := p.Get("Components"); ok {
		line = f.Line
	}
	if err := checkComponents(file, line, src.Suites, src.Components); err != nil {
		return Source{}, false, err
	}
	return src, true, nil
}

// sortedUnique returns the distinct values of in, sorted.
func sortedUnique(in []string) []string {
	seen := make(map[string]bool, len(in))
	var out []string
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out
}
