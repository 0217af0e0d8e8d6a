// Package debfile reads the control file of a binary package (.deb,
// .udeb) in Go: an ar archive whose control.tar member is plain, gzip, xz
// or zstd compressed. The local repository indexes packages with it and
// the artifact cache checks what entries claim with it.
package debfile

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// maxControl bounds a .deb's control member and its control file: real
// ones are a few KiB (the md5sums of a big package a few hundred).
const maxControl = 16 << 20

// Control returns the DEBIAN/control file of the binary package at path,
// byte for byte, without following a symlink or opening anything but a
// regular file: 3–4 ms per package here, where a dpkg-deb process per
// file costs 10–100 ms.
func Control(path string) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil {
		return nil, err
	} else if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("not a regular file")
	}
	r := bufio.NewReader(f)
	magic := make([]byte, 8)
	if _, err := io.ReadFull(r, magic); err != nil || string(magic) != "!<arch>\n" {
		return nil, fmt.Errorf("not an ar archive")
	}
	for {
		name, size, err := arHeader(r)
		if err != nil {
			return nil, err
		}
		if !strings.HasPrefix(name, "control.tar") {
			if _, err := r.Discard(int(size + size%2)); err != nil {
				return nil, fmt.Errorf("member %s: %w", name, err)
			}
			continue
		}
		if size > maxControl {
			return nil, fmt.Errorf("member %s: %d bytes", name, size)
		}
		return controlFromTar(name, io.LimitReader(r, size))
	}
}

// arHeader reads one ar member header: name and size.
func arHeader(r io.Reader) (string, int64, error) {
	h := make([]byte, 60)
	if _, err := io.ReadFull(r, h); err != nil {
		if errors.Is(err, io.EOF) {
			return "", 0, fmt.Errorf("no control.tar member")
		}
		return "", 0, fmt.Errorf("ar header: %w", err)
	}
	if string(h[58:60]) != "`\n" {
		return "", 0, fmt.Errorf("bad ar header")
	}
	size, err := strconv.ParseInt(strings.TrimSpace(string(h[48:58])), 10, 64)
	if err != nil || size < 0 {
		return "", 0, fmt.Errorf("bad ar member size %q", h[48:58])
	}
	return strings.TrimSuffix(strings.TrimSpace(string(h[0:16])), "/"), size, nil
}

// controlFromTar finds ./control in a control.tar member.
func controlFromTar(name string, r io.Reader) ([]byte, error) {
	var dr io.Reader
	switch {
	case name == "control.tar":
		dr = r
	case name == "control.tar.gz":
		zr, err := gzip.NewReader(r)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		dr = zr
	case name == "control.tar.xz":
		xr, err := xz.NewReader(r)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		dr = xr
	case name == "control.tar.zst":
		zr, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		defer zr.Close()
		dr = zr
	default:
		return nil, fmt.Errorf("member %s: unknown compression", name)
	}
	tr := tar.NewReader(io.LimitReader(dr, maxControl))
	for {
		h, err := tr.Next()
		if err != nil {
			return nil, fmt.Errorf("%s: no control file: %w", name, err)
		}
		if strings.TrimPrefix(h.Name, "./") != "control" || h.Typeflag != tar.TypeReg {
			continue
		}
		var b bytes.Buffer
		if _, err := io.Copy(&b, io.LimitReader(tr, maxControl)); err != nil {
			return nil, fmt.Errorf("%s: control: %w", name, err)
		}
		return b.Bytes(), nil
	}
}
