package cache

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/stx-build/stx-build/cache/filehash"
)

// ManifestFile is the name of an entry's manifest in the local store.
const ManifestFile = "manifest.json"

// ManifestSchema is the version of the manifest format.
const ManifestSchema = 1

// Names in the store's directory besides entries (<key>/).
const (
	lockName  = ".lock"
	refsDir   = ".refs"   // .refs/<arch>/<package>: key last built or restored
	tmpPrefix = ".tmp-"   // entries being written
	trashPref = ".trash-" // entries being removed
)

var (
	// ErrNotFound says a store has no entry for a key.
	ErrNotFound = errors.New("no cache entry")
	// ErrCorrupt says an entry's files do not match its manifest.
	ErrCorrupt = errors.New("corrupt cache entry")
)

// Manifest is an entry's manifest.json (and, byte for byte, the config
// blob of its OCI artifact): the build it is for, with the inputs of its
// key, and the digest of every file.
type Manifest struct {
	Schema int `json:"schema"`
	Build
	// Created is when the entry was made (informational).
	Created time.Time `json:"created"`
	// Files are sorted by name.
	Files []File `json:"files"`
}

// File is one artifact of an entry.
type File struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// ParseManifest reads and checks a manifest: the schema, a valid key, and
// file names that are plain, unique names (never paths).
func ParseManifest(data []byte) (*Manifest, error) {
	var m Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	if m.Schema != ManifestSchema {
		return nil, fmt.Errorf("manifest: schema %d, want %d", m.Schema, ManifestSchema)
	}
	if !m.Key.Valid() {
		return nil, fmt.Errorf("manifest: invalid key %q", m.Key)
	}
	if len(m.Files) == 0 {
		return nil, fmt.Errorf("manifest: no files")
	}
	for i, f := range m.Files {
		if err := ValidFileName(f.Name); err != nil {
			return nil, fmt.Errorf("manifest: %w", err)
		}
		if i > 0 && m.Files[i-1].Name >= f.Name {
			return nil, fmt.Errorf("manifest: files not sorted or %q twice", f.Name)
		}
		if len(f.SHA256) != 64 || strings.Trim(f.SHA256, "0123456789abcdef") != "" || f.Size < 0 {
			return nil, fmt.Errorf("manifest: file %s: bad digest or size", f.Name)
		}
	}
	return &m, nil
}

// Marshal is the manifest as stored: indented JSON with a final newline.
func (m *Manifest) Marshal() ([]byte, error) {
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(data, '\n'), nil
}

// ValidFileName accepts the names of build artifacts: a plain file name of
// letters, digits and +-._~, not starting with a dot, not the manifest's.
func ValidFileName(name string) error {
	if name == "" || len(name) > 255 || name[0] == '.' || name == ManifestFile ||
		strings.Trim(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-._~") != "" {
		return fmt.Errorf("invalid artifact file name %q", name)
	}
	return nil
}

// Entry is a stored entry.
type Entry struct {
	// Dir holds the files and manifest.json.
	Dir      string
	Manifest *Manifest
	// Used is when the entry was last stored or restored.
	Used time.Time
}

// Path returns the path of one of the entry's files.
func (e *Entry) Path(name string) string { return filepath.Join(e.Dir, name) }

// Size is the total size of the entry's files.
func (e *Entry) Size() int64 {
	var n int64
	for _, f := range e.Manifest.Files {
		n += f.Size
	}
	return n
}

// Local is the store in a directory: Dir/<key>/ holds an entry's files and
// its manifest.json. Entries are written in a temporary directory and
// renamed into place, so a reader never sees half an entry; a flock(2)
// lock on Dir/.lock makes concurrent stx-build runs safe. Local is safe for
// concurrent use.
type Local struct {
	dir string
	// check is Options.Check of the Cache that opened it.
	check CheckFunc
}

// OpenLocal opens (creating) the store in dir. It removes what crashed runs
// left behind when no other run is using the store.
func OpenLocal(dir string) (*Local, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("cache: %w", err)
	}
	l := &Local{dir: dir}
	if unlock, ok := tryLock(l.lockPath(), lockExclusive); ok {
		l.removeLeftovers()
		unlock()
	}
	return l, nil
}

// Dir is the store's directory.
func (l *Local) Dir() string { return l.dir }

func (l *Local) lockPath() string { return filepath.Join(l.dir, lockName) }

func (l *Local) entryDir(key Key) string { return filepath.Join(l.dir, string(key)) }

// removeLeftovers removes temporary and half-removed entries; the caller
// holds the lock exclusively.
func (l *Local) removeLeftovers() []string {
	des, _ := os.ReadDir(l.dir)
	var removed []string
	for _, de := range des {
		if strings.HasPrefix(de.Name(), tmpPrefix) || strings.HasPrefix(de.Name(), trashPref) {
			if os.RemoveAll(filepath.Join(l.dir, de.Name())) == nil {
				removed = append(removed, de.Name())
			}
		}
	}
	return removed
}

// Get returns the entry for key without checking its files (Restore and
// Verify do), or an error wrapping ErrNotFound.
func (l *Local) Get(ctx context.Context, key Key) (*Entry, error) {
	unlock, err := lock(ctx, l.lockPath(), lockShared)
	if err != nil {
		return nil, err
	}
	defer unlock()
	return l.get(key)
}

func (l *Local) get(key Key) (*Entry, error) {
	if !key.Valid() {
		return nil, fmt.Errorf("cache: invalid key %q", key)
	}
	dir := l.entryDir(key)
	path := filepath.Join(dir, ManifestFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", key.Short(), ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	m, err := ParseManifest(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w: %v", path, ErrCorrupt, err)
	}
	if m.Key != key {
		return nil, fmt.Errorf("%s: %w: it is for key %s", path, ErrCorrupt, m.Key.Short())
	}
	e := &Entry{Dir: dir, Manifest: m}
	if fi, err := os.Stat(path); err == nil {
		e.Used = fi.ModTime()
	}
	return e, nil
}

// Put stores files (paths; their base names are the artifact names) as the
// entry of b. An entry already stored under b.Key is kept as it is.
func (l *Local) Put(ctx context.Context, b Build, files []string) (*Entry, error) {
	if !b.Key.Valid() {
		return nil, fmt.Errorf("cache: invalid key %q", b.Key)
	}
	unlock, err := lock(ctx, l.lockPath(), lockShared)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if e, err := l.get(b.Key); err == nil {
		l.touch(e)
		return e, nil
	}
	tmp, err := os.MkdirTemp(l.dir, tmpPrefix)
	if err != nil {
		return nil, fmt.Errorf("cache: %w", err)
	}
	defer os.RemoveAll(tmp)
	if err := os.Chmod(tmp, 0o755); err != nil {
		return nil, err
	}
	m := &Manifest{Schema: ManifestSchema, Build: b, Created: time.Now().UTC().Truncate(time.Second)}
	for _, src := range files {
		name := filepath.Base(src)
		if err := ValidFileName(name); err != nil {
			return nil, fmt.Errorf("cache: %s: %w", src, err)
		}
		if slices.ContainsFunc(m.Files, func(f File) bool { return f.Name == name }) {
			return nil, fmt.Errorf("cache: two artifacts named %s", name)
		}
		size, sum, err := copyHashed(src, filepath.Join(tmp, name))
		if err != nil {
			return nil, fmt.Errorf("cache: store %s: %w", src, err)
		}
		m.Files = append(m.Files, File{Name: name, Size: size, SHA256: sum})
	}
	if len(m.Files) == 0 {
		return nil, fmt.Errorf("cache: %s: no files to store", b)
	}
	slices.SortFunc(m.Files, func(a, b File) int { return strings.Compare(a.Name, b.Name) })
	if err := writeManifest(tmp, m); err != nil {
		return nil, err
	}
	e, err := l.adopt(tmp, m)
	if err != nil {
		return nil, err
	}
	l.setRef(m.Build)
	return e, nil
}

// Import adds an entry made by fill, which writes the files and the
// manifest.json of key into an empty directory (a remote's Pull). The
// manifest must be for key and list exactly the files written, with their
// sizes; fill is trusted to have checked their digests.
func (l *Local) Import(ctx context.Context, key Key, fill func(dir string) error) (*Entry, error) {
	unlock, err := lock(ctx, l.lockPath(), lockShared)
	if err != nil {
		return nil, err
	}
	defer unlock()
	tmp, err := os.MkdirTemp(l.dir, tmpPrefix)
	if err != nil {
		return nil, fmt.Errorf("cache: %w", err)
	}
	defer os.RemoveAll(tmp)
	if err := os.Chmod(tmp, 0o755); err != nil {
		return nil, err
	}
	if err := fill(tmp); err != nil {
		return nil, err
	}
	data, err := os.ReadFile(filepath.Join(tmp, ManifestFile))
	if err != nil {
		return nil, fmt.Errorf("cache: import %s: %w", key.Short(), err)
	}
	m, err := ParseManifest(data)
	if err != nil {
		return nil, fmt.Errorf("cache: import %s: %w", key.Short(), err)
	}
	if m.Key != key {
		return nil, fmt.Errorf("cache: import %s: %w: manifest is for key %s", key.Short(), ErrCorrupt, m.Key.Short())
	}
	if err := checkSizes(tmp, m); err != nil {
		return nil, fmt.Errorf("cache: import %s: %w", key.Short(), err)
	}
	return l.adopt(tmp, m)
}

// adopt renames a complete temporary entry into place. When another run
// stored the same key meanwhile, its entry wins and tmp is left to the
// caller to remove.
func (l *Local) adopt(tmp string, m *Manifest) (*Entry, error) {
	final := l.entryDir(m.Key)
	if err := os.Rename(tmp, final); err != nil {
		if e, gerr := l.get(m.Key); gerr == nil {
			return e, nil
		}
		if _, serr := os.Stat(final); serr == nil {
			// A corrupt entry is in the way: replace it.
			if rerr := l.discard(m.Key); rerr != nil {
				return nil, rerr
			}
			err = os.Rename(tmp, final)
		}
		if err != nil {
			return nil, fmt.Errorf("cache: store %s: %w", m.Key.Short(), err)
		}
	}
	return &Entry{Dir: final, Manifest: m, Used: time.Now()}, nil
}

// discard moves an entry out of the way (rename: readers holding its files
// open keep reading) and removes it.
func (l *Local) discard(key Key) error {
	trash, err := os.MkdirTemp(l.dir, trashPref)
	if err != nil {
		return err
	}
	if err := os.Rename(l.entryDir(key), filepath.Join(trash, "entry")); err != nil && !errors.Is(err, fs.ErrNotExist) {
		os.RemoveAll(trash)
		return err
	}
	return os.RemoveAll(trash)
}

// touchEvery is how stale an entry's last-use time may get before a use
// updates it: a no-op run then writes nothing to the store.
const touchEvery = time.Hour

// touch records that e was used (its manifest's mtime), for Prune.
func (l *Local) touch(e *Entry) {
	now := time.Now()
	if now.Sub(e.Used) < touchEvery {
		return
	}
	if os.Chtimes(filepath.Join(e.Dir, ManifestFile), now, now) == nil {
		e.Used = now
	}
}

// setRef records b's key as the last one built or restored for its package
// and architecture (what Explain compares with). Best effort.
func (l *Local) setRef(b Build) {
	if b.Package == "" || b.Arch == "" || ValidFileName(b.Package) != nil || ValidFileName(b.Arch) != nil {
		return
	}
	if k, err := l.Ref(b.Package, b.Arch); err == nil && k == b.Key {
		return
	}
	dir := filepath.Join(l.dir, refsDir, b.Arch)
	if os.MkdirAll(dir, 0o755) != nil {
		return
	}
	f, err := os.CreateTemp(dir, tmpPrefix)
	if err != nil {
		return
	}
	_, werr := f.WriteString(string(b.Key) + "\n")
	if cerr := f.Close(); werr != nil || cerr != nil || os.Rename(f.Name(), filepath.Join(dir, b.Package)) != nil {
		os.Remove(f.Name())
	}
}

// Ref returns the key last built or restored for pkg on arch, or an error
// wrapping ErrNotFound.
func (l *Local) Ref(pkg, arch string) (Key, error) {
	if ValidFileName(pkg) != nil || ValidFileName(arch) != nil {
		return "", fmt.Errorf("%s/%s: %w", arch, pkg, ErrNotFound)
	}
	data, err := os.ReadFile(filepath.Join(l.dir, refsDir, arch, pkg))
	if errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("%s/%s: %w", arch, pkg, ErrNotFound)
	}
	if err != nil {
		return "", err
	}
	k := Key(strings.TrimSpace(string(data)))
	if !k.Valid() {
		return "", fmt.Errorf("%s/%s: %w", arch, pkg, ErrNotFound)
	}
	return k, nil
}

// RestoreResult says what Restore did.
type RestoreResult struct {
	// Files are the restored files in the destination, sorted.
	Files []string
	// Unchanged says the destination already held exactly these files.
	Unchanged bool
	// Manifest is the entry's manifest.
	Manifest *Manifest
}

// Restore makes dest hold exactly the files of key's entry, checking every
// byte against the manifest's digests. dest is replaced as a whole (through
// a temporary directory and renames), so it never holds a mix. When hasher
// is set and dest already holds the same files (by digest, from its stat
// cache), nothing is copied. A corrupt entry is removed from the store and
// an error wrapping ErrCorrupt returned: the caller builds instead.
func (l *Local) Restore(ctx context.Context, key Key, dest string, hasher *filehash.Hasher) (*RestoreResult, error) {
	unlock, err := lock(ctx, l.lockPath(), lockShared)
	if err != nil {
		return nil, err
	}
	defer unlock()
	e, err := l.get(key)
	if errors.Is(err, ErrCorrupt) {
		_ = l.discard(key)
	}
	if err != nil {
		return nil, err
	}
	res := &RestoreResult{Manifest: e.Manifest}
	for _, f := range e.Manifest.Files {
		res.Files = append(res.Files, filepath.Join(dest, f.Name))
	}
	if hasher != nil && sameFiles(hasher, dest, e.Manifest.Files) {
		res.Unchanged = true
		l.touch(e)
		l.setRef(e.Manifest.Build)
		return res, nil
	}
	parent, name := filepath.Split(filepath.Clean(dest))
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp(parent, ".tmp-"+name+"-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	if err := os.Chmod(tmp, 0o755); err != nil {
		return nil, err
	}
	for _, f := range e.Manifest.Files {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		size, sum, err := copyHashed(e.Path(f.Name), filepath.Join(tmp, f.Name))
		if err == nil && size != f.Size {
			err = fmt.Errorf("%s: %d bytes, manifest says %d", f.Name, size, f.Size)
		}
		if err == nil && sum != f.SHA256 {
			err = fmt.Errorf("%s: sha256 %s, manifest says %s", f.Name, sum, f.SHA256)
		}
		if err != nil {
			_ = l.discard(key)
			return nil, fmt.Errorf("cache entry %s (%s): %w: %v (entry removed)", key.Short(), e.Manifest.Build, ErrCorrupt, err)
		}
	}
	if l.check != nil {
		var files []string
		for _, f := range e.Manifest.Files {
			files = append(files, filepath.Join(tmp, f.Name))
		}
		if err := l.check(ctx, e.Manifest.Build, files); err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			_ = l.discard(key)
			return nil, fmt.Errorf("cache entry %s (%s): %w: %v (entry removed)", key.Short(), e.Manifest.Build, ErrCorrupt, err)
		}
	}
	if err := replaceDir(tmp, dest); err != nil {
		return nil, err
	}
	l.touch(e)
	l.setRef(e.Manifest.Build)
	return res, nil
}

// sameFiles reports whether dir holds exactly files (by name and digest).
func sameFiles(h *filehash.Hasher, dir string, files []File) bool {
	entries, err := h.Tree(dir, nil)
	if err != nil || len(entries) != len(files) {
		return false
	}
	for i, e := range entries {
		f := files[i]
		if (e.Type != filehash.TypeFile && e.Type != filehash.TypeExec) || e.Path != f.Name || e.Size != f.Size || e.Digest != f.SHA256 {
			return false
		}
	}
	return true
}

// replaceDir puts tmp at dest, moving an earlier dest aside first and
// removing it once the new one is in place.
func replaceDir(tmp, dest string) error {
	old := dest + ".old"
	_ = os.RemoveAll(old)
	if err := os.Rename(dest, old); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := os.Rename(tmp, dest); err != nil {
		_ = os.Rename(old, dest)
		return err
	}
	return os.RemoveAll(old)
}

// copyHashed copies src to a new file dst (mode 0644) and returns the size
// and hex sha256 of what it copied, so callers check exactly the bytes
// they hand on.
func copyHashed(src, dst string) (int64, string, error) {
	in, err := os.Open(src)
	if err != nil {
		return 0, "", err
	}
	defer in.Close()
	if fi, err := in.Stat(); err != nil {
		return 0, "", err
	} else if !fi.Mode().IsRegular() {
		return 0, "", fmt.Errorf("%s is not a regular file", src)
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return 0, "", err
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(out, h), in)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, "", err
	}
	return n, hex.EncodeToString(h.Sum(nil)), nil
}

func writeManifest(dir string, m *Manifest) error {
	data, err := m.Marshal()
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, ManifestFile), data, 0o644)
}

// checkSizes checks that dir holds exactly m's files and manifest.json,
// with the sizes m lists.
func checkSizes(dir string, m *Manifest) error {
	des, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	want := map[string]int64{ManifestFile: -1}
	for _, f := range m.Files {
		want[f.Name] = f.Size
	}
	if len(des) != len(want) {
		return fmt.Errorf("%w: %d files, manifest lists %d", ErrCorrupt, len(des)-1, len(m.Files))
	}
	for _, de := range des {
		size, ok := want[de.Name()]
		if !ok || !de.Type().IsRegular() {
			return fmt.Errorf("%w: unexpected %s", ErrCorrupt, de.Name())
		}
		if size < 0 {
			continue
		}
		fi, err := de.Info()
		if err != nil {
			return err
		}
		if fi.Size() != size {
			return fmt.Errorf("%w: %s: %d bytes, manifest says %d", ErrCorrupt, de.Name(), fi.Size(), size)
		}
	}
	return nil
}
