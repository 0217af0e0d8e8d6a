// Package dpkgstatus reads dpkg's status file (var/lib/dpkg/status): the
// packages a root filesystem has installed. It is the one reader of it for
// the lock recording (store), cached roots (rootfs) and the image and ISO
// package lists.
package dpkgstatus

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/stx-build/stx-build/deb822"
	"github.com/stx-build/stx-build/internal/regularfile"
)

// Path is where a root keeps dpkg's status, relative to the root.
const Path = "var/lib/dpkg/status"

// maxSize bounds the status file read (a few MB in a full root): only a
// device or a runaway file reaches it.
const maxSize = 256 << 20

// Package is one installed package.
type Package struct {
	Name, Version, Architecture string
	// Source and SourceVersion name the source package it was built
	// from: its Source field, or the package's own name and version.
	Source, SourceVersion string
}

// Root reads the status of the root filesystem at root.
func Root(root string) ([]Package, error) {
	return Read(filepath.Join(root, Path))
}

// Read reads the status file file; it must be a regular file (a symlink
// to one is followed).
func Read(file string) ([]Package, error) {
	data, err := regularfile.Read(file, maxSize)
	if err != nil {
		return nil, fmt.Errorf("dpkg status %s: %w", file, err)
	}
	return Parse(file, data)
}

// Parse returns the packages of status data that are installed — the
// third word of their Status field is "installed", whatever the selection
// (install, hold, deinstall) — sorted by name and architecture. Entries
// without a name are left out; file names the data in errors.
func Parse(file string, data []byte) ([]Package, error) {
	paras, err := deb822.Parse(file, data)
	if err != nil {
		return nil, err
	}
	var out []Package
	for _, p := range paras {
		if f := strings.Fields(p.Value("Status")); len(f) != 3 || f[2] != "installed" {
			continue
		}
		pk := Package{Name: p.Value("Package"), Version: p.Value("Version"), Architecture: p.Value("Architecture")}
		if pk.Name == "" {
			continue
		}
		pk.Source, pk.SourceVersion = pk.Name, pk.Version
		if src := p.Value("Source"); src != "" {
			name, ver, ok := strings.Cut(src, " ")
			pk.Source = name
			if ok {
				pk.SourceVersion = strings.Trim(ver, "()")
			}
		}
		out = append(out, pk)
	}
	slices.SortFunc(out, Compare)
	return out, nil
}

// Compare orders packages by name, then architecture.
func Compare(a, b Package) int {
	if c := strings.Compare(a.Name, b.Name); c != 0 {
		return c
	}
	return strings.Compare(a.Architecture, b.Architecture)
}
