package deb

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// A failed build-dependency step says only "sandbox command exited with
// status 100"; apt said why in its last lines. withCause carries those
// lines into the error, and for the patterns users meet most, what to do.

var (
	// " builddeps:/build/brotli-1.0.9:arm64 : Depends: cmake:arm64 but it is not installable"
	// "  gobject-introspection:arm64 : Depends: build-essential:arm64 but ..."
	unmetLine = regexp.MustCompile(`^\s*(\S+) : (?:Pre-)?Depends: (.*)$`)
	unmetDep  = regexp.MustCompile(`^(\S+?)(?::(\S+))?(?: \([^)]*\))? but (?:it is not installable|it is not going to be installed|.* is to be installed)`)
	noPackage = regexp.MustCompile(`^E: (?:Unable to locate package (\S+)|Package '([^']+)' has no installation candidate)`)
)

// ErrNotCrossBuildable marks a build-dependency failure of a cross build
// that a native build would not meet: a build-dependency wanted for the
// target architecture that is not installable there (a build tool named
// without :native). The package can still be built emulated.
var ErrNotCrossBuildable = errors.New("not cross-buildable")

// maxCauseLines bounds how much of apt's output goes into an error.
const maxCauseLines = 6

// withCause wraps err with apt's error and unmet-dependency lines from out
// (the end of the failed step's output) and a hint for known patterns.
// arch is the architecture built, cross whether it is cross-built.
func withCause(err error, out []byte, name, arch string, cross bool) error {
	var lines, hints []string
	notCross := false
	add := func(h string) {
		if !slices.Contains(hints, h) {
			hints = append(hints, h)
		}
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		l := strings.TrimRight(sc.Text(), " ")
		m := unmetLine.FindStringSubmatch(l)
		if !strings.HasPrefix(l, "E: ") && m == nil {
			continue
		}
		if t := strings.TrimSpace(l); !slices.Contains(lines, t) && len(lines) < maxCauseLines {
			lines = append(lines, t)
		}
		if m != nil {
			// The package apt names on the left is the one pulled in: a
			// build-dependency of the target architecture is the cause,
			// not what it depends on in turn.
			who, whoArch, _ := strings.Cut(m[1], ":")
			if d := unmetDep.FindStringSubmatch(m[2]); d != nil {
				if strings.HasPrefix(m[1], "builddeps:") {
					who, whoArch = d[1], d[2]
				}
				switch {
				case cross && whoArch == arch:
					notCross = true
					add(fmt.Sprintf("%s is not cross-buildable as written: it needs %s for the target architecture %s (usually a build tool named without :native in Build-Depends); patch its Build-Depends, build it emulated (build.cross: false, or leave build.cross out), or leave %s out of its architectures", name, who, arch, arch))
				default:
					add(fmt.Sprintf("%s cannot be installed for %s: a version it needs is neither in the archive's indexes nor built by the project", d[1], arch))
				}
			}
		}
		if n := noPackage.FindStringSubmatch(l); n != nil {
			add(fmt.Sprintf("%s is neither in the archive's indexes nor built by the project: add it to the project, or check the name", n[1]+n[2]))
		}
		if strings.Contains(l, "Packages were downgraded and -y was used without --allow-downgrades") {
			add("a project package is older than the one installed in the base root")
		}
	}
	if len(lines) == 0 {
		return err
	}
	msg := fmt.Sprintf("%v: apt: %s", err, strings.Join(lines, "; "))
	if len(hints) > 0 {
		msg += " (" + strings.Join(hints, "; ") + ")"
	}
	ce := &causeError{msg: msg, errs: []error{err}}
	if notCross {
		ce.errs = append(ce.errs, ErrNotCrossBuildable)
	}
	return ce
}

// causeError keeps the wrapped error for errors.Is and errors.As, and
// ErrNotCrossBuildable when apt's lines say so.
type causeError struct {
	msg  string
	errs []error
}

func (e *causeError) Error() string   { return e.msg }
func (e *causeError) Unwrap() []error { return e.errs }
