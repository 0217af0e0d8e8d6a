package cache

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// List returns every readable entry, sorted by package, architecture and
// last use (newest first), and the keys of entries whose manifest is
// missing or unreadable.
func (l *Local) List(ctx context.Context) ([]*Entry, []Key, error) {
	unlock, err := lock(ctx, l.lockPath(), lockShared)
	if err != nil {
		return nil, nil, err
	}
	defer unlock()
	return l.list()
}

func (l *Local) list() ([]*Entry, []Key, error) {
	des, err := os.ReadDir(l.dir)
	if err != nil {
		return nil, nil, err
	}
	var entries []*Entry
	var bad []Key
	for _, de := range des {
		k := Key(de.Name())
		if !de.IsDir() || !k.Valid() {
			continue
		}
		e, err := l.get(k)
		if err != nil {
			bad = append(bad, k)
			continue
		}
		entries = append(entries, e)
	}
	slices.SortStableFunc(entries, func(a, b *Entry) int {
		if c := cmp.Compare(a.Manifest.Package, b.Manifest.Package); c != 0 {
			return c
		}
		if c := cmp.Compare(a.Manifest.Arch, b.Manifest.Arch); c != 0 {
			return c
		}
		if c := b.Used.Compare(a.Used); c != 0 {
			return c
		}
		return cmp.Compare(a.Manifest.Key, b.Manifest.Key)
	})
	return entries, bad, nil
}

// Stats describe the store.
type Stats struct {
	Entries  int
	Bytes    int64
	Packages int // distinct package/architecture pairs
	// Unreadable entries have no valid manifest (Verify removes them).
	Unreadable int
	// Oldest and Newest are the earliest and latest last uses.
	Oldest, Newest time.Time
	// PerArch counts entries by architecture.
	PerArch map[string]int
}

// Stats counts the store's entries and bytes.
func (l *Local) Stats(ctx context.Context) (*Stats, error) {
	entries, bad, err := l.List(ctx)
	if err != nil {
		return nil, err
	}
	st := &Stats{Entries: len(entries), Unreadable: len(bad), PerArch: map[string]int{}}
	pkgs := map[string]bool{}
	for _, e := range entries {
		st.Bytes += e.Size()
		st.PerArch[e.Manifest.Arch]++
		pkgs[e.Manifest.Arch+"/"+e.Manifest.Package] = true
		if st.Oldest.IsZero() || e.Used.Before(st.Oldest) {
			st.Oldest = e.Used
		}
		if e.Used.After(st.Newest) {
			st.Newest = e.Used
		}
	}
	st.Packages = len(pkgs)
	return st, nil
}

// PruneOptions say which entries Prune removes. With both zero it removes
// only unreadable entries and leftovers of crashed runs.
type PruneOptions struct {
	// Keep is how many entries to keep per package and architecture, the
	// most recently used ones (0: no limit).
	Keep int
	// OlderThan removes entries not used for this long (0: no limit).
	OlderThan time.Duration
	// Now is the time OlderThan counts from (default: time.Now()).
	Now time.Time
	// DryRun reports what would be removed without removing it.
	DryRun bool
}

// Removed is one entry Prune or Verify removed.
type Removed struct {
	Key    Key
	Build  string // "package version (arch) key", when readable
	Bytes  int64
	Reason string
}

// Prune removes entries as opts say, holding the store's lock exclusively
// (concurrent runs wait).
func (l *Local) Prune(ctx context.Context, opts PruneOptions) ([]Removed, error) {
	if opts.Keep < 0 || opts.OlderThan < 0 {
		return nil, fmt.Errorf("cache prune: --keep and --older-than must not be negative")
	}
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	unlock, err := lock(ctx, l.lockPath(), lockExclusive)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if !opts.DryRun {
		l.removeLeftovers()
	}
	entries, bad, err := l.list()
	if err != nil {
		return nil, err
	}
	var out []Removed
	for _, k := range bad {
		out = append(out, Removed{Key: k, Reason: "unreadable manifest"})
	}
	seen := map[string]int{}
	for _, e := range entries { // newest first within a package/arch
		id := e.Manifest.Arch + "/" + e.Manifest.Package
		seen[id]++
		reason := ""
		switch {
		case opts.Keep > 0 && seen[id] > opts.Keep:
			reason = fmt.Sprintf("beyond the %d most recently used of %s", opts.Keep, id)
		case opts.OlderThan > 0 && opts.Now.Sub(e.Used) > opts.OlderThan:
			reason = fmt.Sprintf("last used %s", e.Used.UTC().Format(time.RFC3339))
		default:
			continue
		}
		out = append(out, Removed{Key: e.Manifest.Key, Build: e.Manifest.Build.String(), Bytes: e.Size(), Reason: reason})
	}
	if opts.DryRun {
		return out, nil
	}
	for _, r := range out {
		if err := l.discard(r.Key); err != nil {
			return out, fmt.Errorf("cache prune: remove %s: %w", r.Key.Short(), err)
		}
	}
	return out, nil
}

// VerifyResult says what Verify found.
type VerifyResult struct {
	Checked int
	Bytes   int64
	Removed []Removed
}

// Verify re-hashes every file of every entry and removes the entries that
// do not match their manifest (or have none), holding the store's lock
// exclusively.
func (l *Local) Verify(ctx context.Context) (*VerifyResult, error) {
	unlock, err := lock(ctx, l.lockPath(), lockExclusive)
	if err != nil {
		return nil, err
	}
	defer unlock()
	l.removeLeftovers()
	entries, bad, err := l.list()
	if err != nil {
		return nil, err
	}
	res := &VerifyResult{}
	for _, k := range bad {
		res.Removed = append(res.Removed, Removed{Key: k, Reason: "missing or unreadable manifest"})
	}
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		res.Checked++
		if problem := checkEntry(e); problem != "" {
			res.Removed = append(res.Removed, Removed{Key: e.Manifest.Key, Build: e.Manifest.Build.String(), Bytes: e.Size(), Reason: problem})
			continue
		}
		res.Bytes += e.Size()
	}
	for _, r := range res.Removed {
		if err := l.discard(r.Key); err != nil {
			return res, fmt.Errorf("cache verify: remove %s: %w", r.Key.Short(), err)
		}
	}
	return res, nil
}

// checkEntry re-hashes e's files; it returns what is wrong, or "".
func checkEntry(e *Entry) string {
	if err := checkSizes(e.Dir, e.Manifest); err != nil {
		return err.Error()
	}
	for _, f := range e.Manifest.Files {
		sum, err := hashPath(e.Path(f.Name))
		if err != nil {
			return err.Error()
		}
		if sum != f.SHA256 {
			return fmt.Sprintf("%s: sha256 %s, manifest says %s", f.Name, sum[:12], f.SHA256[:12])
		}
	}
	return ""
}

func hashPath(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("%s: %w", filepath.Base(path), err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
