package repo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/stx-build/stx-build/internal/atomicfile"
)

const (
	poolDir   = "pool"
	cacheFile = ".pool-cache.json"
	// tmpPrefix starts the name of every file a Publish writes before
	// renaming it into place; leftovers of an interrupted Publish are
	// removed by the next one.
	tmpPrefix = ".stx-tmp-"
)

// poolFile is a binary in the pool, with the identity of the file it was
// read from.
type poolFile struct {
	binary
	Stat fileID
}

// fileID tells whether a pool file changed since it was read. Pool files
// are only ever replaced by rename, which gives a new inode. The ctime is
// kept but not compared (same): hard links to the pool (the build
// snapshots of package buildrun take one per build) change it without
// changing a byte.
type fileID struct {
	Dev, Ino uint64
	Size     int64
	MtimeNs  int64
	CtimeNs  int64
}

// same tells whether a and b are the same file, unchanged.
func (a fileID) same(b fileID) bool {
	a.CtimeNs, b.CtimeNs = 0, 0
	return a == b
}

func statID(fi fs.FileInfo) (fileID, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fileID{}, false
	}
	return fileID{
		Dev: uint64(st.Dev), Ino: st.Ino, Size: fi.Size(),
		MtimeNs: st.Mtim.Nano(), CtimeNs: st.Ctim.Nano(),
	}, true
}

// poolCache remembers what reading each pool file gave, so that a Publish
// re-reads and re-hashes only the files that changed; it never changes what
// the index says (a stale entry is detected by fileID and ignored). Verify
// always re-hashes.
type poolCache struct {
	Format int
	Files  map[string]poolFile // by Filename
}

const cacheFormat = 1

func (r *Repo) loadCache() map[string]poolFile {
	data, err := os.ReadFile(r.path(cacheFile))
	if err != nil {
		return nil
	}
	var c poolCache
	if json.Unmarshal(data, &c) != nil || c.Format != cacheFormat {
		return nil
	}
	return c.Files
}

func (r *Repo) saveCache(files []poolFile) error {
	c := poolCache{Format: cacheFormat, Files: map[string]poolFile{}}
	for _, f := range files {
		c.Files[f.Filename] = f
	}
	data, err := json.Marshal(c) // map keys are sorted: stable output
	if err != nil {
		return err
	}
	if old, err := os.ReadFile(r.path(cacheFile)); err == nil && bytes.Equal(old, data) {
		return nil // no fsync for what is on disk already
	}
	return atomicfile.Write(r.path(cacheFile), data, fileMode)
}

// scanPool reads every .deb and .udeb in the pool (lexical order), from the
// cache where the file has not changed, and by content from the cache
// where its bytes are those of a cached file. It removes temporary files
// left by an interrupted Publish; the caller holds the lock.
func (r *Repo) scanPool(ctx context.Context, cache map[string]poolFile) ([]poolFile, error) {
	var files []poolFile
	known := byContent(cache)
	root := r.path(poolDir)
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		rel, err := filepath.Rel(r.dir, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		name := d.Name()
		if strings.HasPrefix(name, tmpPrefix) {
			return os.Remove(p)
		}
		if strings.HasPrefix(name, ".") || !(strings.HasSuffix(name, ".deb") || strings.HasSuffix(name, ".udeb")) {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		id, ok := statID(fi)
		if c, hit := cache[rel]; ok && hit && c.Stat.same(id) && c.Filename == rel {
			files = append(files, c)
			return nil
		}
		b, err := describe(ctx, r.readControl, p, known)
		if err != nil {
			return fmt.Errorf("pool file %s: %w (remove it, or republish its package)", rel, err)
		}
		b.Filename = rel
		files = append(files, poolFile{binary: b, Stat: id})
		return nil
	})
	if errors.Is(err, fs.ErrNotExist) && len(files) == 0 {
		return nil, nil
	}
	return files, err
}

// stage copies a published .deb to a temporary file beside its pool path,
// checking that the bytes are the ones readBinary hashed. It returns the
// temporary file's path.
func (r *Repo) stage(src string, b binary) (string, error) {
	dst := r.path(b.Filename)
	if err := mkdirs(filepath.Dir(dst)); err != nil {
		return "", err
	}
	in, err := os.Open(src)
	if err != nil {
		return "", err
	}
	defer in.Close()
	tmp := filepath.Join(filepath.Dir(dst), tmpPrefix+path.Base(b.Filename))
	out, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, fileMode)
	if err != nil {
		return "", err
	}
	sum := newSummer()
	err = finish(out, func(w io.Writer) error {
		_, err := io.Copy(io.MultiWriter(w, sum), in)
		return err
	})
	if err != nil {
		return "", err
	}
	var got binary
	sum.fill(&got)
	if got.SHA256 != b.SHA256 || got.Size != b.Size {
		os.Remove(tmp)
		return "", fmt.Errorf("%s changed while it was being published", src)
	}
	return tmp, nil
}

// removeEmptyDirs removes dir and its parents up to (not including) stop
// while they are empty.
func removeEmptyDirs(dir, stop string) {
	for dir != stop && strings.HasPrefix(dir, stop+string(filepath.Separator)) {
		if os.Remove(dir) != nil {
			return
		}
		dir = filepath.Dir(dir)
	}
}
