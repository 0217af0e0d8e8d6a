package iso

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Package is one installed package.
type Package struct {
	Name         string `json:"name"`
	Version      string `json:"version"`
	Architecture string `json:"architecture"`
}

func (p Package) String() string { return p.Name + " " + p.Version + " " + p.Architecture }

// installedPackages reads a root's dpkg status: the packages installed
// ("install ok installed"), sorted by name and architecture.
func installedPackages(root string) ([]Package, error) {
	data, err := os.ReadFile(filepath.Join(root, "var/lib/dpkg/status"))
	if err != nil {
		return nil, err
	}
	pkgs, err := parseStatus(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(root, "var/lib/dpkg/status"), err)
	}
	return pkgs, nil
}

func parseStatus(data []byte) ([]Package, error) {
	var out []Package
	var cur Package
	var status string
	flush := func() {
		if cur.Name != "" && status == "install ok installed" {
			out = append(out, cur)
		}
		cur, status = Package{}, ""
	}
	s := bufio.NewScanner(bytes.NewReader(data))
	s.Buffer(make([]byte, 0, 64<<10), 4<<20)
	for s.Scan() {
		l := s.Text()
		if strings.TrimSpace(l) == "" {
			flush()
			continue
		}
		if l[0] == ' ' || l[0] == '\t' {
			continue
		}
		k, v, ok := strings.Cut(l, ":")
		if !ok {
			return nil, fmt.Errorf("bad line %q", l)
		}
		v = strings.TrimSpace(v)
		switch k {
		case "Package":
			cur.Name = v
		case "Version":
			cur.Version = v
		case "Architecture":
			cur.Architecture = v
		case "Status":
			status = v
		}
	}
	if err := s.Err(); err != nil {
		return nil, err
	}
	flush()
	sortPackages(out)
	return out, nil
}

func sortPackages(p []Package) {
	sort.Slice(p, func(i, j int) bool {
		if p[i].Name != p[j].Name {
			return p[i].Name < p[j].Name
		}
		return p[i].Architecture < p[j].Architecture
	})
}

// packageList renders packages one per line, "name version architecture".
func packageList(pkgs []Package) []byte {
	var b bytes.Buffer
	for _, p := range pkgs {
		fmt.Fprintf(&b, "%s\t%s\t%s\n", p.Name, p.Version, p.Architecture)
	}
	return b.Bytes()
}
