package image

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/stx-build/stx-build/deb822"
	"github.com/stx-build/stx-build/dpkgstatus"
)

// Package is one installed binary package of an image.
type Package struct {
	Name, Version, Architecture string
	// Source and SourceVersion name the source package it was built from.
	Source, SourceVersion string
	// License is an SPDX license expression from the package's
	// machine-readable copyright file, or "" when unknown.
	License string
	// Local says the package came from the project's own repository;
	// SHA256 is then the .deb's checksum there.
	Local  bool
	SHA256 string
}

// readInstalled returns the packages dpkg lists as installed in root,
// sorted by name and architecture.
func readInstalled(root string) ([]Package, error) {
	installed, err := dpkgstatus.Root(root)
	if err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}
	pkgs := make([]Package, 0, len(installed))
	for _, p := range installed {
		pkgs = append(pkgs, Package{Name: p.Name, Version: p.Version, Architecture: p.Architecture,
			Source: p.Source, SourceVersion: p.SourceVersion})
	}
	return pkgs, nil
}

// localBinary is a package of the project's repository.
type localBinary struct {
	name, version, arch, source, sha256 string
	depends                             []string
}

// readLocalRepo reads the binary package index of a local repository
// (repo.Repo's layout: dists/stx/main/binary-<arch>/Packages). A missing
// repository has no packages.
func readLocalRepo(dir, arch string) (map[string]localBinary, error) {
	out := map[string]localBinary{}
	if dir == "" {
		return out, nil
	}
	file := filepath.Join(dir, "dists", "stx", "main", "binary-"+arch, "Packages")
	data, err := os.ReadFile(file)
	if os.IsNotExist(err) {
		return out, nil
	}
	if err != nil {
		return nil, fmt.Errorf("image: local repository: %w", err)
	}
	paras, err := deb822.Parse(file, data)
	if err != nil {
		return nil, fmt.Errorf("image: local repository: %w", err)
	}
	for _, p := range paras {
		b := localBinary{name: p.Value("Package"), version: p.Value("Version"), arch: p.Value("Architecture"), source: p.Value("Package"), sha256: p.Value("SHA256")}
		if src := p.Value("Source"); src != "" {
			b.source, _, _ = strings.Cut(src, " ")
		}
		b.depends = append(dependencyNames(p.Value("Pre-Depends")), dependencyNames(p.Value("Depends"))...)
		out[b.name] = b
	}
	return out, nil
}

// dependencyNames returns every package name a Depends-style field
// mentions (all alternatives, without versions or qualifiers).
func dependencyNames(field string) []string {
	var names []string
	for _, rel := range strings.Split(field, ",") {
		for _, alt := range strings.Split(rel, "|") {
			alt = strings.TrimSpace(alt)
			if i := strings.IndexAny(alt, " ([<"); i >= 0 {
				alt = alt[:i]
			}
			alt, _, _ = strings.Cut(alt, ":")
			if alt != "" {
				names = append(names, alt)
			}
		}
	}
	return names
}

// localClosure returns the local packages an install of want pulls in:
// want's local ones and, transitively, the local packages they depend on
// (every alternative counts, so it errs on the side of more), sorted.
func localClosure(local map[string]localBinary, want []string) []localBinary {
	seen := map[string]bool{}
	var queue []string
	for _, w := range want {
		name, _, _ := strings.Cut(w, "=")
		name, _, _ = strings.Cut(name, ":")
		queue = append(queue, name)
	}
	var out []localBinary
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		b, ok := local[n]
		if !ok || seen[n] {
			continue
		}
		seen[n] = true
		out = append(out, b)
		queue = append(queue, b.depends...)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// imageEpoch is the newest changelog date of the local source packages
// whose binaries the image installs; fallback when there are none.
func imageEpoch(closure []localBinary, changelogs map[string]time.Time, fallback time.Time) time.Time {
	var t time.Time
	for _, b := range closure {
		if d := changelogs[b.source]; d.After(t) {
			t = d
		}
	}
	if t.IsZero() {
		return fallback
	}
	return t.UTC()
}
