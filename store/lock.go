package store

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
)

// LockVersion is the format version stx.lock files carry in their first
// line ("stx-lock 2"). A reader refuses other versions. Version 1 named
// each package by its full URL (a mirror's host name in a committed
// file); version 2 names it by its path in the archive (pool/...), found
// on whichever mirror the host's apt sources name.
const LockVersion = 2

// LockFile is the lock's name beside stx.yaml.
const LockFile = "stx.lock"

// Lock pins every archive package a project installs: per suite and
// architecture, each package's version, size and sha256 and where it was
// fetched, and the digests of the archive's Release files the set was
// resolved against. Written sorted, one line per package, so that a
// change of the archive shows as a small diff.
type Lock struct {
	// Sets are sorted by suite, then architecture.
	Sets []*LockSet
}

// LockSet is what one suite and architecture's environments install.
type LockSet struct {
	Suite, Arch string
	// Releases are the InRelease/Release files the set was resolved
	// against (by their apt list file name), sorted by name.
	Releases []LockRelease
	// Packages are sorted by name, architecture, version.
	Packages []LockedPackage
}

// LockRelease is one archive Release file and its digest. Name is the
// suite it describes (bookworm, bookworm-security), not where it came
// from: ReleaseName.
type LockRelease struct {
	Name, SHA256 string
}

// ReleaseName is the lock's name of an apt list file of an InRelease or
// Release file ("<site>_<path>_dists_<suite>_InRelease"): its suite, with
// the mirror's host and path left out, so a lock does not depend on
// which mirror resolved it. "" when file is no such list file.
func ReleaseName(file string) string {
	base, ok := strings.CutSuffix(file, "_InRelease")
	if !ok {
		if base, ok = strings.CutSuffix(file, "_Release"); !ok {
			return ""
		}
	}
	i := strings.LastIndex(base, "_dists_")
	if i < 0 {
		return ""
	}
	return strings.ReplaceAll(base[i+len("_dists_"):], "_", "/")
}

// LockedPackage is one archive binary package.
type LockedPackage struct {
	Name, Version, Arch string
	Size                int64
	SHA256              string
	// Path is the file's path in the archive ("pool/main/h/hello/..."),
	// under any mirror of it (Store.Mirrors): ArchivePath.
	Path string
}

// Item is p as a store item named by apt's archive file name, fetched
// from the store's mirrors.
func (p LockedPackage) Item() Item {
	return Item{Name: DebFileName(p.Name, p.Version, p.Arch), Path: p.Path, SHA256: p.SHA256, Size: p.Size}
}

// ArchivePath is the path of a package's URL in its archive: from the
// pool/ directory of the Debian archive layout on
// ("http://host/debian/pool/main/h/hello/hello_2.10-3_amd64.deb" ->
// "pool/main/h/hello/hello_2.10-3_amd64.deb").
func ArchivePath(rawURL string) (string, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", err
	}
	i := strings.LastIndex(u.Path, "/pool/")
	if i < 0 || strings.Contains(u.Path[i:], "/../") {
		return "", fmt.Errorf("%s is not in an archive's pool/ directory", rawURL)
	}
	return u.Path[i+1:], nil
}

// DebFileName is apt's archive file name of a package:
// name_version_arch.deb with '_', ':' (and '%' and non-printable
// characters) %-quoted, as apt-get --print-uris prints it.
func DebFileName(name, version, arch string) string {
	return aptQuote(name, "_:") + "_" + aptQuote(version, "_:") + "_" + aptQuote(arch, "_:.") + ".deb"
}

// ParseDebFileName splits apt's archive file name name_version_arch.deb
// (DebFileName) back into its %-unquoted parts.
func ParseDebFileName(file string) (name, version, arch string, err error) {
	base, ok := strings.CutSuffix(file, ".deb")
	parts := strings.Split(base, "_")
	if !ok || len(parts) != 3 || strings.ContainsAny(file, "/\x00") {
		return "", "", "", fmt.Errorf("%q is not an apt archive file name (name_version_arch.deb)", file)
	}
	for i, p := range parts {
		if parts[i], err = url.PathUnescape(p); err != nil || parts[i] == "" {
			return "", "", "", fmt.Errorf("%q is not an apt archive file name (name_version_arch.deb)", file)
		}
	}
	return parts[0], parts[1], parts[2], nil
}

func aptQuote(s, bad string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if strings.IndexByte(bad, c) >= 0 || c == '%' || c <= 0x20 || c >= 0x7f {
			fmt.Fprintf(&b, "%%%02x", c)
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// Set returns the set of suite and arch, adding an empty one if there is
// none.
func (l *Lock) Set(suite, arch string) *LockSet {
	for _, s := range l.Sets {
		if s.Suite == suite && s.Arch == arch {
			return s
		}
	}
	s := &LockSet{Suite: suite, Arch: arch}
	l.Sets = append(l.Sets, s)
	l.sort()
	return s
}

// Find returns the set of suite and arch, or nil.
func (l *Lock) Find(suite, arch string) *LockSet {
	for _, s := range l.Sets {
		if s.Suite == suite && s.Arch == arch {
			return s
		}
	}
	return nil
}

// Add puts p into s, replacing the entry of the same name, architecture
// and version.
func (s *LockSet) Add(p LockedPackage) {
	i, found := slices.BinarySearchFunc(s.Packages, p, comparePackages)
	if found {
		s.Packages[i] = p
		return
	}
	s.Packages = slices.Insert(s.Packages, i, p)
}

// Versions returns the entries of package name (any architecture).
func (s *LockSet) Versions(name string) []LockedPackage {
	var out []LockedPackage
	for _, p := range s.Packages {
		if p.Name == name {
			out = append(out, p)
		}
	}
	return out
}

// Lookup returns the entry of name, version and arch ("" matches any).
func (s *LockSet) Lookup(name, version, arch string) (LockedPackage, bool) {
	for _, p := range s.Packages {
		if p.Name == name && p.Version == version && (arch == "" || p.Arch == arch) {
			return p, true
		}
	}
	return LockedPackage{}, false
}

func comparePackages(a, b LockedPackage) int {
	if c := strings.Compare(a.Name, b.Name); c != 0 {
		return c
	}
	if c := strings.Compare(a.Arch, b.Arch); c != 0 {
		return c
	}
	return strings.Compare(a.Version, b.Version)
}

func (l *Lock) sort() {
	slices.SortFunc(l.Sets, func(a, b *LockSet) int {
		if c := strings.Compare(a.Suite, b.Suite); c != 0 {
			return c
		}
		return strings.Compare(a.Arch, b.Arch)
	})
}

// Items are every package of the lock as store items, sorted and
// without duplicates (an arch:all package locked for two architectures
// is one file).
func (l *Lock) Items() []Item {
	var out []Item
	for _, s := range l.Sets {
		for _, p := range s.Packages {
			out = append(out, p.Item())
		}
	}
	SortItems(out)
	return slices.CompactFunc(out, func(a, b Item) bool { return a.Name == b.Name && a.SHA256 == b.SHA256 })
}

const lockHeader = `# stx.lock: the archive packages this project's builds install, pinned
# with their checksums. Written by stx-build lock; update with
# stx-build lock --update; fetch into the store with stx-build fetch.
# Package lines: name version architecture size sha256 path-in-archive.
`

// Marshal writes the lock in its text form: a version line, then per
// set a "[suite arch]" line, its release lines and one line per package
// ("name version arch size sha256 path"), everything sorted.
func (l *Lock) Marshal() []byte {
	l.sort()
	var b bytes.Buffer
	fmt.Fprintf(&b, "stx-lock %d\n%s", LockVersion, lockHeader)
	for _, s := range l.Sets {
		slices.SortFunc(s.Releases, func(a, b LockRelease) int { return strings.Compare(a.Name, b.Name) })
		slices.SortFunc(s.Packages, comparePackages)
		fmt.Fprintf(&b, "\n[%s %s]\n", s.Suite, s.Arch)
		for _, r := range s.Releases {
			fmt.Fprintf(&b, "release %s sha256:%s\n", r.Name, r.SHA256)
		}
		for _, p := range s.Packages {
			fmt.Fprintf(&b, "%s %s %s %d sha256:%s %s\n", p.Name, p.Version, p.Arch, p.Size, p.SHA256, p.Path)
		}
	}
	return b.Bytes()
}

// ParseLock reads a lock; file names it in errors, which carry the line
// (every problem is reported, one per line).
func ParseLock(file string, r io.Reader) (*Lock, error) {
	l := &Lock{}
	var errs []string
	bad := func(n int, format string, args ...any) {
		errs = append(errs, fmt.Sprintf("%s:%d: %s", file, n, fmt.Sprintf(format, args...)))
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var cur *LockSet
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if n == 1 {
			if line != fmt.Sprintf("stx-lock %d", LockVersion) {
				bad(n, "first line is %q, want \"stx-lock %d\" (a lock of another stx-build version? stx-build lock --update rewrites it)", line, LockVersion)
				break
			}
			continue
		}
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasPrefix(line, "[") {
			f := strings.Fields(strings.Trim(line, "[]"))
			if !strings.HasSuffix(line, "]") || len(f) != 2 {
				bad(n, "set header %q: want [suite arch]", line)
				continue
			}
			if l.Find(f[0], f[1]) != nil {
				bad(n, "set [%s %s] appears twice", f[0], f[1])
			}
			cur = l.Set(f[0], f[1])
			continue
		}
		if cur == nil {
			bad(n, "%q before any [suite arch] line", line)
			continue
		}
		f := strings.Fields(line)
		if f[0] == "release" {
			sum, ok := strings.CutPrefix(f[len(f)-1], "sha256:")
			if len(f) != 3 || !ok || checkSum(sum) != nil {
				bad(n, "release line %q: want release NAME sha256:HEX", line)
				continue
			}
			cur.Releases = append(cur.Releases, LockRelease{Name: f[1], SHA256: sum})
			continue
		}
		if len(f) != 6 {
			bad(n, "package line has %d fields, want name version arch size sha256:HEX path", len(f))
			continue
		}
		size, err := strconv.ParseInt(f[3], 10, 64)
		sum, ok := strings.CutPrefix(f[4], "sha256:")
		switch {
		case err != nil || size < 0:
			bad(n, "%s: size %q is not a byte count", f[0], f[3])
		case !ok || checkSum(sum) != nil:
			bad(n, "%s: %q is not sha256:<64 lower-case hex digits>", f[0], f[4])
		case !strings.HasPrefix(f[5], "pool/") || strings.Contains(f[5], "..") || strings.Contains(f[5], "://"):
			bad(n, "%s: %q is not a path in an archive's pool/ (a URL names a mirror: the lock must not)", f[0], f[5])
		default:
			p := LockedPackage{Name: f[0], Version: f[1], Arch: f[2], Size: size, SHA256: sum, Path: f[5]}
			if _, dup := cur.Lookup(p.Name, p.Version, p.Arch); dup {
				bad(n, "%s %s %s appears twice in [%s %s]", p.Name, p.Version, p.Arch, cur.Suite, cur.Arch)
			}
			cur.Add(p)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if n == 0 {
		errs = append(errs, fmt.Sprintf("%s: empty (want a first line \"stx-lock %d\")", file, LockVersion))
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%s", strings.Join(errs, "\n"))
	}
	return l, nil
}

// ReadLockFile reads the lock at path; nil, nil when there is none.
func ReadLockFile(path string) (*Lock, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return ParseLock(path, bytes.NewReader(data))
}
