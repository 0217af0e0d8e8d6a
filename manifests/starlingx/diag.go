package starlingx

import (
	"fmt"
	"sort"
	"strings"

	"github.com/stx-build/stx-build/manifests"
)

// Severity says whether a Diagnostic stops the tree from being used.
type Severity int

const (
	// Warning is something StarlingX's tools silently swallow (a listed
	// directory that is missing, a misspelt key): the reader does what
	// they do and says so.
	Warning Severity = iota
	// Error is a problem the reader cannot resolve the way StarlingX would
	// (no meta_data.yaml, a path out of the tree, two packages with one
	// source name); the package it concerns is left out.
	Error
)

func (s Severity) String() string {
	if s == Error {
		return "error"
	}
	return "warning"
}

// Diagnostic is one problem found in a StarlingX tree, at a file, line and
// column (file relative to the tree's root, MY_REPO_ROOT_DIR), in the
// manifests loader's "file:line:col: field: msg" form.
type Diagnostic struct {
	Severity Severity
	manifests.Error
}

// String is "file:line:col: warning: field: msg".
func (d *Diagnostic) String() string {
	e := d.Error
	e.Msg = d.Severity.String() + ": "
	if e.Field != "" {
		e.Msg += e.Field + ": "
		e.Field = ""
	}
	e.Msg += d.Msg
	return e.Error()
}

// Diagnostics is every problem of one read, sorted by file, line and column.
type Diagnostics []*Diagnostic

// Errors returns the diagnostics of severity Error.
func (ds Diagnostics) Errors() Diagnostics {
	var out Diagnostics
	for _, d := range ds {
		if d.Severity == Error {
			out = append(out, d)
		}
	}
	return out
}

// Error joins the diagnostics, one per line, so Diagnostics can be
// returned as an error.
func (ds Diagnostics) Error() string {
	lines := make([]string, len(ds))
	for i, d := range ds {
		lines[i] = d.String()
	}
	return strings.Join(lines, "\n")
}

func (ds Diagnostics) sort() {
	sort.SliceStable(ds, func(i, j int) bool {
		a, b := ds[i], ds[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Column < b.Column
	})
}

// reporter collects diagnostics for one file.
type reporter struct {
	file string
	out  *Diagnostics
}

func (r reporter) add(sev Severity, line, col int, field, format string, args ...any) {
	*r.out = append(*r.out, &Diagnostic{Severity: sev, Error: manifests.Error{
		File: r.file, Line: line, Column: col, Field: field, Msg: fmt.Sprintf(format, args...),
	}})
}
