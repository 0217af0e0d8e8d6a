// Package deb822 reads Debian control data (deb822 paragraphs of
// "Field: value" lines): debian/control, .dsc, Sources and Packages
// indexes, dpkg's status file, machine-readable copyright files. Fields
// keep their lines, so errors name the file, line and field.
package deb822

import (
	"fmt"
	"os"
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

// ParseError is a problem in a deb822 file at a line, in a field.
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

// Parse splits data into paragraphs, strictly: a line that is neither a
// field nor a continuation of one, or a field given twice in a paragraph,
// is an error naming file and line. Comment lines (#) are skipped
// (debian/control allows them); a PGP signature armour around a .dsc is
// stripped.
func Parse(file string, data []byte) ([]Paragraph, error) {
	return parse(file, data, false)
}

// ParseFile is Parse of the file's content.
func ParseFile(file string) ([]Paragraph, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	return Parse(file, data)
}

// ParseLenient is Parse for files whose content only informs, such as a
// package's copyright file, where Parse fails: a line without a colon, or
// a continuation line outside a field, is skipped; any other line is a
// field, whatever its name (so a paragraph of free text still counts as
// one, and is not mistaken for what follows it); a field given twice
// replaces the earlier one.
func ParseLenient(data []byte) []Paragraph {
	paras, _ := parse("", data, true)
	return paras
}

func parse(file string, data []byte, lenient bool) ([]Paragraph, error) {
	lines := strings.Split(strings.ReplaceAll(string(data), "\r\n", "\n"), "\n")
	lines, offset := stripPGP(lines)
	var paras []Paragraph
	var cur *Paragraph
	seen := map[string]int{} // lower-case name -> index in cur.Fields
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
				if lenient {
					continue
				}
				return nil, &ParseError{File: file, Line: ln, Msg: "continuation line outside a field"}
			}
			f := &cur.Fields[len(cur.Fields)-1]
			f.Value += "\n" + strings.TrimSpace(raw)
			continue
		}
		name, value, ok := strings.Cut(raw, ":")
		if lenient && !ok {
			continue
		}
		if !lenient && (!ok || name == "" || strings.ContainsAny(name, " \t")) {
			return nil, &ParseError{File: file, Line: ln, Msg: fmt.Sprintf("expected \"Field: value\", got %q", raw)}
		}
		if cur == nil {
			paras = append(paras, Paragraph{Line: ln})
			cur = &paras[len(paras)-1]
			seen = map[string]int{}
		}
		f := Field{Name: name, Value: strings.TrimSpace(value), Line: ln}
		key := strings.ToLower(name)
		if prev, dup := seen[key]; dup {
			if !lenient {
				return nil, &ParseError{File: file, Line: ln, Field: name, Msg: fmt.Sprintf("duplicate field (first on line %d)", cur.Fields[prev].Line)}
			}
			// The repeated field moves to the end, where continuation
			// lines go.
			cur.Fields = append(cur.Fields[:prev], cur.Fields[prev+1:]...)
			for k, j := range seen {
				if j > prev {
					seen[k] = j - 1
				}
			}
		}
		seen[key] = len(cur.Fields)
		cur.Fields = append(cur.Fields, f)
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
