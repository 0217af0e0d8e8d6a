// Package history keeps what past builds took: wall time, CPU time and the
// peak size of the build tree, per package, version and architecture,
// under the cache directory. The scheduler's next plan starts from it.
//
// Layout: Dir/<arch>/<package>/<version>.json, one Record each, replaced
// atomically (temporary file, fsync, rename) so a crash never leaves half
// a record. Only successful builds are recorded.
package history

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/stx-build/stx-build/internal/atomicfile"
)

// Record is one finished build.
type Record struct {
	Package string `json:"package"`
	Version string `json:"version"`
	Arch    string `json:"arch"`
	// Seconds is the build's wall time: setup (unpack, build-deps) and
	// dpkg-buildpackage. SetupSeconds is the setup part.
	Seconds      float64 `json:"seconds"`
	SetupSeconds float64 `json:"setup_seconds"`
	// CPUSeconds is the user and system time of the build's processes; 0
	// when unknown (see docs/scheduling.md: measured only for builds that
	// ran alone).
	CPUSeconds float64 `json:"cpu_seconds,omitempty"`
	// PeakBytes is the peak size of the build tree.
	PeakBytes int64 `json:"peak_bytes"`
	// OnTmpfs says the (last attempt of the) build ran on tmpfs; Retried
	// that it ran out of space on tmpfs first.
	OnTmpfs bool `json:"tmpfs"`
	Retried bool `json:"retried,omitempty"`
	// Jobs is the make parallelism it ran with.
	Jobs int `json:"jobs"`
	// Emulated says it ran under qemu-user (an emulated build of a
	// foreign architecture), about scheduler.EmulationFactor times slower
	// than a cross build.
	Emulated bool `json:"emulated,omitempty"`
	// Finished is when it ended.
	Finished time.Time `json:"finished"`
	// Phases are the build's phases in order (unpack, resolve,
	// environment, build, collect), each with whether it came from a
	// cache; none in records written before phases were kept.
	Phases []Phase `json:"phases,omitempty"`
	// Made is what each cacheable phase (resolve, environment) took the
	// last time it was made rather than taken from a cache, carried over
	// from earlier records of the same build (Carry): a record of a build
	// that found its layer cached still says what making it costs.
	Made map[string]float64 `json:"made,omitempty"`
	// ReposView is a digest of the project's repositories as the build
	// resolved against them: their packages, versions and relations,
	// not their files' checksums (see buildrun's reposView). A build
	// that finds the same view finds its resolution in the cache; the
	// first builds of a project, each of which saw fewer packages
	// published, do not.
	ReposView string `json:"repos_view,omitempty"`
}

// Phase is the time one phase of a build took.
type Phase struct {
	Name    string  `json:"name"`
	Seconds float64 `json:"seconds"`
	Cached  bool    `json:"cached,omitempty"`
}

// Store is the history under one directory.
type Store struct {
	Dir string
}

func (s *Store) path(pkg, version, arch string) string {
	return filepath.Join(s.Dir, arch, pkg, url.PathEscape(version)+".json")
}

func checkName(what, v string) error {
	if v == "" || v == "." || v == ".." || strings.ContainsAny(v, "/\\\x00") {
		return fmt.Errorf("history: bad %s %q", what, v)
	}
	return nil
}

// Add records r, replacing an earlier record of the same package, version
// and architecture.
func (s *Store) Add(r Record) error {
	for _, c := range []struct{ what, v string }{{"package", r.Package}, {"version", r.Version}, {"architecture", r.Arch}} {
		if err := checkName(c.what, c.v); err != nil {
			return err
		}
	}
	p := s.path(r.Package, r.Version, r.Arch)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("history: %w", err)
	}
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("history: %w", err)
	}
	if err := atomicfile.Write(p, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("history: record %s %s %s: %w", r.Package, r.Version, r.Arch, err)
	}
	return nil
}

// Lookup returns the best record for a build of pkg at version for arch:
// that exact build; else the newest record of another version for arch;
// else the newest record of the package for another architecture. Exact
// says whether it is the first kind. Unreadable records are skipped.
func (s *Store) Lookup(pkg, version, arch string) (rec Record, exact, ok bool) {
	if checkName("package", pkg) != nil || checkName("architecture", arch) != nil {
		return Record{}, false, false
	}
	if r, err := read(s.path(pkg, version, arch)); err == nil {
		return r, true, true
	}
	if r, ok := newest(filepath.Join(s.Dir, arch, pkg)); ok {
		return r, false, true
	}
	archs, _ := os.ReadDir(s.Dir)
	var best Record
	found := false
	for _, a := range archs {
		if !a.IsDir() || a.Name() == arch {
			continue
		}
		if r, ok := newest(filepath.Join(s.Dir, a.Name(), pkg)); ok && (!found || r.Finished.After(best.Finished)) {
			best, found = r, true
		}
	}
	return best, false, found
}

func read(p string) (Record, error) {
	data, err := os.ReadFile(p)
	if err != nil {
		return Record{}, err
	}
	var r Record
	if err := json.Unmarshal(data, &r); err != nil {
		return Record{}, fmt.Errorf("history: %s: %w", p, err)
	}
	if r.Seconds <= 0 {
		return Record{}, fmt.Errorf("history: %s: no duration", p)
	}
	return r, nil
}

// newest is the most recently finished record in dir.
func newest(dir string) (Record, bool) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return Record{}, false
	}
	var best Record
	found := false
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".json") || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		r, err := read(filepath.Join(dir, e.Name()))
		if err != nil {
			continue
		}
		if !found || r.Finished.After(best.Finished) || (r.Finished.Equal(best.Finished) && r.Version > best.Version) {
			best, found = r, true
		}
	}
	return best, found
}

// Remove deletes every record of pkg (all versions and architectures).
func (s *Store) Remove(pkg string) error {
	if err := checkName("package", pkg); err != nil {
		return err
	}
	archs, err := os.ReadDir(s.Dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, a := range archs {
		if err := os.RemoveAll(filepath.Join(s.Dir, a.Name(), pkg)); err != nil {
			return err
		}
	}
	return nil
}
