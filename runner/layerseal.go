package runner

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"github.com/stx-build/stx-build/internal/regularfile"
)

// A layer's seal (LayerDir/<key>.seal, beside the layer, not visible in
// the sandboxes) records, when the layer is saved, every entry of its
// tree: path, kind and mode, owner, size, device number, modification and
// change times, inode, and the sha256 of each regular file. Before a
// kept layer is used, checkSeal compares the tree with it by lstat alone:
// nobody can set a file's change time back, so a file altered after the
// layer was saved (a modified dh in a build-dependency layer) differs, is
// re-hashed, and the layer is refused when the content changed. A cache
// copied elsewhere (new inodes and change times, same content) re-hashes
// once and is re-sealed. A layer without a seal (made before seals) is
// refused and made again.
const (
	sealSuffix = ".seal"
	sealHeader = "stx-build layer seal v1"
)

// sealEntry is one line of a seal.
type sealEntry struct {
	path         string
	mode         uint32 // st_mode
	uid, gid     uint32
	size         int64
	rdev         uint64
	mtime, ctime int64 // ns
	ino          uint64
	sha256       string // regular files; "-" otherwise
}

func (e sealEntry) String() string {
	return fmt.Sprintf("%o %d %d %d %d %d %d %d %s %s", e.mode, e.uid, e.gid, e.size, e.rdev, e.mtime, e.ctime, e.ino, e.sha256, strconv.Quote(e.path))
}

// statEntry describes path (relative name rel) by lstat, without content.
func statEntry(path, rel string) (sealEntry, error) {
	var st syscall.Stat_t
	if err := syscall.Lstat(path, &st); err != nil {
		return sealEntry{}, err
	}
	return sealEntry{
		path: rel, mode: st.Mode, uid: st.Uid, gid: st.Gid, size: st.Size, rdev: uint64(st.Rdev),
		mtime: st.Mtim.Nano(), ctime: st.Ctim.Nano(), ino: st.Ino, sha256: "-",
	}, nil
}

// sameStat compares everything but the content digest.
func sameStat(a, b sealEntry) bool {
	a.sha256, b.sha256 = "", ""
	return a == b
}

// sameContent compares what a copy keeps: kind, mode, owner, size,
// device, mtime and content.
func sameContent(a, b sealEntry) bool {
	return a.path == b.path && a.mode == b.mode && a.uid == b.uid && a.gid == b.gid &&
		a.size == b.size && a.rdev == b.rdev && a.mtime == b.mtime && a.sha256 == b.sha256
}

// walkLayer lists the tree at dir (without its root and the layer mark),
// sorted by path; with hash, regular files get their digests.
func walkLayer(dir string, hash bool) ([]sealEntry, error) {
	var out []sealEntry
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if rel == "." || rel == layerMark {
			return nil
		}
		e, err := statEntry(p, rel)
		if err != nil {
			return err
		}
		if hash && e.mode&syscall.S_IFMT == syscall.S_IFREG {
			if e.sha256, err = regularfile.SHA256(p); err != nil {
				return err
			}
		}
		out = append(out, e)
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].path < out[j].path })
	return out, err
}

// writeSeal seals the layer tree at dir into path.
func writeSeal(dir, path string) error {
	entries, err := walkLayer(dir, true)
	if err != nil {
		return fmt.Errorf("seal layer: %w", err)
	}
	return saveSeal(path, entries)
}

func saveSeal(path string, entries []sealEntry) error {
	var buf bytes.Buffer
	buf.WriteString(sealHeader + "\n")
	for _, e := range entries {
		buf.WriteString(e.String())
		buf.WriteByte('\n')
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, buf.Bytes(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func readSeal(path string) ([]sealEntry, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	if !sc.Scan() || sc.Text() != sealHeader {
		return nil, errors.New("not a layer seal")
	}
	var out []sealEntry
	for sc.Scan() {
		var e sealEntry
		var quoted string
		line := sc.Text()
		i := strings.IndexByte(line, '"')
		if i < 0 {
			return nil, fmt.Errorf("bad seal line %q", line)
		}
		if _, err := fmt.Sscanf(line[:i], "%o %d %d %d %d %d %d %d %s ", &e.mode, &e.uid, &e.gid, &e.size, &e.rdev, &e.mtime, &e.ctime, &e.ino, &e.sha256); err != nil {
			return nil, fmt.Errorf("bad seal line %q: %v", line, err)
		}
		quoted = line[i:]
		if e.path, err = strconv.Unquote(quoted); err != nil {
			return nil, fmt.Errorf("bad seal line %q: %v", line, err)
		}
		out = append(out, e)
	}
	return out, sc.Err()
}

// checkSeal verifies the layer at dir against its seal. An error says
// what differs; the caller discards the layer.
func checkSeal(dir, path string) error {
	want, err := readSeal(path)
	if err != nil {
		return fmt.Errorf("no usable seal: %w", err)
	}
	got, err := walkLayer(dir, false)
	if err != nil {
		return err
	}
	var changed []int // indexes of entries whose stat differs
	for i, j := 0, 0; i < len(want) || j < len(got); {
		switch {
		case j == len(got) || (i < len(want) && want[i].path < got[j].path):
			return fmt.Errorf("%s was removed", want[i].path)
		case i == len(want) || got[j].path < want[i].path:
			return fmt.Errorf("%s was added", got[j].path)
		}
		if !sameStat(want[i], got[j]) {
			changed = append(changed, i)
			got[j].sha256 = want[i].sha256 // filled below for regular files
			if got[j].mode&syscall.S_IFMT == syscall.S_IFREG {
				if got[j].sha256, err = regularfile.SHA256(filepath.Join(dir, got[j].path)); err != nil {
					return err
				}
			}
			if !sameContent(want[i], got[j]) {
				return fmt.Errorf("%s was changed after the layer was saved", want[i].path)
			}
		}
		i++
		j++
	}
	if len(changed) > 0 {
		// The same content with new inodes or change times (a copied
		// cache): seal what is there now, so the next check is cheap.
		for _, i := range changed {
			if want[i], err = statEntry(filepath.Join(dir, want[i].path), want[i].path); err != nil {
				return err
			}
			want[i].sha256 = got[i].sha256
		}
		if err := saveSeal(path, want); err != nil {
			return err
		}
	}
	return nil
}

// SealTree seals the tree at dir into the file path as a saved layer is
// sealed (what other caches of trees, such as builders/deb's unpacked
// sources, keep their entries honest with).
func SealTree(dir, path string) error { return writeSeal(dir, path) }

// CheckTreeSeal verifies the tree at dir against the seal SealTree wrote
// to path, by lstat (re-hashing only what changed, re-sealing a copy
// whose content is the same); an error says what differs.
func CheckTreeSeal(dir, path string) error { return checkSeal(dir, path) }
