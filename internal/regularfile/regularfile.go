// Package regularfile reads files that must be regular files of a bounded
// size, refusing the rest before reading: a FIFO would block the reader for
// good, a device such as /dev/zero would fill its memory, a directory or a
// socket is not what was asked for.
package regularfile

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// Refusal is a file that Read will not read. Its message says what the file
// is, never what it holds.
type Refusal struct{ Msg string }

func (r *Refusal) Error() string { return r.Msg }

// Read reads path, following symlinks, if it is a regular file of at most
// limit bytes; otherwise it returns a *Refusal (or the I/O error).
func Read(path string, limit int64) ([]byte, error) {
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return nil, err
	}
	fi, err := os.Lstat(real)
	if err != nil {
		return nil, err
	}
	return ReadFile(real, fi, limit)
}

// ReadFile reads path, which must not be a symlink and whose os.Lstat is
// fi. It refuses what is not a regular file before opening it (opening a
// device or a FIFO can block or have effects), opens it without following a
// symlink and without blocking, checks that what it opened is the file fi
// describes, and reads at most limit bytes.
func ReadFile(path string, fi fs.FileInfo, limit int64) ([]byte, error) {
	if err := Check(fi, limit); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	opened, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !os.SameFile(fi, opened) {
		return nil, &Refusal{"changed while it was being read"}
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, tooLarge(limit)
	}
	return data, nil
}

// Check refuses what is not a regular file of at most limit bytes.
func Check(fi fs.FileInfo, limit int64) error {
	if !fi.Mode().IsRegular() {
		return &Refusal{"is " + Kind(fi.Mode()) + ", not a regular file"}
	}
	if fi.Size() > limit {
		return tooLarge(limit)
	}
	return nil
}

func tooLarge(limit int64) error {
	return &Refusal{fmt.Sprintf("is too large (the limit is %d bytes)", limit)}
}

// Kind names the kind of file m describes: "a regular file", "a
// directory", "a named pipe (FIFO)" and so on.
func Kind(m fs.FileMode) string {
	switch {
	case m.IsRegular():
		return "a regular file"
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	case m&fs.ModeSymlink != 0:
		return "a symbolic link"
	}
	return "a special file"
}

// OpenIn opens name, an entry of the directory dir, if it is a regular
// file of at most limit bytes; otherwise it returns a *Refusal. It never
// follows a symlink (not even in name: a name with a slash is refused) and
// never opens what is not a regular file: it looks at the entry first, then
// opens it relative to dir with O_NOFOLLOW and O_NONBLOCK and checks that
// what it opened is still that regular file, so an entry swapped meanwhile
// (for a FIFO, a device, a symlink to a host file) is refused, not read. The
// caller reads at most limit bytes from the returned file (its size was
// checked; a file that grows is the caller's to bound).
func OpenIn(dir *os.File, name string, limit int64) (*os.File, fs.FileInfo, error) {
	if name == "" || name == "." || name == ".." || strings.ContainsRune(name, '/') {
		return nil, nil, &Refusal{fmt.Sprintf("%q is not a plain file name", name)}
	}
	var st unix.Stat_t
	if err := unix.Fstatat(int(dir.Fd()), name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return nil, nil, &fs.PathError{Op: "stat", Path: name, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil, nil, &Refusal{"is " + kindOf(st.Mode) + ", not a regular file"}
	}
	if st.Size > limit {
		return nil, nil, tooLarge(limit)
	}
	fd, err := unix.Openat(int(dir.Fd()), name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC|unix.O_NOCTTY, 0)
	if err != nil {
		if err == unix.ELOOP {
			return nil, nil, &Refusal{"became a symbolic link while it was being opened"}
		}
		return nil, nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	f := os.NewFile(uintptr(fd), filepath.Join(dir.Name(), name))
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	var opened unix.Stat_t
	if err := unix.Fstat(fd, &opened); err != nil {
		f.Close()
		return nil, nil, err
	}
	if opened.Dev != st.Dev || opened.Ino != st.Ino || !fi.Mode().IsRegular() {
		f.Close()
		return nil, nil, &Refusal{"changed while it was being opened"}
	}
	if fi.Size() > limit {
		f.Close()
		return nil, nil, tooLarge(limit)
	}
	return f, fi, nil
}

// kindOf is Kind for a raw stat mode.
func kindOf(mode uint32) string {
	switch mode & unix.S_IFMT {
	case unix.S_IFREG:
		return "a regular file"
	case unix.S_IFDIR:
		return "a directory"
	case unix.S_IFIFO:
		return "a named pipe (FIFO)"
	case unix.S_IFSOCK:
		return "a socket"
	case unix.S_IFCHR:
		return "a character device"
	case unix.S_IFBLK:
		return "a block device"
	case unix.S_IFLNK:
		return "a symbolic link"
	}
	return "a special file"
}

// Copy copies src, following symlinks, to dst with mode perm whatever
// the umask, if src is a regular file: it is opened without blocking and
// what was opened is checked before a byte is read, so a FIFO or a
// device is refused (a *Refusal), never read. The copy is written under
// a temporary name in dst's directory and renamed over dst, so it never
// writes into a file dst already was (a hard link into a repository or
// the store stays intact). Nothing is synced: dst is a scratch copy (a
// build's inputs, an assembled source tree); files others read are
// replaced with atomicfile.
func Copy(src, dst string, perm fs.FileMode) (err error) {
	in, err := os.OpenFile(src, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return err
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return &Refusal{fmt.Sprintf("%s is %s, not a regular file", src, Kind(fi.Mode()))}
	}
	out, err := os.CreateTemp(filepath.Dir(dst), ".tmp-"+filepath.Base(dst)+"-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			out.Close()
			os.Remove(out.Name())
		}
	}()
	if _, err := io.Copy(out, in); err != nil {
		return fmt.Errorf("copy %s to %s: %w", src, dst, err)
	}
	if err := out.Chmod(perm); err != nil {
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	return os.Rename(out.Name(), dst)
}

// SHA256 is the hex sha256 of the regular file at path, opened without
// following a symlink and without blocking; anything else is a *Refusal,
// never read.
func SHA256(path string) (string, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return "", err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", err
	}
	if !fi.Mode().IsRegular() {
		return "", &Refusal{path + " is " + Kind(fi.Mode()) + ", not a regular file"}
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
