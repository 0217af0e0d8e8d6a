package workspace

import (
	"path/filepath"

	"github.com/stx-build/stx-build/aptenv"
	"github.com/stx-build/stx-build/rootfs"
)

// BaseSpec is the base build root of the project on this machine: the
// project's suite for the build machine's architecture, with the cross
// toolchain and the host architecture's libc for every other project
// architecture (dpkg-shlibdeps needs it, as sbuild installs it for cross
// builds), from the project's mirror or the host's apt sources, or with a
// lock in use from the locked repositories only.
func (w *Workspace) BaseSpec() (rootfs.Spec, error) {
	p := w.Project
	spec := rootfs.Spec{Suite: p.Suite, Arch: w.opts.HostArch, Mirror: p.Mirror, Include: []string{"fakeroot"}}
	switch {
	case w.locked != nil:
		// The locked packages only (lock.go): the base is a function of
		// the lock, not of the archive's state.
		spec.Locked, spec.Sources = w.locked.Digest, w.locked.Sources
		// The buildd variant takes apt by the archive's Priority
		// (required), which the locked repositories, indexed from the
		// packages' own control files (important), do not carry: name
		// it. The unlocked base has it either way.
		spec.Include = append(spec.Include, "apt")
	case p.Mirror != "":
		spec.Components = p.Components
	default:
		hs, err := rootfs.HostSources("/")
		if err != nil {
			return rootfs.Spec{}, err
		}
		spec.HostSources = hs
		// Another Debian release than the host's: the host's mirrors with
		// the project's release, as image and ISO roots get them
		// (mmdebstrap would otherwise fall back to its own default mirror).
		lines, derived, err := aptenv.ReleaseSources("/", p.Suite)
		if err != nil {
			return rootfs.Spec{}, err
		}
		if derived {
			spec.Sources = lines
		}
	}
	for _, a := range p.Architectures {
		if a != w.opts.HostArch {
			spec.ForeignArchs = append(spec.ForeignArchs, a)
			spec.Include = append(spec.Include, "crossbuild-essential-"+a, "libc6-dev:"+a)
		}
	}
	return spec, nil
}

// BaseStore is where the project's base roots are kept.
func (w *Workspace) BaseStore() *rootfs.Store {
	return &rootfs.Store{Dir: filepath.Join(w.opts.CacheDir, "rootfs")}
}
