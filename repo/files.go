package repo

import (
	"io"
	"os"
	"path/filepath"
)

// Every file the repository serves is world-readable whatever the umask:
// apt's fetchers run as _apt, and build sandboxes mount the tree read-only
// as other users.
const (
	fileMode = 0o644
	dirMode  = 0o755
)

// writeNew creates path (which must not exist) with data and flushes it to
// disk before returning.
func writeNew(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, fileMode)
	if err != nil {
		return err
	}
	return finish(f, func(w io.Writer) error { _, err := w.Write(data); return err })
}

// finish writes with fill, fixes the mode, syncs and closes f; on error it
// removes the file.
func finish(f *os.File, fill func(io.Writer) error) error {
	err := fill(f)
	if err == nil {
		err = f.Chmod(fileMode)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}

// mkdirs creates dir and its parents with dirMode regardless of the umask.
func mkdirs(dir string) error {
	if fi, err := os.Stat(dir); err == nil && fi.IsDir() {
		return nil
	}
	if err := mkdirs(filepath.Dir(dir)); err != nil {
		return err
	}
	if err := os.Mkdir(dir, dirMode); err != nil && !os.IsExist(err) {
		return err
	}
	return os.Chmod(dir, dirMode)
}
