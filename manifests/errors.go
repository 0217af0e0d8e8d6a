package manifests

import (
	"fmt"
	"sort"
	"strings"
)

// Error is one problem in a manifest. Every problem found while loading is
// an *Error, so tools can point an editor at the file, line and column.
type Error struct {
	// File is the manifest's path: relative to the project directory when
	// loaded by Load, as given to LoadPackage otherwise.
	File string
	// Line and Column are 1-based; 0 means unknown.
	Line   int
	Column int
	// Field is the dotted path of the offending field, such as
	// "source.dsc.sha256" or "cycle-breaks[1].binary"; empty when the problem
	// concerns the whole file.
	Field string
	// Msg says what is wrong.
	Msg string
}

// Error formats the problem as "file:line:col: field: msg", leaving out the
// parts that are unknown.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
		if e.Column > 0 {
			fmt.Fprintf(&b, ":%d", e.Column)
		}
	}
	b.WriteString(": ")
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors is every problem found in one load, sorted by file, line and column.
type Errors []*Error

// Error joins the problems, one per line.
func (errs Errors) Error() string {
	lines := make([]string, len(errs))
	for i, e := range errs {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap lets errors.As find the individual *Error values.
func (errs Errors) Unwrap() []error {
	out := make([]error, len(errs))
	for i, e := range errs {
		out[i] = e
	}
	return out
}

// sort orders problems by file, line and column; problems at the same place
// keep the order in which they were found.
func (errs Errors) sort() {
	sort.SliceStable(errs, func(i, j int) bool {
		a, b := errs[i], errs[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Column < b.Column
	})
}

// asError returns nil for no problems, so that a nil Errors never becomes a
// non-nil error interface.
func (errs Errors) asError() error {
	if len(errs) == 0 {
		return nil
	}
	errs.sort()
	return errs
}
