package repo

import (
	"bytes"
	"compress/gzip"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"

	"pault.ag/go/debian/version"
)

// Names of the archive the repository serves: `deb file:<dir> stx main`.
const (
	suite     = "stx"
	component = "main"
)

// distFile is one file of a dists tree, relative to dists/.
type distFile struct {
	path string
	data []byte
}

// indexDir is the directory (relative to dists/<suite>/) of the Packages
// index that lists debs (udeb false) or udebs (udeb true).
func indexDir(arch string, udeb bool) string {
	if udeb {
		return component + "/debian-installer/binary-" + arch
	}
	return component + "/binary-" + arch
}

// renderDists is the pure core of Publish: the complete dists tree for
// binaries, in a fixed order. The same binaries and options give the same
// bytes whatever order the binaries come in.
func renderDists(arch string, bins []binary, opts Options) []distFile {
	sorted := slices.Clone(bins)
	slices.SortFunc(sorted, compareBinaries)
	var debs, udebs []binary
	for _, b := range sorted {
		if b.Udeb {
			udebs = append(udebs, b)
		} else {
			debs = append(debs, b)
		}
	}
	var index []distFile // relative to dists/<suite>/, sorted by path
	for _, set := range []struct {
		udeb bool
		bins []binary
	}{{false, debs}, {true, udebs}} {
		dir := indexDir(arch, set.udeb)
		pkgs := renderPackages(set.bins)
		index = append(index,
			distFile{dir + "/Packages", pkgs},
			distFile{dir + "/Packages.gz", gzipBytes(pkgs)})
	}
	slices.SortFunc(index, func(a, b distFile) int { return strings.Compare(a.path, b.path) })

	files := []distFile{{suite + "/Release", renderRelease(arch, opts, index)}}
	for _, f := range index {
		files = append(files, distFile{suite + "/" + f.path, f.data})
	}
	return files
}

// compareBinaries orders index stanzas: by package, then version in dpkg
// order, then architecture (the file name makes the order total).
func compareBinaries(a, b binary) int {
	if c := strings.Compare(a.Package, b.Package); c != 0 {
		return c
	}
	if c := compareVersions(a.Version, b.Version); c != 0 {
		return c
	}
	if c := strings.Compare(a.Architecture, b.Architecture); c != 0 {
		return c
	}
	return strings.Compare(a.Filename, b.Filename)
}

// compareVersions compares in dpkg order; versions that do not parse
// (never the case for binaries read by parseControl) compare as strings.
func compareVersions(a, b string) int {
	va, errA := version.Parse(a)
	vb, errB := version.Parse(b)
	if errA != nil || errB != nil {
		return strings.Compare(a, b)
	}
	return version.Compare(va, vb)
}

// renderPackages writes a Packages index: each binary's control stanza
// followed by the fields apt uses to fetch and check it.
func renderPackages(bins []binary) []byte {
	var buf bytes.Buffer
	for _, b := range bins {
		buf.WriteString(b.Control)
		fmt.Fprintf(&buf, "Filename: %s\nSize: %d\nMD5sum: %s\nSHA1: %s\nSHA256: %s\n\n",
			b.Filename, b.Size, b.MD5sum, b.SHA1, b.SHA256)
	}
	return buf.Bytes()
}

// gzipBytes compresses reproducibly: no file name, no mtime, a fixed level.
func gzipBytes(data []byte) []byte {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression) // a valid level: no error
	zw.Write(data)                                           // writes to a bytes.Buffer do not fail
	zw.Close()
	return buf.Bytes()
}

// releaseDate is the format of Release's Date field (RFC 2822, in UTC).
const releaseDate = "Mon, 02 Jan 2006 15:04:05 UTC"

// renderRelease writes dists/<suite>/Release for the index files (paths
// relative to dists/<suite>/).
func renderRelease(arch string, opts Options, index []distFile) []byte {
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "Origin: %s\nLabel: %s\nSuite: %s\nCodename: %s\nDate: %s\nArchitectures: %s\nComponents: %s\n",
		opts.Origin, opts.Label, suite, opts.Codename, opts.Date.UTC().Format(releaseDate), arch, component)
	for _, h := range []struct {
		name string
		sum  func([]byte) string
	}{
		{"MD5Sum", func(b []byte) string { s := md5.Sum(b); return hex.EncodeToString(s[:]) }},
		{"SHA1", func(b []byte) string { s := sha1.Sum(b); return hex.EncodeToString(s[:]) }},
		{"SHA256", func(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }},
	} {
		buf.WriteString(h.name + ":\n")
		for _, f := range index {
			fmt.Fprintf(&buf, " %s %16d %s\n", h.sum(f.data), len(f.data), f.path)
		}
	}
	return buf.Bytes()
}

// skeletonDate dates the empty index Open writes for a new repository;
// every Publish dates its own.
var skeletonDate = time.Unix(0, 0).UTC()
