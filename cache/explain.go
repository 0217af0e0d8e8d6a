package cache

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Change is one input that differs between two builds of a package.
type Change struct {
	Kind, Name string
	// Added and Removed say the input exists only in the later or the
	// earlier build; otherwise its value changed from Old to New.
	Added, Removed bool
	Old, New       string
}

// Diff lists the inputs that differ between prev and cur, sorted by kind
// and name. Both lists must be sorted (Build.Inputs are).
func Diff(prev, cur []Input) []Change {
	var out []Change
	i, j := 0, 0
	for i < len(prev) || j < len(cur) {
		switch {
		case j == len(cur) || i < len(prev) && compareInputs(prev[i], cur[j]) < 0:
			out = append(out, Change{Kind: prev[i].Kind, Name: prev[i].Name, Removed: true, Old: prev[i].Value})
			i++
		case i == len(prev) || compareInputs(prev[i], cur[j]) > 0:
			out = append(out, Change{Kind: cur[j].Kind, Name: cur[j].Name, Added: true, New: cur[j].Value})
			j++
		default:
			if prev[i].Value != cur[j].Value {
				out = append(out, Change{Kind: cur[j].Kind, Name: cur[j].Name, Old: prev[i].Value, New: cur[j].Value})
			}
			i++
			j++
		}
	}
	return out
}

// String says what changed in words, e.g. "source file src/main.c
// changed", "build-dependency libstx/amd64 changed (key 1a2b3c4d5e6f ->
// 6f5e4d3c2b1a)".
func (c Change) String() string {
	what := c.Kind + " " + c.Name
	switch c.Kind {
	case KindSource:
		what = "source " + sourceNoun(c.Old, c.New) + " " + c.Name
	case KindPatch:
		what = "patch " + c.Name
	case KindDep:
		what = "build-dependency " + c.Name
	case KindManifest:
		what = c.Name + " (normalized)"
	case KindBase:
		switch c.Name {
		case "archive":
			what = "archive state (the base root's apt Release files)"
		case "rootfs":
			what = "base root (rootfs key)"
		}
	case KindBuild:
		what = "build setting " + c.Name
	}
	switch {
	case c.Added:
		return what + " added" + detail(false, "", c.New, c.Kind)
	case c.Removed:
		return what + " removed"
	}
	return what + " changed" + detail(true, c.Old, c.New, c.Kind)
}

func sourceNoun(old, new string) string {
	v := new
	if v == "" {
		v = old
	}
	switch typ, _, _ := strings.Cut(v, " "); typ {
	case "dir":
		return "directory"
	case "symlink":
		return "symlink"
	case "dsc":
		return ".dsc"
	}
	return "file"
}

// detail adds what is worth showing of the values: settings in full,
// digests and keys shortened, a mode change named.
func detail(changed bool, old, new, kind string) string {
	ot, ov, _ := strings.Cut(old, " ")
	nt, nv, _ := strings.Cut(new, " ")
	switch kind {
	case KindBuild:
		if !changed {
			return fmt.Sprintf(" (%q)", new)
		}
		return fmt.Sprintf(" (%q -> %q)", old, new)
	case KindDep:
		if !changed {
			return " (key " + short(new) + ")"
		}
		return " (key " + short(old) + " -> " + short(new) + ")"
	case KindSource:
		if !changed {
			return ""
		}
		switch {
		case ot == "symlink" && nt == "symlink":
			return fmt.Sprintf(" (-> %s, was -> %s)", nv, ov)
		case ot != nt && ov == nv:
			return " (mode: " + ot + " -> " + nt + ")"
		case ot != nt:
			return " (" + ot + " -> " + nt + ", content)"
		}
		return " (content)"
	}
	return ""
}

func short(v string) string {
	if len(v) > 12 {
		return v[:12]
	}
	return v
}

// Explanation says why a package is (or is not) built.
type Explanation struct {
	Build Build
	// Where holds Build.Key: "local", a remote, or "" when it must be built.
	Where string
	// Prev is the build compared with: for a package, the one last built
	// or restored for its package and architecture; for a dependency, the
	// one the package's previous build used. Nil when there is none.
	Prev *Build
	// PrevPruned names the previous key when its entry is gone.
	PrevPruned Key
	// Changes are the inputs that differ from Prev.
	Changes []Change
	// Deps explain the changed build-dependencies.
	Deps []*Explanation
}

// CurrentBuild returns the current build of a dependency, by the name of
// its KindDep input ("package/arch").
type CurrentBuild func(dep string) (Build, bool)

// maxExplainDepth bounds nested dependency explanations.
const maxExplainDepth = 8

// Explain compares b with the build last built or restored for its package
// and architecture, and each changed build-dependency with the build the
// previous one used, as far as the local store still has those entries.
func (c *Cache) Explain(ctx context.Context, b Build, current CurrentBuild) (*Explanation, error) {
	x := &Explanation{Build: b, Where: c.Where(ctx, b.Key)}
	prevKey, err := c.local.Ref(b.Package, b.Arch)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return x, nil
		}
		return nil, err
	}
	c.explainFrom(ctx, x, prevKey, current, map[Key]bool{}, 0)
	return x, nil
}

func (c *Cache) explainFrom(ctx context.Context, x *Explanation, prevKey Key, current CurrentBuild, seen map[Key]bool, depth int) {
	if prevKey == x.Build.Key {
		x.Prev = &x.Build
		return
	}
	e, err := c.local.Get(ctx, prevKey)
	if err != nil {
		x.PrevPruned = prevKey
		return
	}
	x.Prev = &e.Manifest.Build
	x.Changes = Diff(e.Manifest.Inputs, x.Build.Inputs)
	if depth >= maxExplainDepth || current == nil {
		return
	}
	for _, ch := range x.Changes {
		if ch.Kind != KindDep || ch.Added || ch.Removed || seen[Key(ch.New)] {
			continue // explained above
		}
		seen[Key(ch.New)] = true
		cur, ok := current(ch.Name)
		if !ok || cur.Key != Key(ch.New) {
			continue
		}
		dx := &Explanation{Build: cur, Where: c.Where(ctx, cur.Key)}
		c.explainFrom(ctx, dx, Key(ch.Old), current, seen, depth+1)
		x.Deps = append(x.Deps, dx)
	}
}

// Write prints the explanation, dependencies indented below.
func (x *Explanation) Write(w io.Writer) error {
	var b strings.Builder
	x.write(&b, "", true)
	_, err := io.WriteString(w, b.String())
	return err
}

func (x *Explanation) write(b *strings.Builder, indent string, top bool) {
	fmt.Fprintf(b, "%s%s: ", indent, x.Build)
	switch {
	case x.Where == "local" && top && x.Prev != nil && len(x.Changes) == 0:
		b.WriteString("not rebuilt: nothing changed since the last build\n")
	case x.Where == "local":
		b.WriteString("not rebuilt: restored from the local cache (an earlier build had the same inputs)\n")
	case x.Where != "":
		fmt.Fprintf(b, "not rebuilt: pulled from %s\n", x.Where)
	case x.Prev == nil && x.PrevPruned == "":
		b.WriteString("built\n")
	default:
		b.WriteString("rebuilt\n")
	}
	sub := indent + "    "
	switch {
	case x.Prev == nil && x.PrevPruned != "":
		fmt.Fprintf(b, "%sthe previous build (%s) is no longer in the cache: cannot tell which inputs changed\n", sub, x.PrevPruned.Short())
	case x.Prev == nil:
		fmt.Fprintf(b, "%sno earlier build of this package is recorded in the cache\n", sub)
	case len(x.Changes) > 0:
		fmt.Fprintf(b, "%schanged since %s:\n", sub, x.Prev.Key.Short())
		for _, ch := range x.Changes {
			fmt.Fprintf(b, "%s  - %s\n", sub, ch)
		}
	}
	for _, d := range x.Deps {
		d.write(b, sub, false)
	}
}
