package workspace

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"

	"github.com/stx-build/stx-build/internal/atomicfile"
	"github.com/stx-build/stx-build/rootfs"
)

// A package is built for a foreign architecture in one of two ways:
// cross (dpkg-buildpackage --host-arch on the build machine's base root,
// with the cross and nocheck profiles), or emulated: a native build in a
// base root of the target architecture itself, whose programs run under
// qemu-user through binfmt_misc, about ten times slower. A package whose
// manifest says build.cross: false is always emulated. One whose cross
// build-dependencies cannot be installed (a build tool named without
// :native) is switched to emulation by the run that finds out (Emulate),
// and the cache remembers it for that version, so later runs plan it
// emulated from the start; a new version tries cross again, and an
// explicit build.cross: true never switches. Kernels are never emulated:
// their recipe cross-compiles.

// emulatedDir is where the cache remembers the switched packages:
// <project>/<arch>/<name>.json holding an emulatedEntry (by project: a
// cache may serve projects whose packages share names and versions).
const emulatedDir = "emulated"

type emulatedEntry struct {
	Version string `json:"version"`
	Why     string `json:"why"`
}

// Emulated reports whether pr builds emulated on arch, and why ("" when
// it does not: a native or a cross build).
func (w *Workspace) Emulated(pr *Prepared, arch string) (bool, string) {
	pkg := pr.Package
	if arch == w.opts.HostArch || pkg.Source.Kernel != nil {
		return false, ""
	}
	if !pkg.CrossBuildable() {
		return true, "build.cross is false"
	}
	if pkg.Build.Cross != nil {
		return false, "" // build.cross: true, said explicitly
	}
	w.emulatedMu.Lock()
	defer w.emulatedMu.Unlock()
	id := pkg.Name + ":" + arch
	e, ok := w.emulated[id]
	if !ok {
		// Not asked yet in this process: what an earlier run found.
		if w.emulated == nil {
			w.emulated = map[string]emulatedEntry{}
		}
		data, err := os.ReadFile(w.emulatedFile(pkg.Name, arch))
		if err == nil && json.Unmarshal(data, &e) != nil {
			e = emulatedEntry{}
		}
		w.emulated[id] = e
	}
	if e.Version == "" || e.Version != pr.Source.Version {
		return false, ""
	}
	return true, e.Why
}

// Emulate makes pr build emulated on arch from now on (graphs compiled
// after it, build keys computed after it, and later runs for this
// version), saying why.
func (w *Workspace) Emulate(pr *Prepared, arch, why string) error {
	e := emulatedEntry{Version: pr.Source.Version, Why: why}
	w.emulatedMu.Lock()
	if w.emulated == nil {
		w.emulated = map[string]emulatedEntry{}
	}
	w.emulated[pr.Package.Name+":"+arch] = e
	w.emulatedMu.Unlock()
	file := w.emulatedFile(pr.Package.Name, arch)
	data, _ := json.Marshal(e)
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return fmt.Errorf("remember %s on %s as emulated: %w", pr.Package.Name, arch, err)
	}
	if err := atomicfile.Write(file, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("remember %s on %s as emulated: %w", pr.Package.Name, arch, err)
	}
	return nil
}

func (w *Workspace) emulatedFile(name, arch string) string {
	return filepath.Join(w.opts.CacheDir, emulatedDir, url.PathEscape(w.Project.Name), arch, name+".json")
}

// EmulatedArchs are the architectures among archs on which some package
// of prepared builds emulated, in archs' order.
func (w *Workspace) EmulatedArchs(prepared []*Prepared, archs []string) []string {
	var out []string
	for _, arch := range archs {
		for _, pr := range prepared {
			if emu, _ := w.Emulated(pr, arch); emu {
				out = append(out, arch)
				break
			}
		}
	}
	return out
}

// EmulatedBaseSpec is the base root of emulated builds for arch: the
// project's suite for arch itself, from the same sources as BaseSpec.
// mmdebstrap runs its maintainer scripts under qemu-user.
func (w *Workspace) EmulatedBaseSpec(arch string) (rootfs.Spec, error) {
	spec, err := w.BaseSpec()
	if err != nil {
		return rootfs.Spec{}, err
	}
	spec.Arch, spec.ForeignArchs, spec.Include = arch, nil, []string{"fakeroot"}
	return spec, nil
}
