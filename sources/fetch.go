// Package sources fetches the source of a package (a local tree, a Debian
// source package through apt, or a .dsc by URL) into a content cache,
// verifying every file before it becomes visible in the cache.
package sources

import (
	"bufio"
	"bytes"
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
	"path"
	"path/filepath"
	"slices"
	"strings"

	"pault.ag/go/debian/control"
	"pault.ag/go/debian/version"

	"github.com/stx-build/stx-build/aptenv"
	"github.com/stx-build/stx-build/manifests"
)

// Kinds of Fetched.
const (
	KindLocal  = "local"
	KindDebian = "debian"
	KindDSC    = "dsc"
)

// maxDSCSize bounds how much of a .dsc is read: real ones are a few KiB.
const maxDSCSize = 1 << 20

// Fetcher fetches package sources into CacheDir/sources/<name>_<version>/.
type Fetcher struct {
	// CacheDir is the root of the content cache.
	CacheDir string
	// Apt is the private apt environment used for debian sources (its
	// lists must be up to date). It may be nil when no package needs it.
	Apt *aptenv.Env
	// HTTP downloads .dsc sources (nil: http.DefaultClient).
	HTTP *http.Client
}

// Fetched says where a package's source is.
type Fetched struct {
	// Kind is KindLocal, KindDebian or KindDSC.
	Kind string
	// Dir is, for local, the absolute source tree; for debian and dsc, the
	// cache directory holding the .dsc and its files.
	Dir string
	// DSC is the absolute path of the .dsc; empty for local.
	DSC string
}

// Fetch makes pkg's source available and returns where it is. Cached
// debian and dsc sources are re-verified against their .dsc and fetched
// again when a file no longer matches.
func (f *Fetcher) Fetch(ctx context.Context, pkg *manifests.Package) (*Fetched, error) {
	src := pkg.Source
	n := 0
	if src.Local != "" {
		n++
	}
	if src.Debian != "" {
		n++
	}
	if src.DSC != nil {
		n++
	}
	if n != 1 {
		return nil, fmt.Errorf("package %s: source: want exactly one of local, debian, dsc; %d are set", pkg.Name, n)
	}
	switch {
	case src.Local != "":
		fe, err := fetchLocal(pkg)
		if err != nil {
			return nil, fmt.Errorf("package %s: local source %s: %w", pkg.Name, src.Local, err)
		}
		return fe, nil
	case src.Debian != "":
		fe, err := f.fetchDebian(ctx, src.Debian)
		if err != nil {
			return nil, fmt.Errorf("package %s: fetch %s: %w", pkg.Name, src.Debian, err)
		}
		return fe, nil
	default:
		fe, err := f.fetchDSC(ctx, src.DSC)
		if err != nil {
			return nil, fmt.Errorf("package %s: fetch %s: %w", pkg.Name, src.DSC.URL, err)
		}
		return fe, nil
	}
}

func fetchLocal(pkg *manifests.Package) (*Fetched, error) {
	dir := pkg.Source.Local
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(pkg.Dir, dir)
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	fi, err := os.Stat(filepath.Join(dir, "debian", "control"))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s has no debian/control", dir)
		}
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: debian/control is not a regular file", dir)
	}
	return &Fetched{Kind: KindLocal, Dir: dir}, nil
}

// cacheKey is the directory and .dsc base name of a source package:
// name_version without the epoch, as Debian names the .dsc.
func cacheKey(name, ver string) (string, error) {
	if name == "" || strings.ContainsAny(name, "/_ \t\n") || name[0] == '.' {
		return "", fmt.Errorf("bad source package name %q", name)
	}
	v, err := version.Parse(ver)
	if err != nil {
		return "", fmt.Errorf("bad version %q: %w", ver, err)
	}
	key := name + "_" + v.StringWithoutEpoch()
	if strings.ContainsAny(key, "/ \t\n") {
		return "", fmt.Errorf("bad version %q", ver)
	}
	return key, nil
}

func (f *Fetcher) sourcesDir() (string, error) {
	if f.CacheDir == "" {
		return "", errors.New("no cache directory")
	}
	dir, err := filepath.Abs(filepath.Join(f.CacheDir, "sources"))
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	return dir, nil
}

// fetchDebian fetches "name=version" with apt-get source, which checks
// every file against the signed Sources index.
func (f *Fetcher) fetchDebian(ctx context.Context, spec string) (*Fetched, error) {
	name, ver, ok := strings.Cut(spec, "=")
	if !ok || name == "" || ver == "" {
		return nil, fmt.Errorf("want name=version")
	}
	key, err := cacheKey(name, ver)
	if err != nil {
		return nil, err
	}
	root, err := f.sourcesDir()
	if err != nil {
		return nil, err
	}
	final := filepath.Join(root, key)
	if fe, ok := reuse(final, key+".dsc", "", KindDebian); ok {
		return fe, nil
	}
	if f.Apt == nil {
		return nil, errors.New("not in the cache and no apt environment to fetch it with")
	}
	tmp, err := os.MkdirTemp(root, ".tmp-"+key+"-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp) // a no-op once published
	// apt drops privileges to _apt for downloads; let it write here.
	if err := os.Chmod(tmp, 0o755); err != nil {
		return nil, err
	}
	if err := f.Apt.Run(ctx, tmp, "source", "--download-only", "--only-source", "-q", name+"="+ver); err != nil {
		return nil, notServed(ctx, f.Apt, name, ver, err)
	}
	if _, err := verifyDir(tmp, key+".dsc", ""); err != nil {
		return nil, fmt.Errorf("apt-get source: %w", err)
	}
	return publish(tmp, final, key+".dsc", "", KindDebian)
}

// notServed explains a failed apt-get source: when the indexes do not
// offer the version at all, it says which versions they do offer (the
// usual case: a pin older than the mirror's current version, or one that
// only a suite the mirror does not serve has).
func notServed(ctx context.Context, apt *aptenv.Env, name, ver string, err error) error {
	vs, verr := apt.SourceVersions(ctx, name)
	if verr != nil {
		return fmt.Errorf("%w (and the deb-src indexes have no source package %s at all)", err, name)
	}
	if slices.Contains(vs, ver) {
		return err // served, so something else went wrong: apt's own words
	}
	return fmt.Errorf("version %s of source package %s is not served by the mirror's deb-src indexes (%s); they serve %s: pin one of those, or use source.dsc with a URL and sha256",
		ver, name, apt.SourcesFile(), strings.Join(vs, ", "))
}

// fetchDSC downloads a .dsc and the files it lists from the same
// directory, checking the .dsc against the manifest's sha256 and each file
// against the .dsc's Checksums-Sha256.
func (f *Fetcher) fetchDSC(ctx context.Context, d *manifests.DSCSource) (*Fetched, error) {
	want := strings.ToLower(d.SHA256)
	if !isSHA256(want) {
		return nil, fmt.Errorf("sha256 %q is not 64 hex digits", d.SHA256)
	}
	u, err := url.Parse(d.URL)
	if err != nil {
		return nil, err
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("want an http or https URL")
	}
	base := path.Base(u.Path)
	if !strings.HasSuffix(base, ".dsc") || base == ".dsc" {
		return nil, fmt.Errorf("URL does not name a .dsc file")
	}
	root, err := f.sourcesDir()
	if err != nil {
		return nil, err
	}
	// Debian names the .dsc name_version.dsc, which is also the cache key.
	guess := strings.TrimSuffix(base, ".dsc")
	if !strings.ContainsAny(guess, "/") && !strings.HasPrefix(guess, ".") {
		if fe, ok := reuse(filepath.Join(root, guess), base, want, KindDSC); ok {
			return fe, nil
		}
	}

	tmp, err := os.MkdirTemp(root, ".tmp-dsc-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)

	client := f.HTTP
	if client == nil {
		client = http.DefaultClient
	}
	dscPath := filepath.Join(tmp, base)
	_, got, err := download(ctx, client, u.String(), dscPath, maxDSCSize)
	if err != nil {
		return nil, err
	}
	if got != want {
		return nil, fmt.Errorf("%s: sha256 is %s, want %s (from the manifest)", base, got, want)
	}
	dsc, err := parseDSC(dscPath)
	if err != nil {
		return nil, err
	}
	key, err := cacheKey(dsc.Source, dsc.Version.String())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", base, err)
	}
	for _, fh := range dsc.ChecksumsSha256 {
		ref := &url.URL{Path: fh.Filename}
		fu := u.ResolveReference(ref)
		n, sum, err := download(ctx, client, fu.String(), filepath.Join(tmp, fh.Filename), fh.Size)
		if err != nil {
			return nil, err
		}
		if err := checkFile(fh.Filename, n, sum, fh.FileHash); err != nil {
			return nil, err
		}
	}
	// Catch a file listed twice or a .dsc listing itself.
	if _, err := verifyDir(tmp, base, want); err != nil {
		return nil, err
	}
	return publish(tmp, filepath.Join(root, key), base, want, KindDSC)
}

func isSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// download writes url to dst, reading at most limit bytes (one more is
// read to notice a longer body), and returns the size and sha256 read.
func download(ctx context.Context, client *http.Client, rawURL, dst string, limit int64) (int64, string, error) {
	name := filepath.Base(dst)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return 0, "", fmt.Errorf("%s: %w", name, err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", fmt.Errorf("%s: %w", name, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, "", fmt.Errorf("%s: GET %s: %s", name, rawURL, resp.Status)
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return 0, "", fmt.Errorf("%s: %w", name, err)
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(out, h), io.LimitReader(resp.Body, limit+1))
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return n, "", fmt.Errorf("%s: GET %s: %w", name, rawURL, err)
	}
	return n, hex.EncodeToString(h.Sum(nil)), nil
}

func checkFile(name string, size int64, sum string, want control.FileHash) error {
	if size != want.Size {
		return fmt.Errorf("%s: size is %d, want %d (from the .dsc)", name, size, want.Size)
	}
	if sum != strings.ToLower(want.Hash) {
		return fmt.Errorf("%s: sha256 is %s, want %s (from the .dsc)", name, sum, strings.ToLower(want.Hash))
	}
	return nil
}

// parseDSC reads a .dsc (a signature, if any, is not checked: the .dsc
// itself is pinned by a sha256 from the manifest or apt's signed index)
// and checks its file list.
func parseDSC(p string) (*control.DSC, error) {
	data, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	name := filepath.Base(p)
	dsc, err := control.ParseDsc(bufio.NewReader(bytes.NewReader(data)), p)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if dsc.Source == "" {
		return nil, fmt.Errorf("%s: no Source field", name)
	}
	if dsc.Version.Version == "" {
		return nil, fmt.Errorf("%s: no Version field", name)
	}
	if len(dsc.ChecksumsSha256) == 0 {
		return nil, fmt.Errorf("%s: no Checksums-Sha256 field", name)
	}
	seen := map[string]bool{}
	for _, fh := range dsc.ChecksumsSha256 {
		fn := fh.Filename
		// The names become paths in the cache: plain file names only.
		if fn == "" || fn == "." || fn == ".." || strings.ContainsAny(fn, "/\\") || fn == name {
			return nil, fmt.Errorf("%s: Checksums-Sha256 lists bad file name %q", name, fn)
		}
		if seen[fn] {
			return nil, fmt.Errorf("%s: Checksums-Sha256 lists %s twice", name, fn)
		}
		seen[fn] = true
		if !isSHA256(strings.ToLower(fh.Hash)) || fh.Size < 0 {
			return nil, fmt.Errorf("%s: Checksums-Sha256 entry for %s is malformed", name, fn)
		}
	}
	return dsc, nil
}

// verifyDir checks a source directory: the .dsc (against wantDSC when
// set) and every file its Checksums-Sha256 lists.
func verifyDir(dir, dscName, wantDSC string) (*control.DSC, error) {
	dscPath := filepath.Join(dir, dscName)
	if wantDSC != "" {
		_, sum, err := hashFile(dscPath)
		if err != nil {
			return nil, err
		}
		if sum != wantDSC {
			return nil, fmt.Errorf("%s: sha256 is %s, want %s (from the manifest)", dscName, sum, wantDSC)
		}
	}
	dsc, err := parseDSC(dscPath)
	if err != nil {
		return nil, err
	}
	for _, fh := range dsc.ChecksumsSha256 {
		n, sum, err := hashFile(filepath.Join(dir, fh.Filename))
		if err != nil {
			return nil, err
		}
		if err := checkFile(fh.Filename, n, sum, fh.FileHash); err != nil {
			return nil, err
		}
	}
	return dsc, nil
}

func hashFile(p string) (int64, string, error) {
	f, err := os.Open(p)
	if err != nil {
		return 0, "", err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return 0, "", err
	}
	return n, hex.EncodeToString(h.Sum(nil)), nil
}

// reuse returns the cached source in dir if it verifies. A directory that
// does not verify is removed so that it is fetched again.
func reuse(dir, dscName, wantDSC, kind string) (*Fetched, bool) {
	if _, err := os.Stat(dir); err != nil {
		return nil, false
	}
	if _, err := verifyDir(dir, dscName, wantDSC); err != nil {
		discard(dir)
		return nil, false
	}
	return &Fetched{Kind: kind, Dir: dir, DSC: filepath.Join(dir, dscName)}, true
}

// discard removes dir, first renaming it aside so that it vanishes from
// the cache at once even if the removal is interrupted.
func discard(dir string) {
	aside := filepath.Join(filepath.Dir(dir), fmt.Sprintf(".tmp-discard-%s-%d", filepath.Base(dir), os.Getpid()))
	if err := os.Rename(dir, aside); err != nil {
		os.RemoveAll(dir)
		return
	}
	os.RemoveAll(aside)
}

// publish moves a verified tmp directory to final in one rename. If
// another fetch published the same source first, its copy is used when it
// verifies.
func publish(tmp, final, dscName, wantDSC, kind string) (*Fetched, error) {
	if err := os.Rename(tmp, final); err != nil {
		if fe, ok := reuse(final, dscName, wantDSC, kind); ok {
			return fe, nil
		}
		if err := os.Rename(tmp, final); err != nil {
			return nil, err
		}
	}
	return &Fetched{Kind: kind, Dir: final, DSC: filepath.Join(final, dscName)}, nil
}
