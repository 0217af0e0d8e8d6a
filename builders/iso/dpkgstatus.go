package iso

import (
	"bytes"
	"fmt"
	"sort"

	"github.com/stx-build/stx-build/dpkgstatus"
)

// Package is one installed package.
type Package struct {
	Name         string `json:"name"`
	Version      string `json:"version"`
	Architecture string `json:"architecture"`
}

func (p Package) String() string { return p.Name + " " + p.Version + " " + p.Architecture }

// installedPackages reads a root's dpkg status: the packages installed,
// sorted by name and architecture.
func installedPackages(root string) ([]Package, error) {
	pkgs, err := dpkgstatus.Root(root)
	return fromStatus(pkgs), err
}

func parseStatus(file string, data []byte) ([]Package, error) {
	pkgs, err := dpkgstatus.Parse(file, data)
	return fromStatus(pkgs), err
}

func fromStatus(pkgs []dpkgstatus.Package) []Package {
	var out []Package
	for _, p := range pkgs {
		out = append(out, Package{Name: p.Name, Version: p.Version, Architecture: p.Architecture})
	}
	return out
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
