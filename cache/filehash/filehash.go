// Package filehash hashes files and source trees, remembering each file's
// digest by its identity (device, inode, size, mtime, ctime) in a small
// on-disk stat cache so that an unchanged tree is re-hashed with one lstat
// per file instead of a read.
//
// When reuse is safe: a file's content can change without its identity
// changing only if something rewrites it in place with the same size within
// one timestamp tick, or restores both mtime and ctime (ctime cannot be set
// from user space, short of changing the system clock). Entries whose mtime
// or ctime is younger than RacyWindow at hashing time are therefore never
// reused (the "racily clean" rule git uses), which covers the first case on
// filesystems with fine timestamps (ext4, xfs, btrfs, tmpfs). Filesystems
// without stable inode numbers or with coarse or missing ctime (FAT, some
// network and FUSE filesystems) are not safe: use a Hasher without a stat
// cache (New("")) there.
package filehash

import (
	"bytes"
	"crypto/sha256"
	"encoding/gob"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// RacyWindow is how old (by mtime and ctime) a file must be when it is
// hashed for its digest to be remembered.
const RacyWindow = 2 * time.Second

// Types of Entry.
const (
	TypeFile    = "file"    // a regular file without any exec bit
	TypeExec    = "exec"    // a regular file with an exec bit
	TypeSymlink = "symlink" // a symbolic link (Digest is its target)
	TypeDir     = "dir"     // a directory
)

// Entry is one item of a tree, with its path relative to the root (slash
// separated). Mode bits other than "executable" are not recorded: the
// builder normalizes them (0644/0755), so they cannot reach a build.
type Entry struct {
	Path string
	Type string
	// Digest is the hex sha256 of a file's content, or a symlink's target.
	Digest string
	// Size is a file's size.
	Size int64
}

// Value is the entry as one string: "file <sha256>", "exec <sha256>",
// "symlink <target>" or "dir".
func (e Entry) Value() string {
	if e.Type == TypeDir {
		return TypeDir
	}
	return e.Type + " " + e.Digest
}

// Hasher hashes files and trees. It is safe for concurrent use.
type Hasher struct {
	dir string // stat cache directory; "" keeps nothing
	// racyWindow is RacyWindow; tests lower it.
	racyWindow time.Duration

	mu    sync.Mutex
	stats Stats
}

// Stats count what a Hasher did.
type Stats struct {
	// Hashed files were read; Reused ones were taken from the stat cache.
	Hashed, Reused int
	// HashedBytes were read.
	HashedBytes int64
}

// New returns a Hasher keeping its stat cache in dir (created when
// needed). With dir "" every file is read each time.
func New(dir string) *Hasher { return &Hasher{dir: dir, racyWindow: RacyWindow} }

// Stats returns the counters so far.
func (h *Hasher) Stats() Stats {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.stats
}

func (h *Hasher) count(hashed, reused int, bytes int64) {
	h.mu.Lock()
	h.stats.Hashed += hashed
	h.stats.Reused += reused
	h.stats.HashedBytes += bytes
	h.mu.Unlock()
}

// File returns the hex sha256 of the file at path (not cached: meant for
// small files such as manifests, patches and .dsc files).
func (h *Hasher) File(path string) (string, error) {
	sum, n, err := hashFile(path)
	if err != nil {
		return "", err
	}
	h.count(1, 0, n)
	return hex.EncodeToString(sum[:]), nil
}

// SkipDir says whether a directory of a tree is left out; rel is its path
// relative to the root. The root itself is never asked about.
type SkipDir func(rel string, name string) bool

// SkipVCS leaves out .git and .svn directories, as the deb builder does
// when it copies a local source tree (builders/deb copyTree).
func SkipVCS(_ string, name string) bool { return name == ".git" || name == ".svn" }

// Tree walks root in lexical order and returns every directory, file and
// symlink below it (the root itself excluded), with file digests taken
// from the stat cache where the file's identity is unchanged. Other file
// types (fifos, sockets, devices) are an error, as they are for the
// builder.
func (h *Hasher) Tree(root string, skip SkipDir) ([]Entry, error) {
	root, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	if fi, err := os.Stat(root); err != nil {
		return nil, err
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("%s: %w", root, ErrNotDir)
	}
	old := h.load(root)
	next := make(map[string]cached, len(old))
	var entries []Entry
	hashed, reused := 0, 0
	var hashedBytes int64
	now := time.Now()
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == root {
			return nil
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		switch t := d.Type(); {
		case d.IsDir():
			if skip != nil && skip(rel, d.Name()) {
				return filepath.SkipDir
			}
			entries = append(entries, Entry{Path: rel, Type: TypeDir})
		case t&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			entries = append(entries, Entry{Path: rel, Type: TypeSymlink, Digest: target})
		case t.IsRegular():
			info, err := d.Info()
			if err != nil {
				return err
			}
			typ := TypeFile
			if info.Mode()&0o111 != 0 {
				typ = TypeExec
			}
			id, idOK := identity(info)
			if c, ok := old[rel]; ok && idOK && c.ID == id {
				next[rel] = c
				entries = append(entries, Entry{Path: rel, Type: typ, Digest: hex.EncodeToString(c.Sum[:]), Size: info.Size()})
				reused++
				return nil
			}
			sum, n, err := hashFile(p)
			if err != nil {
				return err
			}
			hashed++
			hashedBytes += n
			// Keep the digest only when the file is old enough that a
			// later change must show in its mtime or ctime, and it did not
			// change while being read.
			if after, err := os.Lstat(p); err == nil && idOK {
				if id2, ok := identity(after); ok && id2 == id && !id.racy(now, h.racyWindow) {
					next[rel] = cached{ID: id, Sum: sum}
				}
			}
			entries = append(entries, Entry{Path: rel, Type: typ, Digest: hex.EncodeToString(sum[:]), Size: info.Size()})
		default:
			return fmt.Errorf("%s: unsupported file type %s in a source tree", p, t)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	h.count(hashed, reused, hashedBytes)
	if hashed > 0 || len(next) != len(old) {
		if err := h.save(root, next); err != nil {
			return nil, err
		}
	}
	return entries, nil
}

// TreeDigest is one digest over a tree's entries (paths, types, digests).
func TreeDigest(entries []Entry) string {
	s := sha256.New()
	for _, e := range entries {
		fmt.Fprintf(s, "%d:%s%d:%s\n", len(e.Path), e.Path, len(e.Value()), e.Value())
	}
	return hex.EncodeToString(s.Sum(nil))
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 64<<10); return &b }}

func hashFile(path string) ([sha256.Size]byte, int64, error) {
	var sum [sha256.Size]byte
	f, err := os.Open(path)
	if err != nil {
		return sum, 0, err
	}
	defer f.Close()
	s := sha256.New()
	buf := bufPool.Get().(*[]byte)
	defer bufPool.Put(buf)
	// The struct hides os.File's WriterTo, which would allocate a buffer
	// per file.
	n, err := io.CopyBuffer(s, struct{ io.Reader }{f}, *buf)
	if err != nil {
		return sum, 0, fmt.Errorf("hash %s: %w", path, err)
	}
	copy(sum[:], s.Sum(nil))
	return sum, n, nil
}

// fileID is what identifies a file's content without reading it.
type fileID struct {
	Dev, Ino         uint64
	Size             int64
	MtimeNs, CtimeNs int64
}

func identity(fi fs.FileInfo) (fileID, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fileID{}, false
	}
	return fileID{
		Dev: uint64(st.Dev), Ino: st.Ino, Size: fi.Size(),
		MtimeNs: st.Mtim.Nano(), CtimeNs: st.Ctim.Nano(),
	}, true
}

// racy reports whether the file changed so recently (relative to now) that
// another change within the same timestamp tick could go unnoticed.
func (id fileID) racy(now time.Time, window time.Duration) bool {
	limit := now.Add(-window).UnixNano()
	return id.MtimeNs >= limit || id.CtimeNs >= limit
}

type cached struct {
	ID  fileID
	Sum [sha256.Size]byte
}

// statFile is the on-disk form of one root's stat cache.
type statFile struct {
	Format int
	Root   string
	Files  map[string]cached
}

const statFormat = 1

func (h *Hasher) file(root string) string {
	sum := sha256.Sum256([]byte(root))
	return filepath.Join(h.dir, hex.EncodeToString(sum[:16])+".gob")
}

// load reads root's stat cache; anything unreadable is an empty cache.
func (h *Hasher) load(root string) map[string]cached {
	if h.dir == "" {
		return nil
	}
	data, err := os.ReadFile(h.file(root))
	if err != nil {
		return nil
	}
	var sf statFile
	if gob.NewDecoder(bytes.NewReader(data)).Decode(&sf) != nil || sf.Format != statFormat || sf.Root != root {
		return nil
	}
	return sf.Files
}

// save writes root's stat cache through a temporary file and a rename, so
// concurrent runs never see a half-written one (the last writer wins).
func (h *Hasher) save(root string, files map[string]cached) error {
	if h.dir == "" {
		return nil
	}
	if err := os.MkdirAll(h.dir, 0o755); err != nil {
		return fmt.Errorf("stat cache: %w", err)
	}
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(statFile{Format: statFormat, Root: root, Files: files}); err != nil {
		return fmt.Errorf("stat cache: %w", err)
	}
	f, err := os.CreateTemp(h.dir, ".tmp-")
	if err != nil {
		return fmt.Errorf("stat cache: %w", err)
	}
	if _, err := f.Write(buf.Bytes()); err != nil {
		f.Close()
		os.Remove(f.Name())
		return fmt.Errorf("stat cache: %w", err)
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("stat cache: %w", err)
	}
	if err := os.Rename(f.Name(), h.file(root)); err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("stat cache: %w", err)
	}
	return nil
}

// ErrNotDir is returned by Tree for a root that is not a directory.
var ErrNotDir = errors.New("not a directory")
