// Package store keeps downloaded packages content-addressed: a file is
// stored under its sha256 and only after its size and digest were checked
// against what an index (apt's Packages, a lock) says it must be, so a
// path in the store is its own proof. Concurrent runs on one cache share
// it without locks: a file is looked up first and fetched only when
// missing, written to a temporary file and renamed into place (two runs
// fetching the same file at once both write the same bytes, and the
// second rename is harmless).
package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/stx-build/stx-build/internal/atomicfile"
)

// Item is one file to have in the store.
type Item struct {
	// Name names the file in messages and is its name in a link farm
	// (e.g. apt's archive file name "zlib1g_1%3a1.2.13_amd64.deb").
	Name string
	// URL is where to fetch it: http, https, file or copy (apt's copy:
	// method, a local file). Empty: Path under one of Store.Mirrors.
	URL string
	// Path is the file's path under a mirror (a lock's "pool/..."), tried
	// on each of Store.Mirrors in turn when URL is empty.
	Path string
	// SHA256 (lower-case hex) and Size are what the file must be.
	SHA256 string
	Size   int64
}

// Store is a directory of files by sha256: Dir/sha256/<2 hex>/<64 hex>.
type Store struct {
	// Dir is the store's root.
	Dir string
	// Client fetches http(s) URLs (nil: http.DefaultClient, which honours
	// the proxy environment variables).
	Client *http.Client
	// Parallel is how many files FetchAll fetches at once (0: 4).
	Parallel int
	// Mirrors are the archive roots (the URIs of the host's apt sources)
	// an Item without a URL is fetched from, by its Path, in order.
	Mirrors []string
}

// New returns the store rooted at dir.
func New(dir string) *Store { return &Store{Dir: dir} }

// Path is where the file with digest sum lives (whether or not it is
// there).
func (s *Store) Path(sum string) string {
	if len(sum) < 2 {
		return filepath.Join(s.Dir, "sha256", "invalid", sum)
	}
	return filepath.Join(s.Dir, "sha256", sum[:2], sum)
}

// Has reports whether its file is in the store: a regular file of its
// size under its digest.
func (s *Store) Has(it Item) bool {
	if checkSum(it.SHA256) != nil {
		return false
	}
	fi, err := os.Lstat(s.Path(it.SHA256))
	return err == nil && fi.Mode().IsRegular() && fi.Size() == it.Size
}

// Missing returns the items not in the store, in the given order.
func (s *Store) Missing(items []Item) []Item {
	var out []Item
	for _, it := range items {
		if !s.Has(it) {
			out = append(out, it)
		}
	}
	return out
}

// Fetch makes sure its file is in the store and returns its path: the
// stored one, or it fetched now and checked.
func (s *Store) Fetch(ctx context.Context, it Item) (string, error) {
	if err := checkSum(it.SHA256); err != nil {
		return "", fmt.Errorf("%s: %w", it.Name, err)
	}
	p := s.Path(it.SHA256)
	if s.Has(it) {
		return p, nil
	}
	r, from, err := s.openItem(ctx, it)
	if err != nil {
		return "", fmt.Errorf("%s: %w", it.Name, err)
	}
	defer r.Close()
	it.URL = from
	return s.Put(it, r)
}

// Put stores what r reads as its file, unless the store has it: written
// to a temporary file, checked against its size and sha256 (reading at
// most one byte more than the size) and renamed into place. It returns
// the stored file's path. It.URL, when set, names the source in errors.
func (s *Store) Put(it Item, r io.Reader) (string, error) {
	if err := checkSum(it.SHA256); err != nil {
		return "", fmt.Errorf("%s: %w", it.Name, err)
	}
	p := s.Path(it.SHA256)
	if s.Has(it) {
		return p, nil
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return "", err
	}
	from := it.URL
	if from == "" {
		from = it.Name
	}
	err := atomicfile.WriteFunc(p, 0o444, func(w io.Writer) error {
		h := sha256.New()
		n, err := io.Copy(io.MultiWriter(w, h), io.LimitReader(r, it.Size+1))
		if err != nil {
			return fmt.Errorf("%s: %w", from, err)
		}
		if n != it.Size {
			return fmt.Errorf("%s: size %d, the index says %d", from, n, it.Size)
		}
		if got := hex.EncodeToString(h.Sum(nil)); got != it.SHA256 {
			return fmt.Errorf("%s: sha256 %s, the index says %s", from, got, it.SHA256)
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("%s: %w", it.Name, err)
	}
	return p, nil
}

// FetchAll fetches the items (Parallel at a time) and returns their
// paths in the given order. Every failure is reported, one per line.
func (s *Store) FetchAll(ctx context.Context, items []Item) ([]string, error) {
	paths := make([]string, len(items))
	errs := make([]error, len(items))
	n := s.Parallel
	if n <= 0 {
		n = 4
	}
	sem := make(chan struct{}, n)
	var wg sync.WaitGroup
	for i, it := range items {
		if s.Has(it) { // most calls: everything is there
			paths[i] = s.Path(it.SHA256)
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
				defer func() { <-sem }()
			case <-ctx.Done():
				errs[i] = ctx.Err()
				return
			}
			paths[i], errs[i] = s.Fetch(ctx, it)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("fetch packages: %w", err)
	}
	return paths, nil
}

// ErrNotOnMirror says that no mirror serves a file any more (a 404 or 410
// from each): an archive dropped the version.
var ErrNotOnMirror = errors.New("no mirror has it")

// openItem opens its URL, or else its Path on the first mirror that has
// it, and returns where it was opened.
func (s *Store) openItem(ctx context.Context, it Item) (io.ReadCloser, string, error) {
	if it.URL != "" {
		r, err := s.open(ctx, it.URL)
		return r, it.URL, err
	}
	if it.Path == "" || strings.Contains(it.Path, "..") {
		return nil, "", fmt.Errorf("no URL and no archive path %q to fetch", it.Path)
	}
	if len(s.Mirrors) == 0 {
		return nil, "", fmt.Errorf("%s: no mirror to fetch it from (the host has no apt sources)", it.Path)
	}
	var gone []string
	for _, m := range s.Mirrors {
		u := strings.TrimSuffix(m, "/") + "/" + it.Path
		r, err := s.open(ctx, u)
		if err == nil {
			return r, u, nil
		}
		var he *httpError
		switch {
		case errors.As(err, &he) && (he.code == http.StatusNotFound || he.code == http.StatusGone):
			gone = append(gone, u+": "+he.status)
		case errors.Is(err, fs.ErrNotExist): // a file: mirror
			gone = append(gone, u+": no such file")
		default:
			return nil, "", err
		}
	}
	return nil, "", fmt.Errorf("%s: %w (%s)", it.Path, ErrNotOnMirror, strings.Join(gone, "; "))
}

type httpError struct {
	code   int
	status string
}

func (e *httpError) Error() string { return e.status }

// open opens rawURL for reading.
func (s *Store) open(ctx context.Context, rawURL string) (io.ReadCloser, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, err
	}
	switch u.Scheme {
	case "file", "copy":
		return os.Open(u.Path)
	case "http", "https":
	default:
		return nil, fmt.Errorf("%s: cannot fetch %s: URLs", rawURL, u.Scheme)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, err
	}
	c := s.Client
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, fmt.Errorf("GET %s: %w", rawURL, &httpError{resp.StatusCode, resp.Status})
	}
	return resp.Body, nil
}

// Link puts a link (a hard link, or a copy across file systems) to each
// item's stored file into dir under its Name. Names must be plain file
// names and unique.
func (s *Store) Link(items []Item, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, it := range items {
		if it.Name == "" || it.Name != filepath.Base(it.Name) || strings.HasPrefix(it.Name, ".") {
			return fmt.Errorf("store: %q is not a plain file name", it.Name)
		}
		if seen[it.Name] {
			return fmt.Errorf("store: %s named twice", it.Name)
		}
		seen[it.Name] = true
		if err := linkOrCopy(s.Path(it.SHA256), filepath.Join(dir, it.Name)); err != nil {
			return err
		}
	}
	return nil
}

func linkOrCopy(src, dst string) error {
	if err := os.Link(src, dst); err == nil {
		return nil
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o444)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// checkSum accepts 64 lower-case hex digits.
func checkSum(sum string) error {
	if len(sum) != 64 || strings.ToLower(sum) != sum {
		return fmt.Errorf("sha256 %q is not 64 lower-case hex digits", sum)
	}
	if _, err := hex.DecodeString(sum); err != nil {
		return fmt.Errorf("sha256 %q: %w", sum, err)
	}
	return nil
}

// SortItems sorts items by Name, then digest: a deterministic order.
func SortItems(items []Item) {
	slices.SortFunc(items, func(a, b Item) int {
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		return strings.Compare(a.SHA256, b.SHA256)
	})
}
