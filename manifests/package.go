package manifests

import "time"

// CrossBuildable reports whether p can be cross-built: build.cross, which
// defaults to true.
func (p *Package) CrossBuildable() bool {
	return p.Build.Cross == nil || *p.Build.Cross
}

// ArchEnabled reports whether p builds for arch. A package without an
// architectures list builds for every architecture, so callers should ask
// only about the project's architectures (Load guarantees that a package's
// list is a subset of them).
func (p *Package) ArchEnabled(arch string) bool {
	if len(p.Architectures) == 0 {
		return true
	}
	for _, a := range p.Architectures {
		if a == arch {
			return true
		}
	}
	return false
}

// Package returns the package named name, or nil if there is none.
func (p *Project) Package(name string) *Package {
	for _, pkg := range p.PackageList {
		if pkg.Name == name {
			return pkg
		}
	}
	return nil
}

// EstimateDuration returns build.estimate as a duration, or 0 when it is
// unset. Load rejects values that do not parse or are not positive.
func (b BuildOptions) EstimateDuration() time.Duration {
	if b.Estimate == "" {
		return 0
	}
	d, err := time.ParseDuration(b.Estimate)
	if err != nil || d <= 0 {
		return 0
	}
	return d
}

// MemoryLimit is build.memory in bytes (0 when unset: the default).
func (b BuildOptions) MemoryLimit() int64 {
	if b.Memory == "" {
		return 0
	}
	n, err := ParseSize(b.Memory)
	if err != nil || n <= 0 {
		return 0
	}
	return n
}

// TmpfsSize interprets build.tmpfs: disk is true for "disk", size is the
// hint in bytes for a size, and both are zero when tmpfs is unset (the size
// is then up to the scheduler).
func (b BuildOptions) TmpfsSize() (size int64, disk bool) {
	switch b.Tmpfs {
	case "":
		return 0, false
	case tmpfsDisk:
		return 0, true
	}
	n, err := ParseSize(b.Tmpfs)
	if err != nil || n <= 0 {
		return 0, false
	}
	return n, false
}
