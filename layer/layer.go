// Package layer writes deterministic OCI image layers (gzip-compressed
// tar archives) from directory trees: the same tree and epoch give the
// same bytes, whatever the order the files were made in. A layer holds a
// whole tree (WriteTree) or the changes from one tree to another, with
// whiteouts (WriteDiff).
package layer

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"syscall"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sys/unix"
)

// keptXattrs are the extended attributes carried into layers (as PAX
// SCHILY.xattr records). File capabilities matter at run time (ping,
// for example); others (security.selinux, trusted.*, user.*) describe
// the build machine rather than the image.
var keptXattrs = []string{"security.capability"}

// whiteoutPrefix marks a path removed by a layer (OCI image spec,
// "Whiteouts").
const whiteoutPrefix = ".wh."

// Change is one entry of a layer: a path in the root (relative, slash
// separated) or a whiteout for a path removed from the layers below.
type Change struct {
	Name     string
	Whiteout bool
}

// File is a layer written to disk as tar+gzip, with both digests
// computed while writing.
type File struct {
	Path string
	// Digest is the sha256 of the compressed file, DiffID that of the tar.
	Digest, DiffID v1.Hash
	// Size is the compressed size, TarSize the uncompressed one.
	Size, TarSize int64
	// Entries is the number of tar entries.
	Entries int
}

// Layer returns the file as a v1.Layer (OCI media type).
func (lf *File) Layer() (v1.Layer, error) {
	return partial.CompressedToLayer(&compressedFile{lf})
}

// compressedFile is the minimal core partial.CompressedToLayer needs; its
// DiffID method spares the extender from decompressing the file again.
type compressedFile struct{ lf *File }

func (c *compressedFile) Digest() (v1.Hash, error)            { return c.lf.Digest, nil }
func (c *compressedFile) DiffID() (v1.Hash, error)            { return c.lf.DiffID, nil }
func (c *compressedFile) Size() (int64, error)                { return c.lf.Size, nil }
func (c *compressedFile) MediaType() (types.MediaType, error) { return types.OCILayer, nil }
func (c *compressedFile) Compressed() (io.ReadCloser, error)  { return os.Open(c.lf.Path) }

// WriteTree writes every path under root (not root itself) as one layer
// to file, which must not exist.
func WriteTree(root, file string, epoch time.Time, opts ...Option) (*File, error) {
	names, err := listTree(root)
	if err != nil {
		return nil, err
	}
	changes := make([]Change, len(names))
	for i, n := range names {
		changes[i] = Change{Name: n}
	}
	return write(root, changes, file, epoch, newOptions(opts))
}

// listTree returns the relative paths under root, sorted.
func listTree(root string) ([]string, error) {
	var names []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
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
		names = append(names, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("layer: list %s: %w", root, err)
	}
	sort.Strings(names)
	return names, nil
}

// write writes changes (entries of root and whiteouts), in lexical
// order of their tar names, as a gzip-compressed tar to file:
//   - mtimes clamped to epoch (and whole seconds), no atime/ctime;
//   - numeric uid/gid and mode bits kept, user and group names empty;
//   - a file with several links is stored once, the later names as tar
//     hard links to the first (by device and inode);
//   - kept xattrs as PAX records; devices and FIFOs as such; sockets are
//     left out (they cannot be archived);
//   - gzip at the options' level and with an empty header (no name, no
//     mtime).
func write(root string, changes []Change, file string, epoch time.Time, o options) (_ *File, err error) {
	sort.Slice(changes, func(i, j int) bool { return changes[i].TarName() < changes[j].TarName() })
	f, err := os.OpenFile(file, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, fmt.Errorf("layer: %w", err)
	}
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = cerr
		}
		if err != nil {
			os.Remove(file)
		}
	}()
	compressedHash, tarHash := sha256.New(), sha256.New()
	compressed := &countWriter{w: io.MultiWriter(f, compressedHash)}
	gz, err := gzip.NewWriterLevel(compressed, o.gzipLevel)
	if err != nil {
		return nil, err
	}
	uncompressed := &countWriter{w: io.MultiWriter(gz, tarHash)}
	tw := tar.NewWriter(uncompressed)
	epoch = epoch.Truncate(time.Second)
	links := map[[2]uint64]string{}
	n := 0
	for _, c := range changes {
		wrote, err := writeEntry(tw, root, c, epoch, links)
		if err != nil {
			return nil, err
		}
		if wrote {
			n++
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := gz.Close(); err != nil {
		return nil, err
	}
	return &File{
		Path:    file,
		Digest:  v1.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%x", compressedHash.Sum(nil))},
		DiffID:  v1.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%x", tarHash.Sum(nil))},
		Size:    compressed.n,
		TarSize: uncompressed.n,
		Entries: n,
	}, nil
}

// TarName is the change's name in the archive (directories get a trailing
// slash only when written, so sorting uses the plain path).
func (c Change) TarName() string {
	if c.Whiteout {
		dir, base := path.Split(c.Name)
		return dir + whiteoutPrefix + base
	}
	return c.Name
}

// writeEntry writes one change to tw; false when it is left out (a
// socket).
func writeEntry(tw *tar.Writer, root string, c Change, epoch time.Time, links map[[2]uint64]string) (bool, error) {
	if c.Whiteout {
		hdr := &tar.Header{Name: c.TarName(), Typeflag: tar.TypeReg, Mode: 0o644, ModTime: epoch, Format: tar.FormatPAX}
		return true, tw.WriteHeader(hdr)
	}
	full := filepath.Join(root, filepath.FromSlash(c.Name))
	hdr, err := entryHeader(full, c.Name, epoch, links)
	if err != nil || hdr == nil {
		return false, err
	}
	var content *os.File
	if hdr.Typeflag == tar.TypeReg {
		if content, err = os.Open(full); err != nil {
			return false, fmt.Errorf("layer: %w", err)
		}
		defer content.Close()
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return false, fmt.Errorf("layer: %s: %w", c.Name, err)
	}
	if content != nil {
		n, err := io.Copy(tw, content)
		if err != nil {
			return false, fmt.Errorf("layer: %s: %w", c.Name, err)
		}
		if n != hdr.Size {
			return false, fmt.Errorf("layer: %s changed while being archived", c.Name)
		}
	}
	return true, nil
}

// entryHeader returns the tar header of the file full, stored as name;
// nil for a socket (it cannot be archived). A regular file already
// stored under another name (links, by device and inode) becomes a hard
// link to it.
func entryHeader(full, name string, epoch time.Time, links map[[2]uint64]string) (*tar.Header, error) {
	fi, err := os.Lstat(full)
	if err != nil {
		return nil, fmt.Errorf("layer: %w", err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nil, fmt.Errorf("layer: %s: no stat data", full)
	}
	mtime := fi.ModTime().Truncate(time.Second)
	if mtime.After(epoch) {
		mtime = epoch
	}
	hdr := &tar.Header{
		Name:    name,
		Mode:    tarMode(fi.Mode()),
		Uid:     int(st.Uid),
		Gid:     int(st.Gid),
		ModTime: mtime,
		// PAX throughout: one format whatever the entry needs, and
		// nanosecond-free times (ModTime is whole seconds).
		Format: tar.FormatPAX,
	}
	switch m := fi.Mode(); {
	case m.IsDir():
		hdr.Typeflag = tar.TypeDir
		hdr.Name += "/"
	case m.IsRegular():
		id := [2]uint64{uint64(st.Dev), uint64(st.Ino)}
		if first, seen := links[id]; seen && st.Nlink > 1 {
			hdr.Typeflag = tar.TypeLink
			hdr.Linkname = first
			return hdr, nil // the first name carries the xattrs
		}
		if st.Nlink > 1 {
			links[id] = name
		}
		hdr.Typeflag = tar.TypeReg
		hdr.Size = fi.Size()
	case m&fs.ModeSymlink != 0:
		hdr.Typeflag = tar.TypeSymlink
		if hdr.Linkname, err = os.Readlink(full); err != nil {
			return nil, fmt.Errorf("layer: %w", err)
		}
	case m&fs.ModeDevice != 0:
		hdr.Typeflag = tar.TypeBlock
		if m&fs.ModeCharDevice != 0 {
			hdr.Typeflag = tar.TypeChar
		}
		hdr.Devmajor = int64(unix.Major(uint64(st.Rdev)))
		hdr.Devminor = int64(unix.Minor(uint64(st.Rdev)))
	case m&fs.ModeNamedPipe != 0:
		hdr.Typeflag = tar.TypeFifo
	default: // sockets
		return nil, nil
	}
	x, err := readXattrs(full)
	if err != nil {
		return nil, err
	}
	for k, v := range x {
		if hdr.PAXRecords == nil {
			hdr.PAXRecords = map[string]string{}
		}
		hdr.PAXRecords["SCHILY.xattr."+k] = v
	}
	return hdr, nil
}

// tarMode is the permission bits plus setuid, setgid and sticky, as tar
// stores them.
func tarMode(m fs.FileMode) int64 {
	mode := int64(m.Perm())
	if m&fs.ModeSetuid != 0 {
		mode |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		mode |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		mode |= 0o1000
	}
	return mode
}

// readXattrs returns the kept extended attributes of p (not following a
// symlink).
func readXattrs(p string) (map[string]string, error) {
	var out map[string]string
	for _, name := range keptXattrs {
		buf := make([]byte, 256)
		for {
			n, err := unix.Lgetxattr(p, name, buf)
			if errors.Is(err, unix.ERANGE) {
				buf = make([]byte, len(buf)*4)
				continue
			}
			if errors.Is(err, unix.ENODATA) || errors.Is(err, unix.ENOTSUP) || errors.Is(err, unix.EOPNOTSUPP) {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("layer: xattr %s of %s: %w", name, p, err)
			}
			if out == nil {
				out = map[string]string{}
			}
			out[name] = string(buf[:n])
			break
		}
	}
	return out, nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// Diff returns the changes that turn the tree lower into the tree
// upper, as a layer on top of lower's layers: paths of upper that are new
// or differ (type, mode, owner, content, link target, device, kept
// xattrs; mtimes are ignored, as the two trees may have different
// epochs), the directories above them (so the layer carries their
// metadata), and whiteouts for paths of lower that upper lacks (only the
// topmost removed path of a removed subtree).
func Diff(lower, upper string) ([]Change, error) {
	lowerNames, err := listTree(lower)
	if err != nil {
		return nil, err
	}
	upperNames, err := listTree(upper)
	if err != nil {
		return nil, err
	}
	inLower := make(map[string]bool, len(lowerNames))
	for _, n := range lowerNames {
		inLower[n] = true
	}
	inUpper := make(map[string]bool, len(upperNames))
	for _, n := range upperNames {
		inUpper[n] = true
	}
	include := map[string]bool{}
	addParents := func(n string) {
		for d := path.Dir(n); d != "." && d != "/"; d = path.Dir(d) {
			include[d] = true
		}
	}
	for _, n := range upperNames {
		same := false
		if inLower[n] {
			if same, err = sameEntry(filepath.Join(lower, n), filepath.Join(upper, n)); err != nil {
				return nil, err
			}
		}
		if !same {
			include[n] = true
			addParents(n)
		}
	}
	var changes []Change
	for _, n := range lowerNames {
		if inUpper[n] {
			continue
		}
		if d := path.Dir(n); d != "." {
			if fi, err := os.Lstat(filepath.Join(upper, d)); err != nil || !fi.IsDir() {
				continue // under a removed (or replaced) directory
			}
		}
		changes = append(changes, Change{Name: n, Whiteout: true})
		addParents(n)
	}
	for n := range include {
		changes = append(changes, Change{Name: n})
	}
	sort.Slice(changes, func(i, j int) bool { return changes[i].TarName() < changes[j].TarName() })
	return changes, nil
}

// sameEntry compares two paths as a layer would carry them, without mtimes.
func sameEntry(a, b string) (bool, error) {
	fa, err := os.Lstat(a)
	if err != nil {
		return false, err
	}
	fb, err := os.Lstat(b)
	if err != nil {
		return false, err
	}
	sa, sb := fa.Sys().(*syscall.Stat_t), fb.Sys().(*syscall.Stat_t)
	if fa.Mode() != fb.Mode() || sa.Uid != sb.Uid || sa.Gid != sb.Gid {
		return false, nil
	}
	switch m := fa.Mode(); {
	case m.IsRegular():
		if fa.Size() != fb.Size() {
			return false, nil
		}
		if eq, err := sameContent(a, b); err != nil || !eq {
			return false, err
		}
	case m&fs.ModeSymlink != 0:
		la, err := os.Readlink(a)
		if err != nil {
			return false, err
		}
		lb, err := os.Readlink(b)
		if err != nil || la != lb {
			return false, err
		}
	case m&fs.ModeDevice != 0:
		if sa.Rdev != sb.Rdev {
			return false, nil
		}
	}
	xa, err := readXattrs(a)
	if err != nil {
		return false, err
	}
	xb, err := readXattrs(b)
	if err != nil {
		return false, err
	}
	if len(xa) != len(xb) {
		return false, nil
	}
	for k, v := range xa {
		if xb[k] != v {
			return false, nil
		}
	}
	return true, nil
}

func sameContent(a, b string) (bool, error) {
	fa, err := os.Open(a)
	if err != nil {
		return false, err
	}
	defer fa.Close()
	fb, err := os.Open(b)
	if err != nil {
		return false, err
	}
	defer fb.Close()
	ba, bb := make([]byte, 64<<10), make([]byte, 64<<10)
	for {
		na, ea := io.ReadFull(fa, ba)
		nb, eb := io.ReadFull(fb, bb)
		if na != nb || !bytes.Equal(ba[:na], bb[:nb]) {
			return false, nil
		}
		if ea == io.EOF || ea == io.ErrUnexpectedEOF {
			return eb == io.EOF || eb == io.ErrUnexpectedEOF, nil
		}
		if ea != nil {
			return false, ea
		}
		if eb != nil {
			return false, eb
		}
	}
}

// WriteDiff writes the changes from lower to upper (see Diff) as a layer
// to file, which must not exist; entries come from upper.
func WriteDiff(lower, upper, file string, epoch time.Time, opts ...Option) (*File, error) {
	changes, err := Diff(lower, upper)
	if err != nil {
		return nil, fmt.Errorf("layer: diff %s %s: %w", lower, upper, err)
	}
	return write(upper, changes, file, epoch, newOptions(opts))
}
