package buildrun

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/stx-build/stx-build/repo"
)

// repoSet holds a run's local apt repositories, one per architecture, and
// hands builds frozen snapshots of them.
//
// Why snapshots: with several builds at once, one build publishes its
// .debs while another resolves and installs its build-dependencies from
// the same repository. A Publish swaps the indexes atomically, but a
// reader is not one read: apt reads Release, then Packages (through the
// dists symlink, which may point at a newer generation by then: a hash
// mismatch), then the pool files (one replaced by a newer build may be
// gone); the builder computes the build-dep layer key from the index
// (Repo.Packages) at yet another moment, and installs in a second apt run.
// Any publish in between makes the layer key describe something other
// than what was installed, or fails the install.
//
// So each build gets a snapshot: the live generation of the indexes
// copied and the pool hard-linked (cheap; pool files are never modified in
// place, only replaced by rename) into OUT/.stx-snapshots/<pid>/<n>/<arch>,
// taken under the lock that orders publishes (in this process a mutex, and
// the repository's own flock for other processes). Builds that start
// between two publishes share one snapshot; it is removed when the last of
// them ends and a newer one exists. What a build sees is exactly what had
// been published when it started, which includes everything it needs: the
// scheduler starts a build only after its dependencies were built and
// published.
type repoSet struct {
	live  map[string]*repo.Repo
	archs []string
	dir   string // this run's snapshot directory

	mu   sync.Mutex // orders publishes and snapshots
	gen  int        // publishes so far
	next int        // snapshot names
	cur  *snapshot  // of generation gen, if taken
}

type snapshot struct {
	dir   string
	gen   int
	refs  int
	repos map[string]*repo.Repo
}

const snapshotsDir = ".stx-snapshots"

// openRepos opens (creating) OUT/<arch>/repo for each architecture and
// removes snapshots left by runs that are gone.
func openRepos(out string, archs []string) (*repoSet, error) {
	s := &repoSet{live: map[string]*repo.Repo{}, archs: slices.Clone(archs)}
	for _, a := range archs {
		r, err := repo.Open(filepath.Join(out, a, "repo"), a)
		if err != nil {
			return nil, err
		}
		s.live[a] = r
	}
	base := filepath.Join(out, snapshotsDir)
	if entries, err := os.ReadDir(base); err == nil {
		for _, e := range entries {
			if pid, err := strconv.Atoi(e.Name()); err == nil && pid != os.Getpid() && !alive(pid) {
				os.RemoveAll(filepath.Join(base, e.Name()))
			}
		}
	}
	s.dir = filepath.Join(base, strconv.Itoa(os.Getpid()))
	if err := os.RemoveAll(s.dir); err != nil {
		return nil, err
	}
	return s, nil
}

func alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// sign makes every live repository signed by signer (a repository made
// by an older stx-build, or just created, has no signature yet): it reads
// the live indexes only, no pool scan, and writes nothing when they are
// signed by signer already.
func (s *repoSet) sign(ctx context.Context, signer *repo.Signer) error {
	for _, a := range s.archs {
		if err := s.live[a].EnsureSigned(ctx, signer); err != nil {
			return err
		}
	}
	return nil
}

// publish publishes debs into arch's live repository; later snapshots
// see them.
func (s *repoSet) publish(ctx context.Context, arch string, debs []string, opts repo.Options) error {
	if len(debs) == 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gen++
	if s.cur != nil && s.cur.refs == 0 {
		s.drop(s.cur)
	}
	return s.live[arch].Publish(ctx, debs, opts)
}

// acquire returns a snapshot of what is published now; release it when the
// build is done.
func (s *repoSet) acquire() (*snapshot, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur == nil || s.cur.gen != s.gen || s.cur.repos == nil {
		sn, err := s.take()
		if err != nil {
			return nil, err
		}
		if s.cur != nil && s.cur.refs == 0 {
			s.drop(s.cur)
		}
		s.cur = sn
	}
	s.cur.refs++
	return s.cur, nil
}

func (s *repoSet) release(sn *snapshot) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sn.refs--
	if sn.refs == 0 && sn != s.cur {
		s.drop(sn)
	}
}

func (s *repoSet) drop(sn *snapshot) {
	os.RemoveAll(sn.dir)
	sn.repos = nil
	if s.cur == sn {
		s.cur = nil
	}
}

// close removes every snapshot of the run.
func (s *repoSet) close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cur = nil
	err := os.RemoveAll(s.dir)
	os.Remove(filepath.Dir(s.dir)) // if empty
	return err
}

// take copies every repository's live indexes and hard-links its pool.
func (s *repoSet) take() (*snapshot, error) {
	s.next++
	sn := &snapshot{dir: filepath.Join(s.dir, strconv.Itoa(s.next)), gen: s.gen, repos: map[string]*repo.Repo{}}
	for _, a := range s.archs {
		dst := filepath.Join(sn.dir, a)
		if err := snapshotRepo(s.live[a].Dir(), dst); err != nil {
			os.RemoveAll(sn.dir)
			return nil, fmt.Errorf("snapshot of %s: %w", s.live[a].Dir(), err)
		}
		r, err := repo.Open(dst, a)
		if err != nil {
			os.RemoveAll(sn.dir)
			return nil, err
		}
		sn.repos[a] = r
	}
	return sn, nil
}

// snapshotRepo copies the repository in src to dst: the generation the
// dists symlink points at (copied), the symlink, and the pool (hard
// links). It holds the repository's lock shared, so no other process
// publishes meanwhile; the copy has no lock file, so readers of it do not
// lock (see package repo).
func snapshotRepo(src, dst string) error {
	lock, err := os.Open(filepath.Join(src, ".lock"))
	if err == nil {
		defer lock.Close()
		if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_SH); err != nil {
			return err
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	gen, err := os.Readlink(filepath.Join(src, "dists"))
	if err != nil {
		return err
	}
	if strings.Contains(gen, "/") {
		return fmt.Errorf("dists points at %q, not a generation beside it", gen)
	}
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	if err := copyTree(filepath.Join(src, gen), filepath.Join(dst, gen), false); err != nil {
		return err
	}
	if err := os.Symlink(gen, filepath.Join(dst, "dists")); err != nil {
		return err
	}
	return copyTree(filepath.Join(src, "pool"), filepath.Join(dst, "pool"), true)
}

// copyTree copies directories and regular files, hard-linking the files
// when link is set. Temporary files of an interrupted publish are skipped.
func copyTree(src, dst string, link bool) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && p == src {
				return os.MkdirAll(dst, 0o755)
			}
			return err
		}
		rel, _ := filepath.Rel(src, p)
		to := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(to, 0o755)
		case !d.Type().IsRegular() || strings.HasPrefix(d.Name(), ".stx-tmp-"):
			return nil
		case link:
			return os.Link(p, to)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(to, data, 0o644)
	})
}
