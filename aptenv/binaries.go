package aptenv

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

// Binary is one binary package stanza of the archive's Packages indexes,
// with the fields a dependency walk needs.
type Binary struct {
	Name, Version, Architecture, MultiArch string
	// Depends joins Pre-Depends and Depends as written.
	Depends   string
	Essential bool
}

// ParseBinaries reads Packages stanzas from r, keeping the fields of
// Binary. It is a line scanner, not a full deb822 reader: an index is tens
// of megabytes, and only a few single-line fields (and Depends, which
// Debian writes on one line) are wanted.
func ParseBinaries(r io.Reader) ([]Binary, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	var out []Binary
	var cur Binary
	var pre, dep string
	flush := func() {
		if cur.Name != "" {
			switch {
			case pre != "" && dep != "":
				cur.Depends = pre + ", " + dep
			case pre != "":
				cur.Depends = pre
			default:
				cur.Depends = dep
			}
			out = append(out, cur)
		}
		cur, pre, dep = Binary{}, "", ""
	}
	// Only the fields below are turned into strings: most of an index's
	// lines (descriptions, checksums) are looked at by their first bytes.
	last := ""
	for sc.Scan() {
		l := sc.Bytes()
		if len(l) == 0 {
			flush()
			last = ""
			continue
		}
		if l[0] == ' ' || l[0] == '\t' {
			// A continuation line: only relation fields matter here.
			switch last {
			case "Depends":
				dep += " " + string(bytes.TrimSpace(l))
			case "Pre-Depends":
				pre += " " + string(bytes.TrimSpace(l))
			}
			continue
		}
		i := bytes.IndexByte(l, ':')
		if i < 0 {
			return nil, fmt.Errorf("line %q is neither a field nor a continuation", l)
		}
		last = ""
		var dst *string
		switch string(l[:i]) { // no allocation: the compiler compares in place
		case "Package":
			dst = &cur.Name
		case "Version":
			dst = &cur.Version
		case "Architecture":
			dst = &cur.Architecture
		case "Multi-Arch":
			dst = &cur.MultiArch
		case "Depends":
			dst, last = &dep, "Depends"
		case "Pre-Depends":
			dst, last = &pre, "Pre-Depends"
		case "Essential":
			cur.Essential = string(bytes.TrimSpace(l[i+1:])) == "yes"
			continue
		default:
			continue
		}
		*dst = string(bytes.TrimSpace(l[i+1:]))
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	flush()
	return out, nil
}

// ListsBinaries reads the binary packages for arch (and Architecture:
// all) from the Packages lists in an apt lists directory, such as a root's
// /var/lib/apt/lists: the indexes that root's apt resolves against.
// Compressed lists are read through apt-helper cat-file.
func ListsBinaries(ctx context.Context, dir, arch string) ([]Binary, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var files []string
	for _, e := range ents {
		n := e.Name()
		base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(n, ".lz4"), ".gz"), ".xz"), ".zst")
		if e.Type().IsRegular() && (strings.HasSuffix(base, "_binary-"+arch+"_Packages") || strings.HasSuffix(base, "_binary-all_Packages")) {
			files = append(files, filepath.Join(dir, n))
		}
	}
	sort.Strings(files)
	if len(files) == 0 {
		return nil, fmt.Errorf("%s: no Packages list for %s", dir, arch)
	}
	var all []Binary
	for _, f := range files {
		var bs []Binary
		if strings.HasSuffix(f, "_Packages") {
			fh, err := os.Open(f)
			if err != nil {
				return nil, err
			}
			bs, err = ParseBinaries(fh)
			fh.Close()
			if err != nil {
				return nil, fmt.Errorf("%s: %w", f, err)
			}
		} else {
			out, err := exec.CommandContext(ctx, "/usr/lib/apt/apt-helper", "cat-file", f).Output()
			if err != nil {
				return nil, fmt.Errorf("apt-helper cat-file %s: %w", f, err)
			}
			if bs, err = ParseBinaries(bytes.NewReader(out)); err != nil {
				return nil, fmt.Errorf("%s: %w", f, err)
			}
		}
		all = append(all, bs...)
	}
	return all, nil
}
