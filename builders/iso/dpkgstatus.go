package iso

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/stx-build/stx-build/deb822"
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
	file := filepath.Join(root, "var/lib/dpkg/status")
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	return parseStatus(file, data)
}

func parseStatus(file string, data []byte) ([]Package, error) {
	paras, err := deb822.Parse(file, data)
	if err != nil {
		return nil, err
	}
	var out []Package
	for _, p := range paras {
		pk := Package{Name: p.Value("Package"), Version: p.Value("Version"), Architecture: p.Value("Architecture")}
		if pk.Name != "" && p.Value("Status") == "install ok installed" {
			out = append(out, pk)
		}
	}
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
