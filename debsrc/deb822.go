// Package debsrc reads what a Debian source package declares — its
// debian/control, debian/changelog or .dsc — into the graph's input, with
// errors that name the file, line and field.
package debsrc

import (
	"fmt"
	"strings"
)

// Field is one field of a deb822 paragraph with the line it starts on.
type Field struct {
	Name  string
	Value string
	Line  int
}

// Paragraph is a deb822 stanza; fields keep their file order.
type Paragraph struct {
	Fields []Field
	Line   int // first line of the paragraph
}

// Get returns the field named name (case-insensitively) and whether it exists.
func (p *Paragraph) Get(name string) (Field, bool) {
	for _, f := range p.Fields {
		if strings.EqualFold(f.Name, name) {
			return f, true
		}
	}
	return Field{}, false
}

// Value returns the value of the field named name, or "".
func (p *Paragraph) Value(name string) string {
	f, _ := p.Get(name)
	return f.Value
}

// ParseError is a problem in a control file at a line, in a field.
type ParseError struct {
	File  string
	Line  int
	Field string
	Msg   string
}

func (e *ParseError) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("%s:%d: %s: %s", e.File, e.Line, e.Field, e.Msg)
	}
	return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
}

// ParseDeb822 splits data into paragraphs. Comment lines (#) are skipped
// (debian/control allows them); a PGP signature armour around a .dsc is
// stripped.
func ParseDeb822(file string, data []byte) ([]Paragraph, error) {
	lines := strings.Split(strings.ReplaceAll(string(data), "\r\n", "\n"), "\n")
	lines, offset := stripPGP(lines)
	var paras []Paragraph
	var cur *Paragraph
	seen := map[string]int{}
	for i, raw := range lines {
		ln := i + 1 + offset
		if strings.HasPrefix(raw, "#") {
			continue
		}
		if strings.TrimSpace(raw) == "" {
			cur = nil
			continue
		}
		if raw[0] == ' ' || raw[0] == '\t' {
			if cur == nil || len(cur.Fields) == 0 {
				return nil, &ParseError{File: file, Line: ln, Msg: "continuation line outside a field"}
			}
			f := &cur.Fields[len(cur.Fields)-1]
			f.Value += "\n" + strings.TrimSpace(raw)
			continue
		}
		name, value, ok := strings.Cut(raw, ":")
		if !ok || name == "" || strings.ContainsAny(name, " \t") {
			return nil, &ParseError{File: file, Line: ln, Msg: fmt.Sprintf("expected \"Field: value\", got %q", raw)}
		}
		if cur == nil {
			paras = append(paras, Paragraph{Line: ln})
			cur = &paras[len(paras)-1]
			seen = map[string]int{}
		}
		key := strings.ToLower(name)
		if prev, dup := seen[key]; dup {
			return nil, &ParseError{File: file, Line: ln, Field: name, Msg: fmt.Sprintf("duplicate field (first on line %d)", prev)}
		}
		seen[key] = ln
		cur.Fields = append(cur.Fields, Field{Name: name, Value: strings.TrimSpace(value), Line: ln})
	}
	return paras, nil
}

// stripPGP removes a clearsign armour, returning the signed body and the
// number of lines removed before it.
func stripPGP(lines []string) ([]string, int) {
	if len(lines) == 0 || !strings.HasPrefix(lines[0], "-----BEGIN PGP SIGNED MESSAGE-----") {
		return lines, 0
	}
	start := 1
	for start < len(lines) && strings.TrimSpace(lines[start]) != "" {
		start++ // Hash: header lines
	}
	start++
	end := len(lines)
	for i := start; i < len(lines); i++ {
		if strings.HasPrefix(lines[i], "-----BEGIN PGP SIGNATURE-----") {
			end = i
			break
		}
	}
	if start > end {
		start = end
	}
	return lines[start:end], start
}
