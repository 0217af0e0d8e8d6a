package cache

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/stx-build/stx-build/cache/filehash"
	"github.com/stx-build/stx-build/internal/flock"
)

// Where things are under the stx-build cache directory (--cache-dir).
const (
	// ArtifactsDir holds the local store (OpenLocal, Options.Dir).
	ArtifactsDir = "artifacts"
	// StatCacheDir holds the file digests filehash remembers.
	StatCacheDir = "filehash"
)

// Remote is a store other machines share (cache/oci keeps entries in an
// OCI registry).
type Remote interface {
	// String names the remote in messages (its reference).
	String() string
	// Has reports whether the remote holds an entry for key.
	Has(ctx context.Context, key Key) (bool, error)
	// Pull writes the entry of key into dir (empty): its files and its
	// manifest.json, every byte checked against the digests the remote's
	// own manifest lists; a mismatch is an error wrapping ErrCorrupt, a
	// missing entry one wrapping ErrNotFound.
	Pull(ctx context.Context, key Key, dir string) error
	// Push uploads e (a no-op when the remote has it already).
	Push(ctx context.Context, e *Entry) error
}

// Options configure Open.
type Options struct {
	// Dir is the local store's directory (CACHE/artifacts).
	Dir string
	// From are remotes tried in order on a local miss (--cache-from).
	From []Remote
	// To receives every entry stored, and every entry restored from the
	// local store that it lacks (--cache-to).
	To Remote
	// Hasher, when set, lets Restore skip copying when the destination
	// already holds the entry's files.
	Hasher *filehash.Hasher
	// Log receives one line per remote problem (a failed pull or push is
	// never fatal: the package is built, or stays only local). Default:
	// discard.
	Log io.Writer
	// Check, when set, checks that an entry's files are what its build
	// claims (for debs: every package says it comes from that source,
	// version and architecture). It runs on every file set that enters
	// the store (Store) and on every restore that copies (a tampered or
	// swapped entry with a re-hashed manifest is refused and removed).
	Check CheckFunc
}

// CheckFunc checks the files of an entry of b (paths, sorted) against
// what b claims. An error means the entry must not be used.
type CheckFunc func(ctx context.Context, b Build, files []string) error

// Cache is the local store with its remotes: what the build loop calls.
// It is safe for concurrent use.
type Cache struct {
	local *Local
	opts  Options
	logMu sync.Mutex
}

// Open opens the local store in opts.Dir.
func Open(opts Options) (*Cache, error) {
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	l, err := OpenLocal(opts.Dir)
	if err != nil {
		return nil, err
	}
	l.check = opts.Check
	return &Cache{local: l, opts: opts}, nil
}

// Local is the local store.
func (c *Cache) Local() *Local { return c.local }

// Hasher is the file hasher of Options (nil if none): pass it to
// buildkey.Options so keys reuse the same stat cache.
func (c *Cache) Hasher() *filehash.Hasher { return c.opts.Hasher }

func (c *Cache) logf(format string, args ...any) {
	c.logMu.Lock()
	defer c.logMu.Unlock()
	fmt.Fprintf(c.opts.Log, "cache: "+format+"\n", args...)
}

// Restored says where Restore found an entry.
type Restored struct {
	RestoreResult
	// From is "local" or the remote the entry was pulled from.
	From string
}

// Restore puts the artifacts of key into dest (OUT/<arch>/debs/<source>_<version>)
// from the local store or, on a local miss, from the first remote that has
// them (pulling into the local store first). ok is false when no store has
// a usable entry: the caller builds. A corrupt entry counts as a miss (it
// is reported to Log and removed locally); err is for problems that stop
// the build (the destination cannot be written, the context is done).
func (c *Cache) Restore(ctx context.Context, key Key, dest string) (r *Restored, ok bool, err error) {
	r, err = c.restoreLocal(ctx, key, dest, "local")
	switch {
	case err == nil:
		c.pushMissing(ctx, key)
		return r, true, nil
	case errors.Is(err, ErrCorrupt):
		c.logf("%v", err)
	case !errors.Is(err, ErrNotFound):
		return nil, false, err
	}
	for _, rem := range c.opts.From {
		if err := ctx.Err(); err != nil {
			return nil, false, err
		}
		_, perr := c.local.Import(ctx, key, func(dir string) error { return rem.Pull(ctx, key, dir) })
		if perr != nil {
			if !errors.Is(perr, ErrNotFound) {
				c.logf("pull %s from %s: %v", key.Short(), rem, perr)
			}
			continue
		}
		r, err := c.restoreLocal(ctx, key, dest, rem.String())
		if err != nil {
			if errors.Is(err, ErrCorrupt) {
				c.logf("%v", err)
				continue
			}
			return nil, false, err
		}
		c.pushMissing(ctx, key)
		return r, true, nil
	}
	return nil, false, ctx.Err()
}

func (c *Cache) restoreLocal(ctx context.Context, key Key, dest, from string) (*Restored, error) {
	res, err := c.local.Restore(ctx, key, dest, c.opts.Hasher)
	if err != nil {
		return nil, err
	}
	return &Restored{RestoreResult: *res, From: from}, nil
}

// pushMissing pushes a restored entry to the To remote when it lacks it,
// so a remote fills up from machines that built before it was configured.
func (c *Cache) pushMissing(ctx context.Context, key Key) {
	if c.opts.To == nil {
		return
	}
	has, err := c.opts.To.Has(ctx, key)
	if err != nil {
		c.logf("check %s on %s: %v", key.Short(), c.opts.To, err)
		return
	}
	if has {
		return
	}
	e, err := c.local.Get(ctx, key)
	if err != nil {
		return
	}
	if err := c.opts.To.Push(ctx, e); err != nil {
		c.logf("push %s to %s: %v", key.Short(), c.opts.To, err)
	}
}

// Store keeps files (the build's artifacts, e.g. deb.Result.Files) as the
// entry of b, locally and on the To remote. Only a local failure is an
// error; a failed push is reported to Log.
func (c *Cache) Store(ctx context.Context, b Build, files []string) (*Entry, error) {
	if c.opts.Check != nil {
		sorted := slices.Clone(files)
		slices.Sort(sorted)
		if err := c.opts.Check(ctx, b, sorted); err != nil {
			return nil, fmt.Errorf("cache: %s: refused to store: %w", b, err)
		}
	}
	e, err := c.local.Put(ctx, b, files)
	if err != nil {
		return nil, err
	}
	if c.opts.To != nil {
		if err := c.opts.To.Push(ctx, e); err != nil {
			c.logf("push %s (%s) to %s: %v", b.Key.Short(), b, c.opts.To, err)
		}
	}
	return e, nil
}

// Where says which store holds key: "local", a remote's name, or "" when
// none does (remote errors count as "not there").
func (c *Cache) Where(ctx context.Context, key Key) string {
	if _, err := c.local.Get(ctx, key); err == nil {
		return "local"
	}
	for _, rem := range c.opts.From {
		if ok, err := rem.Has(ctx, key); err == nil && ok {
			return rem.String()
		}
	}
	return ""
}

// claimsDir holds one lock file per key being built (Dir/.claims/<key>).
const claimsDir = ".claims"

// Claim takes the right to build key, for as long as the returned release
// is not called: concurrent stx-build runs on one cache that need the same
// build take turns, so the second restores what the first stored instead of
// building it again. When another run holds the claim, waiting is called
// once before Claim starts waiting (for a progress line). The lock is an
// flock(2), so a claim dies with its process.
func (c *Cache) Claim(ctx context.Context, key Key, waiting func()) (release func(), err error) {
	dir := filepath.Join(c.local.Dir(), claimsDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("cache: claim %s: %w", key.Short(), err)
	}
	unlock, err := flock.LockPathWait(ctx, filepath.Join(dir, string(key)), flock.Exclusive, waiting)
	if err != nil {
		return nil, fmt.Errorf("cache: claim %s: %w", key.Short(), err)
	}
	return unlock, nil
}
