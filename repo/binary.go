package repo

import (
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"pault.ag/go/debian/control"
	"pault.ag/go/debian/version"

	"github.com/stx-build/stx-build/internal/debfile"
)

// binary is one .deb or .udeb as an index describes it.
type binary struct {
	Package      string
	Version      string
	Architecture string
	Source       string // source package name, without a version
	Udeb         bool
	// Control is the package's DEBIAN/control stanza as stored in the
	// .deb (fields in their original order, each line ending in "\n"),
	// without the fields the index adds.
	Control  string
	Filename string // relative to the repository root: pool/main/...
	Size     int64
	MD5sum   string
	SHA1     string
	SHA256   string
}

// key identifies the one slot a binary occupies in the repository.
type key struct {
	pkg, arch string
	udeb      bool
}

func (b binary) key() key { return key{b.Package, b.Architecture, b.Udeb} }

func (k key) String() string {
	if k.udeb {
		return k.pkg + ":" + k.arch + " (udeb)"
	}
	return k.pkg + ":" + k.arch
}

// indexFields are written by the index itself; copies in a .deb's control
// (there should be none) are dropped so a stanza never holds two.
var indexFields = map[string]bool{
	"filename": true, "size": true, "md5sum": true, "sha1": true, "sha256": true, "sha512": true,
}

var (
	pkgNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9+.-]+$`)
	archRE    = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)
	// A version without its epoch; it becomes part of a file name.
	fileVersionRE = regexp.MustCompile(`^[A-Za-z0-9.+~:-]+$`)
)

// controlReader returns the DEBIAN/control file of the .deb at path,
// byte for byte.
type controlReader func(ctx context.Context, path string) ([]byte, error)

// goControl reads a .deb's control file in Go (internal/debfile, the
// reader the artifact cache's checks use too).
func goControl(_ context.Context, path string) ([]byte, error) { return debfile.Control(path) }

// readBinary describes the .deb (or .udeb) at path: its control stanza and
// the checksums of its bytes. Filename is left empty.
func readBinary(ctx context.Context, read controlReader, path string) (binary, error) {
	b, err := readControlOf(ctx, read, path)
	if err != nil {
		return binary{}, err
	}
	f, err := os.Open(path)
	if err != nil {
		return binary{}, err
	}
	defer f.Close()
	sum := newSummer()
	if _, err := io.Copy(sum, f); err != nil {
		return binary{}, err
	}
	sum.fill(&b)
	return b, nil
}

// byContent indexes the pool cache's binaries by their bytes' SHA256 and
// size.
func byContent(cache map[string]poolFile) map[string]binary {
	out := make(map[string]binary, len(cache))
	for _, f := range cache {
		out[contentID(f.SHA256, f.Size)] = f.binary
	}
	return out
}

func contentID(sha256 string, size int64) string { return sha256 + " " + strconv.FormatInt(size, 10) }

// describe is readBinary, except that a file with the bytes of a binary in
// known takes that one's control stanza (same bytes, same control file)
// instead of running read. Filename is left empty.
func describe(ctx context.Context, read controlReader, path string, known map[string]binary) (binary, error) {
	f, err := os.Open(path)
	if err != nil {
		return binary{}, err
	}
	sum := newSummer()
	_, err = io.Copy(sum, f)
	f.Close()
	if err != nil {
		return binary{}, err
	}
	var got binary
	sum.fill(&got)
	if k, ok := known[contentID(got.SHA256, got.Size)]; ok && k.Udeb == strings.HasSuffix(path, ".udeb") &&
		k.MD5sum == got.MD5sum && k.SHA1 == got.SHA1 {
		k.Filename = ""
		return k, nil
	}
	b, err := readControlOf(ctx, read, path)
	if err != nil {
		return binary{}, err
	}
	b.Size, b.MD5sum, b.SHA1, b.SHA256 = got.Size, got.MD5sum, got.SHA1, got.SHA256
	return b, nil
}

// readControlOf is the binary at path as its control file describes it,
// without checksums.
func readControlOf(ctx context.Context, read controlReader, path string) (binary, error) {
	path, err := filepath.Abs(path) // never mistaken for an option
	if err != nil {
		return binary{}, err
	}
	raw, err := read(ctx, path)
	if err != nil {
		return binary{}, err
	}
	b, err := parseControl(raw)
	if err != nil {
		return binary{}, fmt.Errorf("DEBIAN/control: %w", err)
	}
	b.Udeb = b.Udeb || strings.HasSuffix(path, ".udeb")
	return b, nil
}

// parseControl reads the identifying fields of a binary control stanza and
// keeps the stanza's text, normalized only in line endings.
func parseControl(raw []byte) (binary, error) {
	text, err := normalizeControl(raw)
	if err != nil {
		return binary{}, err
	}
	pr, err := control.NewParagraphReader(strings.NewReader(text), nil)
	if err != nil {
		return binary{}, err
	}
	para, err := pr.Next()
	if err != nil {
		return binary{}, err
	}
	field := func(name string) string { return strings.TrimSpace(para.Values[name]) }
	b := binary{
		Package:      field("Package"),
		Version:      field("Version"),
		Architecture: field("Architecture"),
		Control:      text,
		Udeb:         field("Package-Type") == "udeb",
	}
	// "Source: name (version)" names a source whose version differs.
	b.Source, _, _ = strings.Cut(field("Source"), " ")
	if b.Source == "" {
		b.Source = b.Package
	}
	if !pkgNameRE.MatchString(b.Package) {
		return binary{}, fmt.Errorf("field Package: %q is not a package name", b.Package)
	}
	if !pkgNameRE.MatchString(b.Source) {
		return binary{}, fmt.Errorf("field Source: %q is not a package name", b.Source)
	}
	if !archRE.MatchString(b.Architecture) {
		return binary{}, fmt.Errorf("field Architecture: %q is not one architecture", b.Architecture)
	}
	v, err := version.Parse(b.Version)
	if err != nil {
		return binary{}, fmt.Errorf("field Version: %q: %w", b.Version, err)
	}
	if !fileVersionRE.MatchString(v.StringWithoutEpoch()) {
		return binary{}, fmt.Errorf("field Version: %q has characters that cannot be in a file name", b.Version)
	}
	return b, nil
}

// normalizeControl returns the single stanza in raw with "\n" line
// endings, comment lines and surrounding blank lines removed, and the
// fields the index writes itself dropped. Everything else is kept byte for
// byte, so the index shows the control file as the package carries it.
func normalizeControl(raw []byte) (string, error) {
	lines := strings.Split(strings.ReplaceAll(string(raw), "\r\n", "\n"), "\n")
	var out strings.Builder
	drop, seen, ended := false, false, false
	for i, line := range lines {
		switch {
		case strings.TrimSpace(line) == "":
			if seen {
				ended = true
			}
			continue
		case strings.HasPrefix(line, "#"):
			continue
		case ended:
			return "", fmt.Errorf("line %d: more than one stanza", i+1)
		case line[0] == ' ' || line[0] == '\t':
			if !seen {
				return "", fmt.Errorf("line %d: continuation line before any field", i+1)
			}
		default:
			name, _, ok := strings.Cut(line, ":")
			if !ok || strings.TrimSpace(name) == "" {
				return "", fmt.Errorf("line %d: %q is not a field", i+1, line)
			}
			seen = true
			drop = indexFields[strings.ToLower(strings.TrimSpace(name))]
		}
		if !drop {
			out.WriteString(line)
			out.WriteByte('\n')
		}
	}
	if !seen {
		return "", errors.New("no fields")
	}
	return out.String(), nil
}

// poolPath is where a binary lives in the pool, Debian style:
// pool/main/<prefix>/<source>/<package>_<version>_<arch>.deb, where prefix
// is the source's first letter, or "lib" and the next letter for lib*.
func poolPath(b binary) string {
	prefix := b.Source[:1]
	if strings.HasPrefix(b.Source, "lib") && len(b.Source) > 3 {
		prefix = b.Source[:4]
	}
	v, _ := version.Parse(b.Version) // validated by parseControl
	ext := ".deb"
	if b.Udeb {
		ext = ".udeb"
	}
	name := b.Package + "_" + v.StringWithoutEpoch() + "_" + b.Architecture + ext
	return path.Join("pool", "main", prefix, b.Source, name)
}

// summer computes the checksums the index lists, in one pass.
type summer struct {
	md5, sha1, sha256 hashWriter
	size              int64
}

type hashWriter interface {
	io.Writer
	Sum([]byte) []byte
}

func newSummer() *summer {
	return &summer{md5: md5.New(), sha1: sha1.New(), sha256: sha256.New()}
}

func (s *summer) Write(p []byte) (int, error) {
	s.md5.Write(p)
	s.sha1.Write(p)
	s.sha256.Write(p)
	s.size += int64(len(p))
	return len(p), nil
}

func (s *summer) fill(b *binary) {
	b.Size = s.size
	b.MD5sum = hex.EncodeToString(s.md5.Sum(nil))
	b.SHA1 = hex.EncodeToString(s.sha1.Sum(nil))
	b.SHA256 = hex.EncodeToString(s.sha256.Sum(nil))
}
