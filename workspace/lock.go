package workspace

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/stx-build/stx-build/aptenv"
	"github.com/stx-build/stx-build/manifests"
	"github.com/stx-build/stx-build/repo"
	"github.com/stx-build/stx-build/store"
)

// The locked archive. With a lock in use (UseLock), the archive stx-build
// installs from is not the mirror but the locked packages themselves: the
// files the lock names, taken from the package store (fetched there from
// the mirror when missing, checked against the lock's sha256), published
// as signed apt repositories of their own, one per architecture
// (Isar's base-apt). These repositories are the only archive source of
// the base roots, the build-dependency environments resolved on them,
// and the image and ISO roots, so
//   - exactly the locked versions are installed (apt sees no others), and
//     apt checks every file against the lock's sha256 (the repositories'
//     indexes are made from the store's files, which were checked);
//   - a locked version the mirror no longer has still installs from the
//     store, and with everything in the store nothing needs the network;
//   - a package the lock lacks is not installable: apt's error is turned
//     into one naming it and stx-build lock --update (LockHint).

// lockedReposDir is the directory of the locked repositories under the
// cache directory: <lock digest>/<arch>.
const lockedReposDir = "locked-repos"

// lockedOrigin is the Origin of the locked repositories' Release: not
// "stx-build", so the pin that puts the project's own repositories above
// the archive (rootfs.LocalPin) does not lift them too.
const lockedOrigin = "stx-build-lock"

// lockedDate dates the locked repositories' Release (and signature): a
// constant, so the same lock gives the same indexes whatever
// SOURCE_DATE_EPOCH is, and base roots made from them keep their key.
var lockedDate = time.Unix(86400, 0).UTC()

// LockedArchive is the lock a workspace builds from.
type LockedArchive struct {
	// Lock is the lock.
	Lock *store.Lock
	// Dir holds the repositories, one per architecture.
	Dir string
	// Sources are their sources.list lines (copy: URIs, verified with
	// Keyring), one per architecture, sorted.
	Sources []string
	// Keyring verifies them.
	Keyring string
	// Digest identifies the lock's packages (the repositories' content).
	Digest string
	// Offline: nothing is downloaded (UseLock's offline); the source
	// indexes are used as they are (AptEnv).
	Offline bool
}

// ReadLock reads the project's stx.lock; nil when there is none.
func (w *Workspace) ReadLock() (*store.Lock, error) {
	return store.ReadLockFile(filepath.Join(w.Project.Dir, store.LockFile))
}

// PackageStore is the package store (CACHE/store), fetching from the
// project's mirror or else the host's apt sources.
func (w *Workspace) PackageStore() (*store.Store, error) {
	st := store.New(filepath.Join(w.CacheDir(), "store"))
	m, err := w.archiveMirrors()
	if err != nil {
		return nil, err
	}
	st.Mirrors = m
	return st, nil
}

// archiveMirrors are the archive roots the project installs from: its
// mirror, or the URIs of the host's deb sources, in apt's order.
func (w *Workspace) archiveMirrors() ([]string, error) {
	if w.Project.Mirror != "" {
		return []string{w.Project.Mirror}, nil
	}
	srcs, err := aptenv.ParseHostSources("/")
	if err != nil {
		return nil, err
	}
	var out []string
	for _, s := range srcs {
		if !slices.Contains(s.Types, "deb") {
			continue
		}
		for _, u := range s.URIs {
			if !slices.Contains(out, u) {
				out = append(out, u)
			}
		}
	}
	return out, nil
}

// Locked is the lock in use (UseLock), or nil.
func (w *Workspace) Locked() *LockedArchive { return w.locked }

// MissingError lists the locked packages the store lacks in an offline
// run.
type MissingError struct {
	Store   string
	Missing []store.Item
	Total   int
	// Fetch is the command that downloads them.
	Fetch string
}

func (e *MissingError) Error() string {
	names := make([]string, len(e.Missing))
	for i, it := range e.Missing {
		names[i] = "  " + it.Name
	}
	return fmt.Sprintf("offline: the package store %s lacks %d of the %d packages %s names; %s downloads them (with network):\n%s",
		e.Store, len(e.Missing), e.Total, store.LockFile, e.Fetch, strings.Join(names, "\n"))
}

// UseLock makes the workspace build from lock: every locked package is
// put into the store (fetched from the mirror when missing; offline:
// none is fetched and a *MissingError lists what is missing), the
// locked repositories are published from the store, and from then on
// BaseSpec and RootsProject install from them only.
func (w *Workspace) UseLock(ctx context.Context, lock *store.Lock, offline bool) error {
	if lock == nil {
		w.locked = nil
		return nil
	}
	st, err := w.PackageStore()
	if err != nil {
		return err
	}
	items := lock.Items()
	if missing := st.Missing(items); len(missing) > 0 {
		if offline {
			return &MissingError{Store: st.Dir, Missing: missing, Total: len(items), Fetch: w.fetchCommand()}
		}
		fmt.Fprintf(w.opts.Log, "lock: fetching %d of the %d locked packages into %s\n", len(missing), len(items), st.Dir)
		if _, err := st.FetchAll(ctx, missing); err != nil {
			if errors.Is(err, store.ErrNotOnMirror) {
				return fmt.Errorf("%s: locked versions neither the mirror nor the package store has: %w\n"+
					"the archive dropped them: stx-build lock --update%s resolves the project again against the archive as it is now (review the diff)",
					store.LockFile, err, w.DirFlag())
			}
			return err
		}
	}
	byArch, err := lockedByArch(lock, w.repoArchs(lock))
	if err != nil {
		return err
	}
	signer, err := w.RepoSigner(ctx)
	if err != nil {
		return err
	}
	la := &LockedArchive{Lock: lock, Keyring: w.RepoKeyring(), Digest: lockDigest(items), Offline: offline}
	la.Dir = filepath.Join(w.CacheDir(), lockedReposDir, la.Digest[:16])
	archs := make([]string, 0, len(byArch))
	for a := range byArch {
		archs = append(archs, a)
	}
	slices.Sort(archs)
	for _, a := range archs {
		paths := make([]string, len(byArch[a]))
		for i, it := range byArch[a] {
			paths[i] = st.Path(it.SHA256)
		}
		r, err := repo.Open(filepath.Join(la.Dir, a), a)
		if err != nil {
			return err
		}
		// Codename: the project's suite, which mmdebstrap narrows the
		// Essential set and the variant's packages to.
		opts := repo.Options{Date: lockedDate, Origin: lockedOrigin, Label: "stx.lock " + la.Digest[:16], Codename: w.Project.Suite, Signer: signer}
		if err := r.Publish(ctx, paths, opts); err != nil {
			return fmt.Errorf("%s: %w", store.LockFile, err)
		}
		la.Sources = append(la.Sources, repo.SignedSourcesLine("copy://"+r.Dir(), la.Keyring, a))
	}
	w.locked = la
	return nil
}

// repoArchs are the architectures the locked repositories serve: the
// project's, the build machine's and every one a locked package is for.
func (w *Workspace) repoArchs(lock *store.Lock) []string {
	archs := append([]string{w.opts.HostArch}, w.Project.Architectures...)
	for _, s := range lock.Sets {
		archs = append(archs, s.Arch)
		for _, p := range s.Packages {
			if p.Arch != "all" {
				archs = append(archs, p.Arch)
			}
		}
	}
	slices.Sort(archs)
	return slices.Compact(archs)
}

// lockedByArch sorts the lock's files into the architectures' repositories
// (an "all" package into every one). One name and architecture locked at
// two versions (sets locked at different times) is an error: a
// repository offers one version of each package.
func lockedByArch(lock *store.Lock, archs []string) (map[string][]store.Item, error) {
	type slot struct{ version, set string }
	seen := map[string]slot{}
	var conflicts []string
	out := map[string][]store.Item{}
	for _, s := range lock.Sets {
		for _, p := range s.Packages {
			k := p.Name + " " + p.Arch
			if prev, ok := seen[k]; ok {
				if prev.version != p.Version {
					conflicts = append(conflicts, fmt.Sprintf("%s (%s) is %s in %s and %s in [%s %s]", p.Name, p.Arch, prev.version, prev.set, p.Version, s.Suite, s.Arch))
				}
				continue
			}
			seen[k] = slot{p.Version, "[" + s.Suite + " " + s.Arch + "]"}
			for _, a := range archs {
				if p.Arch == a || p.Arch == "all" {
					out[a] = append(out[a], p.Item())
				}
			}
		}
	}
	if len(conflicts) > 0 {
		return nil, fmt.Errorf("%s: %s; stx-build lock --update resolves every set again at once", store.LockFile, strings.Join(conflicts, "; "))
	}
	return out, nil
}

// lockDigest identifies a set of locked files.
func lockDigest(items []store.Item) string {
	h := sha256.New()
	for _, it := range items {
		fmt.Fprintf(h, "%s %s %d\n", it.Name, it.SHA256, it.Size)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// DirFlag is " -C DIR" for messages naming commands, unless the project
// is the working directory.
func (w *Workspace) DirFlag() string {
	if w.opts.Dir == "" || w.opts.Dir == "." {
		return ""
	}
	return " -C " + w.opts.Dir
}

func (w *Workspace) fetchCommand() string { return "stx-build fetch" + w.DirFlag() }

// aptNotInstallable are apt's words for a package it cannot find or
// install: with a lock in use, a package the lock lacks.
var aptNotInstallable = []string{"Unable to locate package", "is not installable", "has no installation candidate", "but it is not going to be installed"}

// WithLockHint returns err with, when a lock is in use and apt could not
// find or install a package (named in err), the advice to add it to the
// lock: the locked repositories hold nothing else.
func (w *Workspace) WithLockHint(err error) error {
	if err == nil || w.locked == nil {
		return err
	}
	for _, m := range aptNotInstallable {
		if strings.Contains(err.Error(), m) {
			return fmt.Errorf("%w\nwith %s in use only the locked packages are installable: a package apt cannot find or install above is not in the lock; stx-build lock --update%s adds it (review the diff)", err, store.LockFile, w.DirFlag())
		}
	}
	return err
}

// RootsProject is the project as the image and ISO builders use it: with
// a lock in use, its mirror is the locked repositories (their sources
// lines, one per line, which rootfs passes to mmdebstrap as they are).
func (w *Workspace) RootsProject() *manifests.Project {
	if w.locked == nil {
		return w.Project
	}
	p := *w.Project
	p.Mirror, p.Components = strings.Join(w.locked.Sources, "\n"), nil
	return &p
}
