// Package repo keeps a local apt repository for one architecture: the
// packages stx-build has built, which later builds install their
// build-dependencies from. Build sandboxes mount the repository's directory
// read-only and use it as
//
//	deb [trusted=yes] file:/path/to/repo stx main
//
// Layout of the directory:
//
//	pool/main/<prefix>/<source>/<package>_<version>_<arch>.deb (or .udeb)
//	dists -> dists.<n>       symlink to the live generation of the indexes
//	dists.<n>/stx/Release
//	dists.<n>/stx/main/binary-<arch>/Packages{,.gz}
//	dists.<n>/stx/main/debian-installer/binary-<arch>/Packages{,.gz}
//	.lock                    flock(2) lock serializing writers
//	.pool-cache.json         checksums of pool files, keyed by inode and times
//
// The repository holds one version of each binary package and
// architecture: the latest one published. The indexes are a pure function
// of the pool and the publish options (see renderDists), so the same
// packages give byte-identical Packages, Packages.gz and Release files.
//
// Publish never changes what a reader sees until it is complete: the new
// indexes are written to a new generation directory, synced, and the dists
// symlink is replaced with rename(2). Readers see either the old indexes
// with the old pool files or the new ones with the new pool files.
package repo

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"pault.ag/go/debian/control"

	"github.com/stx-build/stx-build/internal/atomicfile"
)

// Repo is the repository for one architecture in one directory. Its
// methods are safe for concurrent use, also by several processes.
type Repo struct {
	dir         string
	arch        string
	readControl controlReader
	// failAt, when set (tests), is called at the named steps of Publish;
	// an error stops the Publish there as a crash would.
	failAt func(step string) error
}

const (
	distsLink   = "dists"
	genPrefix   = "dists."     // dists.<n>: a complete generation
	newGenPfx   = "dists.new-" // dists.new-<n>: a generation being written
	newLinkPfx  = "dists.tmp-" // dists.tmp-<n>: the symlink about to replace dists
	defaultOrig = "stx-build"
	defaultLbl  = "stx-build local"
)

// Open opens the repository for arch (a Debian architecture name such as
// amd64) in dir, creating an empty one if dir holds none.
func Open(dir, arch string) (*Repo, error) {
	if !archRE.MatchString(arch) || arch == "all" || arch == "any" {
		return nil, fmt.Errorf("repo %s: %q is not a Debian architecture", dir, arch)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("repo %s: %w", dir, err)
	}
	r := &Repo{dir: abs, arch: arch, readControl: goControl}
	if ok, err := r.ready(); ok || err != nil {
		return r, err
	}
	if err := mkdirs(abs); err != nil {
		return nil, fmt.Errorf("repo %s: %w", dir, err)
	}
	unlock, err := r.lock(context.Background(), lockExclusive)
	if err != nil {
		return nil, fmt.Errorf("repo %s: %w", dir, err)
	}
	defer unlock()
	if ok, err := r.ready(); ok || err != nil { // another process created it meanwhile
		return r, err
	}
	if err := r.publish(context.Background(), nil, Options{Date: skeletonDate}.withDefaults()); err != nil {
		return nil, err
	}
	return r, nil
}

// ready tells whether the repository exists; an existing repository for
// another architecture is an error.
func (r *Repo) ready() (bool, error) {
	live, err := r.liveGen()
	if err != nil || live == 0 {
		return false, err
	}
	if _, err := os.Stat(r.path(poolDir)); err != nil {
		return false, nil
	}
	idx := r.path(distsLink, suite, indexDir(r.arch, false), "Packages")
	if _, err := os.Stat(idx); err != nil {
		return false, fmt.Errorf("repo %s: no index for %s (%v): a repository for another architecture?", r.dir, r.arch, err)
	}
	return true, nil
}

// Dir is the repository's directory (absolute).
func (r *Repo) Dir() string { return r.dir }

// Arch is the architecture the repository indexes (besides "all").
func (r *Repo) Arch() string { return r.arch }

// SourcesLine is the sources.list line for the repository at its path on
// this host; a sandbox that mounts it elsewhere names that path instead.
func (r *Repo) SourcesLine() string {
	return "deb [trusted=yes] file:" + r.dir + " " + suite + " " + component
}

// SignedSourcesLine is the sources.list line of a signed repository at
// uri (e.g. "file:/stx/repo-amd64" where a sandbox mounts it, or
// "copy:///path") whose Release apt must verify with the keyring at
// keyring (a path as the reader sees it). arch, when set, limits it to
// one architecture.
func SignedSourcesLine(uri, keyring, arch string) string {
	opts := "signed-by=" + keyring
	if arch != "" {
		opts += " arch=" + arch
	}
	return "deb [" + opts + "] " + uri + " " + suite + " " + component
}

func (r *Repo) path(elem ...string) string {
	return filepath.Join(append([]string{r.dir}, elem...)...)
}

// Options are the parts of the indexes that do not come from the packages.
type Options struct {
	// Date is Release's Date field, normally SOURCE_DATE_EPOCH. Required:
	// the repository never reads the clock.
	Date time.Time
	// Origin and Label are Release's fields of those names (defaults
	// "stx-build" and "stx-build local"); apt pinning can match them.
	Origin, Label string
	// Codename is Release's Codename (default the suite, "stx"). apt
	// accepts a Release whose Suite or Codename is the sources line's
	// distribution, so a repository may say it holds another suite's
	// packages (a locked archive: mmdebstrap picks the Essential set with
	// ?codename(^<suite>$)).
	Codename string
	// Signer, when set, signs Release (InRelease and Release.gpg, dated
	// Date); consumers then verify the repository with its keyring
	// (SignedSourcesLine) instead of trusting it.
	Signer *Signer
}

func (o Options) withDefaults() Options {
	if o.Origin == "" {
		o.Origin = defaultOrig
	}
	if o.Label == "" {
		o.Label = defaultLbl
	}
	if o.Codename == "" {
		o.Codename = suite
	}
	return o
}

func (o Options) validate() error {
	if o.Date.IsZero() {
		return errors.New("Options.Date is not set (derive it from SOURCE_DATE_EPOCH)")
	}
	for _, f := range []struct{ name, value string }{{"Origin", o.Origin}, {"Label", o.Label}, {"Codename", o.Codename}} {
		if strings.ContainsAny(f.value, "\r\n") {
			return fmt.Errorf("Options.%s %q spans lines", f.name, f.value)
		}
	}
	return nil
}

// Publish adds the .deb and .udeb files debs to the repository and
// regenerates its indexes from the pool.
//
// A package replaces whatever version of the same package (and
// architecture, and deb/udeb kind) the pool held: the repository keeps the
// latest build, not the highest version. Packages for other architectures
// than the repository's and "all" are skipped. Giving two different files
// for one package is an error.
//
// Publish holds the repository's lock throughout, so concurrent calls
// (from any process) run one after the other. When it fails (a full disk,
// a cancelled ctx) the repository is as it was: nothing of what it was
// publishing stays, in the pool or in a generation, for a later Publish to
// index. When it is killed before the new pool files are in place, the
// same; after that point the next Publish finishes its work (its files
// are in the pool, so they get indexed).
func (r *Repo) Publish(ctx context.Context, debs []string, opts Options) error {
	opts = opts.withDefaults()
	if err := opts.validate(); err != nil {
		return fmt.Errorf("repo %s: publish: %w", r.dir, err)
	}
	unlock, err := r.lock(ctx, lockExclusive)
	if err != nil {
		return fmt.Errorf("repo %s: publish: %w", r.dir, err)
	}
	defer unlock()
	return r.publish(ctx, debs, opts)
}

// publish does Publish's work; the caller holds the lock.
func (r *Repo) publish(ctx context.Context, debs []string, opts Options) (err error) {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("repo %s: publish: %w", r.dir, fmt.Errorf(format, args...))
	}
	live, err := r.liveGen()
	if err != nil {
		return err
	}
	if err := r.removeLeftovers(live); err != nil {
		return fail("remove leftovers: %w", err)
	}
	if err := mkdirs(r.path(poolDir)); err != nil {
		return fail("%w", err)
	}

	// The binaries being published, one per slot. A file whose bytes the
	// pool holds already is described from the pool's cache, without
	// running dpkg-deb: republishing unchanged debs costs their hashing.
	cache := r.loadCache()
	incoming, from, err := r.incoming(ctx, debs, byContent(cache))
	if err != nil {
		return fail("%w", err)
	}

	pool, err := r.scanPool(ctx, cache)
	if err != nil {
		return fail("%w", err)
	}

	chosen, inPool, keep, losers := r.choose(pool, incoming)

	// Copy the new binaries next to their pool paths.
	moves, err := r.stageAll(ctx, incoming, from, inPool, chosen)
	defer func() {
		if err != nil {
			for _, m := range moves {
				os.Remove(m.tmp)
			}
		}
	}()
	if err != nil {
		return fail("%w", err)
	}
	if err := r.step("stage"); err != nil {
		return fail("%w", err)
	}

	// Write the new indexes beside the live ones, unless nothing changes:
	// the same pool and the same indexes as the live generation (a no-op
	// rebuild republishes every package it restores). A signature of
	// Release, when there is one, is added to files here.
	bins := make([]binary, 0, len(chosen))
	for _, f := range chosen {
		bins = append(bins, f.binary)
	}
	files := renderDists(r.arch, bins, opts)
	if opts.Signer != nil {
		if files, err = signDists(opts.Signer, files, opts.Date); err != nil {
			return fail("%w", err)
		}
	}
	if len(moves) == 0 && len(losers) == 0 && r.liveHolds(live, files) {
		if err := r.saveCache(append(keep, sortedPoolFiles(chosen)...)); err != nil {
			return fail("published, but tidying up failed: %w", err)
		}
		return nil
	}
	next := live + 1
	// From here a failure undoes what was done (undo, deferred below).
	var placed []placement
	swapped := false
	defer func() {
		if err != nil && !swapped {
			r.undo(live, next, placed)
		}
	}()
	if err := r.writeGen(next, files); err != nil {
		return fail("write indexes: %w", err)
	}
	if err := r.step("index"); err != nil {
		return fail("%w", err)
	}
	if err := ctx.Err(); err != nil {
		return fail("%w", err)
	}

	// Move the new binaries into the pool; the old index does not list
	// them (or lists the same bytes, skipped above unless a same-version
	// rebuild changed them). A file replaced in place keeps a hard link
	// until the new index is live, so that undo can put it back.
	placed, moves, err = placeAll(moves)
	if err != nil {
		return fail("%w", err)
	}
	if err := r.step("pool"); err != nil {
		return fail("%w", err)
	}

	// Switch readers to the new indexes.
	if err := r.swap(next); err != nil {
		return fail("%w", err)
	}
	swapped = true

	if err := r.tidy(live, placed, chosen, losers, keep); err != nil {
		return fail("published, but tidying up failed: %w", err)
	}
	return nil
}

// move is a staged binary (tmp) and its pool path.
type move struct{ tmp, dst string }

// stageAll copies the binaries of incoming that the pool does not hold
// byte for byte next to their pool paths, and records in chosen what
// each slot publishes: the pool's file when it holds the same bytes, the
// incoming binary otherwise. On an error, the moves returned so far are
// the caller's to remove.
func (r *Repo) stageAll(ctx context.Context, incoming map[key]binary, from map[key]string, inPool map[string]poolFile, chosen map[key]poolFile) ([]move, error) {
	var moves []move
	for _, k := range sortedKeys(incoming) {
		b := incoming[k]
		if f, ok := inPool[b.Filename]; ok && f.SHA256 == b.SHA256 && f.Size == b.Size {
			chosen[k] = f // already there, byte for byte
			continue
		}
		if err := ctx.Err(); err != nil {
			return moves, err
		}
		tmp, err := r.stage(from[k], b)
		if err != nil {
			return moves, fmt.Errorf("%s: %w", from[k], err)
		}
		moves = append(moves, move{tmp, r.path(b.Filename)})
		chosen[k] = poolFile{binary: b}
		// A file misnamed by hand could sit at this path under another slot.
		if f, ok := inPool[b.Filename]; ok && f.key() != k && chosen[f.key()].Filename == b.Filename {
			delete(chosen, f.key())
		}
	}
	return moves, nil
}

// placeAll moves the staged binaries into the pool and syncs their
// directories. It returns what it placed (for undo) and the moves not
// made (their temporary files are the caller's to remove).
func placeAll(moves []move) (placed []placement, left []move, err error) {
	dirs := map[string]bool{}
	for i, m := range moves {
		p, err := place(m.tmp, m.dst)
		if err != nil {
			return placed, moves[i:], err
		}
		placed = append(placed, p)
		dirs[filepath.Dir(m.dst)] = true
	}
	for _, d := range sortedKeysOf(dirs) {
		if err := atomicfile.SyncDir(d); err != nil {
			return placed, nil, err
		}
	}
	return placed, nil, nil
}

// incoming describes the binaries being published, one per slot, with
// the file each comes from; other architectures' binaries are left out.
func (r *Repo) incoming(ctx context.Context, debs []string, known map[string]binary) (map[key]binary, map[key]string, error) {
	incoming := map[key]binary{}
	from := map[key]string{}
	for _, p := range sortedUnique(debs) {
		b, err := describe(ctx, r.readControl, p, known)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", p, err)
		}
		if b.Architecture != "all" && b.Architecture != r.arch {
			continue
		}
		b.Filename = poolPath(b)
		k := b.key()
		if prev, dup := incoming[k]; dup {
			if prev.SHA256 == b.SHA256 && prev.Filename == b.Filename {
				continue // the same file twice
			}
			return nil, nil, fmt.Errorf("%s and %s are both %s: publish one build of a package at a time", from[k], p, k)
		}
		incoming[k], from[k] = b, p
	}
	return incoming, from, nil
}

// choose gives each slot the binary published now, or else the one in
// the pool (the highest version, should an interrupted Publish have left
// two). It returns the pool's files by name, those of other architectures
// (kept, not indexed) and the losers: pool files no slot keeps, removed
// once the new index is live.
func (r *Repo) choose(pool []poolFile, incoming map[key]binary) (chosen map[key]poolFile, inPool map[string]poolFile, keep, losers []poolFile) {
	chosen = map[key]poolFile{}
	inPool = map[string]poolFile{}
	for _, f := range pool {
		inPool[f.Filename] = f
		if f.Architecture != "all" && f.Architecture != r.arch {
			keep = append(keep, f) // not ours to index; left alone
			continue
		}
		k := f.key()
		if in, ok := incoming[k]; ok {
			if f.Filename != in.Filename {
				losers = append(losers, f)
			}
			continue
		}
		cur, ok := chosen[k]
		switch {
		case !ok:
			chosen[k] = f
		case newer(f.binary, cur.binary):
			losers = append(losers, cur)
			chosen[k] = f
		default:
			losers = append(losers, f)
		}
	}
	return chosen, inPool, keep, losers
}

// tidy runs once the new generation is live: it removes the backups of
// replaced files, the losers and the old generation, and saves the pool
// cache. The repository is consistent already; failures are still
// reported so that they are seen.
func (r *Repo) tidy(live int, placed []placement, chosen map[key]poolFile, losers, keep []poolFile) error {
	var errs []error
	for _, p := range placed {
		if p.backup != "" {
			if err := os.Remove(p.backup); err != nil {
				errs = append(errs, err)
			}
		}
	}
	indexed := map[string]bool{}
	for _, f := range chosen {
		indexed[f.Filename] = true
	}
	for _, f := range losers {
		if indexed[f.Filename] {
			continue // replaced in place
		}
		p := r.path(f.Filename)
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
		removeEmptyDirs(filepath.Dir(p), r.path(poolDir))
	}
	if live > 0 {
		if err := os.RemoveAll(r.path(genName(live))); err != nil {
			errs = append(errs, err)
		}
	}
	for k, f := range chosen {
		if f.Stat == (fileID{}) {
			if fi, err := os.Stat(r.path(f.Filename)); err == nil {
				f.Stat, _ = statID(fi)
				chosen[k] = f
			}
		}
		keep = append(keep, chosen[k])
	}
	if err := r.saveCache(keep); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// placement is a binary moved into the pool, and the link to the file it
// replaced ("" if none).
type placement struct{ dst, backup string }

// place renames tmp to dst, first linking an existing dst to a temporary
// name beside it (which scanPool removes should the process die).
func place(tmp, dst string) (placement, error) {
	p := placement{dst: dst}
	if _, err := os.Lstat(dst); err == nil {
		p.backup = filepath.Join(filepath.Dir(dst), tmpPrefix+"old-"+filepath.Base(dst))
		os.Remove(p.backup)
		if err := os.Link(dst, p.backup); err != nil {
			return placement{}, err
		}
	}
	if err := os.Rename(tmp, dst); err != nil {
		if p.backup != "" {
			os.Remove(p.backup)
		}
		return placement{}, err
	}
	return p, nil
}

// undo puts the repository back as it was before a failed publish of
// generation next over live: the dists symlink, the pool files placed, the
// new generation. Best effort: what it cannot undo the next Publish sees
// (and indexes, as after a crash).
func (r *Repo) undo(live, next int, placed []placement) {
	if now, err := r.liveGen(); err == nil && now == next && live > 0 {
		_ = r.swap(live) // the swap happened, but its sync failed
	}
	for i := len(placed) - 1; i >= 0; i-- {
		p := placed[i]
		if p.backup != "" {
			_ = os.Rename(p.backup, p.dst)
		} else {
			_ = os.Remove(p.dst)
			removeEmptyDirs(filepath.Dir(p.dst), r.path(poolDir))
		}
	}
	if now, err := r.liveGen(); err == nil && now != next {
		_ = os.RemoveAll(r.path(genName(next)))
	}
	_ = os.RemoveAll(r.path(newGenPfx + strconv.Itoa(next)))
}

// liveHolds tells whether generation live consists of exactly files, byte
// for byte.
func (r *Repo) liveHolds(live int, files []distFile) bool {
	if live == 0 {
		return false
	}
	gen := r.path(genName(live))
	n := 0
	err := filepath.WalkDir(gen, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			n++
		}
		return err
	})
	if err != nil || n != len(files) {
		return false
	}
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join(gen, filepath.FromSlash(f.path)))
		if err != nil || !bytes.Equal(data, f.data) {
			return false
		}
	}
	return true
}

func sortedPoolFiles(m map[key]poolFile) []poolFile {
	out := make([]poolFile, 0, len(m))
	for _, f := range m {
		out = append(out, f)
	}
	slices.SortFunc(out, func(a, b poolFile) int { return strings.Compare(a.Filename, b.Filename) })
	return out
}

// step runs the test hook for a step of publish.
func (r *Repo) step(name string) error {
	if r.failAt == nil {
		return nil
	}
	if err := r.failAt(name); err != nil {
		return fmt.Errorf("at %s: %w", name, err)
	}
	return nil
}

// newer tells whether a should be indexed rather than b (same slot).
func newer(a, b binary) bool {
	if c := compareVersions(a.Version, b.Version); c != 0 {
		return c > 0
	}
	return a.Filename < b.Filename
}

func genName(n int) string { return genPrefix + strconv.Itoa(n) }

// parseGen reads n from "dists.<n>".
func parseGen(name string) (int, bool) {
	s, ok := strings.CutPrefix(name, genPrefix)
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	return n, err == nil && n > 0 && strconv.Itoa(n) == s
}

// liveGen is the generation the dists symlink points at; 0 if there is none.
func (r *Repo) liveGen() (int, error) {
	target, err := os.Readlink(r.path(distsLink))
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("repo %s: %s is not a symlink to a generation (%w): not a repository this package wrote", r.dir, distsLink, err)
	}
	n, ok := parseGen(target)
	if !ok {
		return 0, fmt.Errorf("repo %s: %s points at %q, not at %s<n>", r.dir, distsLink, target, genPrefix)
	}
	return n, nil
}

// removeLeftovers removes what an interrupted Publish left beside the
// live generation: generations being written or complete but never made
// live, symlinks about to be swapped in, the cache's temporary files. Pool
// temporaries go in scanPool.
func (r *Repo) removeLeftovers(live int) error {
	entries, err := os.ReadDir(r.dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		name := e.Name()
		n, isGen := parseGen(name)
		if strings.HasPrefix(name, newGenPfx) || strings.HasPrefix(name, newLinkPfx) ||
			strings.HasPrefix(name, tmpPrefix) || (isGen && n != live) {
			if err := os.RemoveAll(r.path(name)); err != nil {
				return err
			}
		}
	}
	return nil
}

// writeGen writes a complete dists tree as dists.new-<n>, syncs it, and
// renames it to dists.<n>.
func (r *Repo) writeGen(n int, files []distFile) error {
	tmp := r.path(newGenPfx + strconv.Itoa(n))
	dirs := map[string]bool{tmp: true}
	for _, f := range files {
		p := filepath.Join(tmp, filepath.FromSlash(f.path))
		for d := filepath.Dir(p); d != tmp; d = filepath.Dir(d) {
			dirs[d] = true
		}
		if err := mkdirs(filepath.Dir(p)); err != nil {
			return err
		}
		if err := writeNew(p, f.data); err != nil {
			return err
		}
	}
	for _, d := range sortedKeysOf(dirs) {
		if err := atomicfile.SyncDir(d); err != nil {
			return err
		}
	}
	if err := os.Rename(tmp, r.path(genName(n))); err != nil {
		return err
	}
	return atomicfile.SyncDir(r.dir)
}

// swap points the dists symlink at generation n with one rename(2).
func (r *Repo) swap(n int) error {
	tmp := r.path(newLinkPfx + strconv.Itoa(n))
	if err := os.Symlink(genName(n), tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, r.path(distsLink)); err != nil {
		os.Remove(tmp)
		return err
	}
	return atomicfile.SyncDir(r.dir)
}

// Entry is one binary package the repository's index lists.
type Entry struct {
	Package      string
	Version      string
	Architecture string
	Source       string // source package name (the package's own if none given)
	Filename     string // relative to Dir, e.g. pool/main/h/hello/hello_2.10-3_amd64.deb
	SHA256       string
	Size         int64
	Udeb         bool // listed in main/debian-installer
}

// Packages returns what the indexes list, sorted by package, version
// (dpkg order), architecture, and debs before udebs.
func (r *Repo) Packages() ([]Entry, error) {
	unlock, err := r.lock(context.Background(), lockShared)
	if err != nil {
		return nil, fmt.Errorf("repo %s: %w", r.dir, err)
	}
	defer unlock()
	idx, err := r.readIndexes()
	if err != nil {
		return nil, fmt.Errorf("repo %s: %w", r.dir, err)
	}
	out := make([]Entry, 0, len(idx))
	for _, s := range idx {
		out = append(out, s.entry)
	}
	return out, nil
}

// stanza is one index entry with the checksums Verify needs.
type stanza struct {
	entry       Entry
	md5, sha1   string
	indexedFrom string // the Packages file, relative to dists/
}

// readIndexes parses both live Packages files.
func (r *Repo) readIndexes() ([]stanza, error) {
	var out []stanza
	for _, udeb := range []bool{false, true} {
		rel := path.Join(suite, indexDir(r.arch, udeb), "Packages")
		f, err := os.Open(r.path(distsLink, filepath.FromSlash(rel)))
		if err != nil {
			return nil, err
		}
		idx, err := control.ParseBinaryIndex(bufio.NewReader(f))
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("%s/%s: %w", distsLink, rel, err)
		}
		for _, p := range idx {
			src, _, _ := strings.Cut(strings.TrimSpace(p.Source), " ")
			if src == "" {
				src = p.Package
			}
			out = append(out, stanza{
				entry: Entry{
					Package: p.Package, Version: p.Version.String(), Architecture: p.Architecture.String(),
					Source: src, Filename: p.Filename, SHA256: p.SHA256, Size: int64(p.Size), Udeb: udeb,
				},
				md5: p.MD5sum, sha1: p.SHA1, indexedFrom: distsLink + "/" + rel,
			})
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i].entry, out[j].entry
		if a.Package != b.Package {
			return a.Package < b.Package
		}
		if c := compareVersions(a.Version, b.Version); c != 0 {
			return c < 0
		}
		if a.Architecture != b.Architecture {
			return a.Architecture < b.Architecture
		}
		return !a.Udeb && b.Udeb
	})
	return out, nil
}

// Verify re-hashes what the repository serves: the index files against
// Release, and every pool file against its index entry. It reports every
// mismatch, not just the first.
func (r *Repo) Verify() error {
	unlock, err := r.lock(context.Background(), lockShared)
	if err != nil {
		return fmt.Errorf("repo %s: verify: %w", r.dir, err)
	}
	defer unlock()
	var problems []error
	report := func(format string, args ...any) {
		problems = append(problems, fmt.Errorf(format, args...))
	}

	release, err := os.ReadFile(r.path(distsLink, suite, "Release"))
	if err != nil {
		return fmt.Errorf("repo %s: verify: %w", r.dir, err)
	}
	listed, err := releaseSHA256(release)
	if err != nil {
		return fmt.Errorf("repo %s: verify: %s/%s/Release: %w", r.dir, distsLink, suite, err)
	}
	for _, l := range listed {
		rel := distsLink + "/" + suite + "/" + l.path
		if strings.Contains(l.path, "..") {
			report("%s: listed in Release: outside the suite", rel)
			continue
		}
		if err := checkFile(r.path(filepath.FromSlash(rel)), l.size, "", "", l.sha256); err != nil {
			report("%s: %w (listed in Release)", rel, err)
		}
	}

	idx, err := r.readIndexes()
	if err != nil {
		return fmt.Errorf("repo %s: verify: %w", r.dir, err)
	}
	for _, s := range idx {
		e := s.entry
		if !strings.HasPrefix(e.Filename, poolDir+"/") || strings.Contains(e.Filename, "..") {
			report("%s: %s %s: Filename %q is not in the pool", s.indexedFrom, e.Package, e.Version, e.Filename)
			continue
		}
		if err := checkFile(r.path(filepath.FromSlash(e.Filename)), e.Size, s.md5, s.sha1, e.SHA256); err != nil {
			report("%s: %w (%s %s in %s)", e.Filename, err, e.Package, e.Version, s.indexedFrom)
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("repo %s: verify: %w", r.dir, errors.Join(problems...))
	}
	return nil
}

// checkFile compares a file with a size and the checksums given (empty:
// not checked).
func checkFile(p string, size int64, md5sum, sha1sum, sha256sum string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	sum := newSummer()
	if _, err := io.Copy(sum, f); err != nil {
		return err
	}
	var got binary
	sum.fill(&got)
	var bad []string
	if got.Size != size {
		bad = append(bad, fmt.Sprintf("size %d, want %d", got.Size, size))
	}
	for _, c := range []struct{ name, got, want string }{
		{"MD5sum", got.MD5sum, md5sum}, {"SHA1", got.SHA1, sha1sum}, {"SHA256", got.SHA256, sha256sum},
	} {
		if c.want != "" && c.got != c.want {
			bad = append(bad, fmt.Sprintf("%s %s, want %s", c.name, c.got, c.want))
		}
	}
	if len(bad) > 0 {
		return errors.New(strings.Join(bad, "; "))
	}
	return nil
}

// releaseFile is one line of a Release file's SHA256 field.
type releaseFile struct {
	sha256 string
	size   int64
	path   string
}

func releaseSHA256(data []byte) ([]releaseFile, error) {
	pr, err := control.NewParagraphReader(strings.NewReader(string(data)), nil)
	if err != nil {
		return nil, err
	}
	para, err := pr.Next()
	if err != nil {
		return nil, err
	}
	var out []releaseFile
	for i, line := range strings.Split(strings.TrimSpace(para.Values["SHA256"]), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 {
			return nil, fmt.Errorf("field SHA256, line %d: %q is not <sha256> <size> <path>", i+1, line)
		}
		size, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("field SHA256, line %d: size: %w", i+1, err)
		}
		out = append(out, releaseFile{sha256: f[0], size: size, path: f[2]})
	}
	if len(out) == 0 {
		return nil, errors.New("no SHA256 field")
	}
	return out, nil
}

func sortedUnique(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return slices.Compact(out)
}

func sortedKeys(m map[key]binary) []key {
	keys := make([]key, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b key) int { return strings.Compare(a.String(), b.String()) })
	return keys
}

func sortedKeysOf(m map[string]bool) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
