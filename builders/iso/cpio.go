package iso

import (
	"fmt"
	"io"
	"io/fs"
	"sort"
	"strings"
)

// cpioEntry is one member of an initramfs archive.
type cpioEntry struct {
	// Name is the path without a leading slash.
	Name string
	// Mode holds the file type and permission bits (fs.FileMode).
	Mode fs.FileMode
	// Data is a regular file's content or a symlink's target.
	Data []byte
	// Major and Minor are a device node's numbers.
	Major, Minor uint32
}

// writeCpio writes entries as a "newc" cpio archive (what the kernel
// unpacks as an initramfs), sorted by name, with every owner root, every
// mtime mtime and inode numbers counted from 1: the bytes depend on the
// entries alone.
func writeCpio(w io.Writer, entries []cpioEntry, mtime int64) error {
	sorted := append([]cpioEntry(nil), entries...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	cw := &countWriter{w: w}
	for i, e := range sorted {
		if e.Name == "" || strings.HasPrefix(e.Name, "/") {
			return fmt.Errorf("cpio: bad name %q", e.Name)
		}
		if i > 0 && sorted[i-1].Name == e.Name {
			return fmt.Errorf("cpio: %s added twice", e.Name)
		}
		mode, err := cpioMode(e.Mode)
		if err != nil {
			return fmt.Errorf("cpio: %s: %w", e.Name, err)
		}
		nlink := 1
		if e.Mode.IsDir() {
			nlink = 2
		}
		if err := writeCpioHeader(cw, uint32(i+1), mode, uint32(nlink), mtime, e); err != nil {
			return err
		}
	}
	trailer := cpioEntry{Name: "TRAILER!!!"}
	if err := writeCpioHeader(cw, 0, 0, 1, 0, trailer); err != nil {
		return err
	}
	// The kernel reads the archive in 512-byte blocks, as cpio writes it.
	return pad(cw, 512)
}

func cpioMode(m fs.FileMode) (uint32, error) {
	perm := uint32(m.Perm())
	if m&fs.ModeSetuid != 0 {
		perm |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		perm |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		perm |= 0o1000
	}
	switch {
	case m.IsRegular():
		return 0o100000 | perm, nil
	case m.IsDir():
		return 0o040000 | perm, nil
	case m&fs.ModeSymlink != 0:
		return 0o120000 | perm, nil
	case m&fs.ModeCharDevice != 0:
		return 0o020000 | perm, nil
	case m&fs.ModeDevice != 0:
		return 0o060000 | perm, nil
	}
	return 0, fmt.Errorf("unsupported file type %v", m.Type())
}

func writeCpioHeader(w *countWriter, ino, mode, nlink uint32, mtime int64, e cpioEntry) error {
	data := e.Data
	if e.Mode.IsDir() || e.Mode&fs.ModeDevice != 0 {
		data = nil
	}
	hdr := fmt.Sprintf("070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		ino, mode, 0, 0, nlink, uint32(mtime), len(data), 0, 0, e.Major, e.Minor, len(e.Name)+1, 0)
	if _, err := io.WriteString(w, hdr+e.Name+"\x00"); err != nil {
		return err
	}
	if err := pad(w, 4); err != nil {
		return err
	}
	if _, err := w.Write(data); err != nil {
		return err
	}
	return pad(w, 4)
}

func pad(w *countWriter, to int64) error {
	if r := w.n % to; r != 0 {
		_, err := w.Write(make([]byte, to-r))
		return err
	}
	return nil
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
