// Package rootfs makes the base root filesystem of the build environment
// with mmdebstrap and keeps it in the cache under a digest of its inputs.
// A base is read-only once made: builds stack their own layers on top of it
// with overlayfs.
package rootfs

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/stx-build/stx-build/internal/atomicfile"
	"github.com/stx-build/stx-build/internal/flock"
)

// BuildUID and BuildGID are the fixed ids of the unprivileged "builder"
// user that package builds run as.
const (
	BuildUID  = 1000
	BuildGID  = 1000
	BuildUser = "builder"
)

// Spec describes a base build root.
type Spec struct {
	// Suite is the Debian suite (bookworm).
	Suite string `json:"suite"`
	// Arch is the native architecture of the root (the build machine's).
	Arch string `json:"arch"`
	// ForeignArchs are extra dpkg architectures (arm64 for cross builds).
	ForeignArchs []string `json:"foreign_archs,omitempty"`
	// Include are packages added to the buildd variant (fakeroot,
	// crossbuild-essential-arm64, ...).
	Include []string `json:"include,omitempty"`
	// Mirror is a mirror URL, or sources.list lines, one per line (a
	// locked archive's repositories); empty means the host's apt sources,
	// whose content then is part of the key (HostSources).
	Mirror string `json:"mirror,omitempty"`
	// Components with Mirror (default main).
	Components []string `json:"components,omitempty"`
	// Epoch is the SOURCE_DATE_EPOCH for mmdebstrap (file dates in the root).
	Epoch int64 `json:"epoch"`
	// HostSources is the content of the apt sources the root is made from
	// when Mirror is empty (it decides what the root contains).
	HostSources string `json:"host_sources,omitempty"`
	// Locked identifies the locked packages the root is made from
	// (workspace.LockedArchive.Digest) and Sources are the sources.list
	// lines of their repositories, used instead of Mirror and the host's
	// sources. Sources are not part of the key (they name where this
	// cache keeps the repositories and its key); Locked is. Without a
	// lock, Sources are the host's mirrors with a release other than the
	// host's (aptenv.ReleaseSources): a function of HostSources and Suite,
	// which are in the key.
	Locked  string   `json:"locked,omitempty"`
	Sources []string `json:"-"`
}

// recipeVersion changes whenever the mmdebstrap command line below changes
// in a way that changes the result, so old bases are not reused.
const recipeVersion = "1"

// Key is the digest of the spec, the recipe and the mmdebstrap version.
func (s Spec) Key(mmdebstrapVersion string) string {
	c := s
	c.ForeignArchs = sortedCopy(s.ForeignArchs)
	c.Include = sortedCopy(s.Include)
	b, _ := json.Marshal(struct {
		Spec       Spec   `json:"spec"`
		Recipe     string `json:"recipe"`
		Mmdebstrap string `json:"mmdebstrap"`
	}{c, recipeVersion, mmdebstrapVersion})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func sortedCopy(xs []string) []string {
	out := slices.Clone(xs)
	slices.Sort(out)
	return slices.Compact(out)
}

// Store keeps bases under Dir/<key>/root.
type Store struct {
	Dir string
	// Log receives mmdebstrap's output; nil discards it.
	Log io.Writer
	// Waiting, if set, is called when another process is making the same
	// base, before Ensure waits for it (for a progress line).
	Waiting func(key string)
}

// Base is a made base root.
type Base struct {
	Key  string
	Dir  string // the root directory (read-only lower layer)
	Spec Spec
}

// MmdebstrapVersion returns the installed mmdebstrap's version.
func MmdebstrapVersion(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "mmdebstrap", "--version").Output()
	if err != nil {
		return "", fmt.Errorf("mmdebstrap --version: %w (install the mmdebstrap package)", err)
	}
	return strings.TrimSpace(string(out)), nil
}

// versionMemo is the file in a store that remembers MmdebstrapVersion for
// one mmdebstrap executable (path, inode, size, times): mmdebstrap is a
// Perl program that takes half a second or more to say its version, which
// every build, even one that rebuilds nothing, needs for the base's key.
// Installing another mmdebstrap replaces the file, and so the memo.
const versionMemo = ".mmdebstrap-version"

// mmdebstrapVersion is MmdebstrapVersion, remembered in the store.
func (st *Store) mmdebstrapVersion(ctx context.Context) (string, error) {
	id, err := executableID("mmdebstrap")
	if err != nil {
		return MmdebstrapVersion(ctx)
	}
	memo := filepath.Join(st.Dir, versionMemo)
	if data, err := os.ReadFile(memo); err == nil {
		if got, ver, ok := strings.Cut(strings.TrimSpace(string(data)), "\n"); ok && got == id && ver != "" {
			return ver, nil
		}
	}
	ver, err := MmdebstrapVersion(ctx)
	if err != nil {
		return "", err
	}
	if os.MkdirAll(st.Dir, 0o755) == nil {
		_ = atomicfile.Write(memo, []byte(id+"\n"+ver+"\n"), 0o644) // best effort
	}
	return ver, nil
}

// executableID identifies the file name runs from PATH: its path, and the
// inode, size and times of what the path resolves to.
func executableID(name string) (string, error) {
	p, err := exec.LookPath(name)
	if err != nil {
		return "", err
	}
	if p, err = filepath.EvalSymlinks(p); err != nil {
		return "", err
	}
	fi, err := os.Stat(p)
	if err != nil {
		return "", err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return "", fmt.Errorf("%s: no inode", p)
	}
	return fmt.Sprintf("%s %d:%d %d %d %d", p, st.Dev, st.Ino, fi.Size(), st.Mtim.Nano(), st.Ctim.Nano()), nil
}

// Ensure returns the base for spec, making it when it is not in the store
// or when refresh is set. A base is made in a temporary directory and
// renamed into place, so an interrupted run leaves no half-made base.
func (st *Store) Ensure(ctx context.Context, spec Spec, refresh bool) (*Base, error) {
	b, err := st.Find(ctx, spec)
	if err == nil && !refresh {
		return b, nil
	}
	if b == nil {
		return nil, err
	}
	key, final := b.Key, filepath.Dir(b.Dir)
	if err := os.MkdirAll(st.Dir, 0o755); err != nil {
		return nil, err
	}
	// One process makes a base; another that needs it meanwhile waits and
	// then uses it.
	unlock, err := flock.LockPathWait(ctx, final+".lock", flock.Exclusive, func() {
		if st.Waiting != nil {
			st.Waiting(key)
		}
	})
	if err != nil {
		return nil, fmt.Errorf("rootfs: base %s: %w", key[:12], err)
	}
	defer unlock()
	if made, err := st.Find(ctx, spec); err == nil && !refresh {
		return made, nil
	}
	tmp, err := os.MkdirTemp(st.Dir, ".tmp-"+key[:12]+"-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	if err := st.make(ctx, spec, filepath.Join(tmp, "root")); err != nil {
		return nil, err
	}
	specJSON, _ := json.MarshalIndent(spec, "", "  ")
	if err := os.WriteFile(filepath.Join(tmp, "spec.json"), append(specJSON, '\n'), 0o644); err != nil {
		return nil, err
	}
	if refresh {
		old := final + ".old"
		_ = os.RemoveAll(old)
		if err := os.Rename(final, old); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
		defer os.RemoveAll(old)
	}
	if err := os.Rename(tmp, final); err != nil {
		// Another run on this cache made the same base meanwhile: use it.
		if _, serr := os.Stat(filepath.Join(final, "spec.json")); serr == nil && !refresh {
			return b, nil
		}
		return nil, fmt.Errorf("rootfs: store base %s: %w", key[:12], err)
	}
	return b, nil
}

// ErrNotMade says a base is not in the store.
var ErrNotMade = errors.New("base root not made yet")

// Find returns the stored base for spec, or, with ErrNotMade, the Base it
// would be (key and directory) when it is not made yet.
func (st *Store) Find(ctx context.Context, spec Spec) (*Base, error) {
	ver, err := st.mmdebstrapVersion(ctx)
	if err != nil {
		return nil, err
	}
	key := spec.Key(ver)
	final := filepath.Join(st.Dir, key)
	b := &Base{Key: key, Dir: filepath.Join(final, "root"), Spec: spec}
	if _, err := os.Stat(filepath.Join(final, "spec.json")); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return b, fmt.Errorf("rootfs: %s: %w", key[:12], ErrNotMade)
		}
		return nil, err
	}
	return b, nil
}

// Args returns the mmdebstrap command line for spec and target.
func Args(spec Spec, target string) []string {
	args := []string{
		"--variant=buildd",
		"--mode=root",
		"--format=directory",
		// dpkg's fsyncs are most of the cost of a base on disk; the base is
		// renamed into place only when complete, so they buy nothing.
		"--dpkgopt=force-unsafe-io",
		// Keep the archive indexes so build-dep installs need no full update.
		"--skip=cleanup/apt/lists",
		`--aptopt=APT::Install-Recommends "false"`,
		// Snapshot-style mirrors serve old Release files.
		`--aptopt=Acquire::Check-Valid-Until "false"`,
		"--architectures=" + strings.Join(append([]string{spec.Arch}, sortedCopy(spec.ForeignArchs)...), ","),
		"--customize-hook=" + fmt.Sprintf(`chroot "$1" useradd --uid %d --user-group --create-home --shell /bin/sh %s`, BuildUID, BuildUser),
		`--customize-hook=mkdir -p "$1/build" "$1/stx"`,
	}
	if inc := sortedCopy(spec.Include); len(inc) > 0 {
		args = append(args, "--include="+strings.Join(inc, ","))
	}
	if len(spec.Components) > 0 {
		args = append(args, "--components="+strings.Join(spec.Components, ","))
	}
	args = append(args, spec.Suite, target)
	if len(spec.Sources) > 0 {
		return append(args, spec.Sources...)
	}
	return append(args, mirrorArgs(spec.Mirror)...)
}

func (st *Store) make(ctx context.Context, spec Spec, target string) error {
	cmd, cleanup, err := mmdebstrapCommand(ctx, spec.Arch, spec.Epoch, Args(spec, target))
	if err != nil {
		return err
	}
	defer cleanup()
	var tail tailWriter
	out := io.Writer(&tail)
	if st.Log != nil {
		out = io.MultiWriter(st.Log, &tail)
	}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("rootfs: mmdebstrap %s %s: %w\n%s", spec.Suite, spec.Arch, err, tail.String())
	}
	return nil
}

// tailWriter keeps the last 4 KiB written to it.
type tailWriter struct{ buf bytes.Buffer }

func (t *tailWriter) Write(p []byte) (int, error) {
	t.buf.Write(p)
	if t.buf.Len() > 8192 {
		b := t.buf.Bytes()[t.buf.Len()-4096:]
		t.buf.Reset()
		t.buf.Write(b)
	}
	return len(p), nil
}

func (t *tailWriter) String() string {
	b := t.buf.Bytes()
	if len(b) > 4096 {
		b = b[len(b)-4096:]
	}
	return string(b)
}

// HostSources returns the concatenated content of the host's apt source
// files, the input that decides a base made without a mirror.
func HostSources(root string) (string, error) {
	var files []string
	for _, pat := range []string{"etc/apt/sources.list", "etc/apt/sources.list.d/*.list", "etc/apt/sources.list.d/*.sources"} {
		m, err := filepath.Glob(filepath.Join(root, pat))
		if err != nil {
			return "", err
		}
		files = append(files, m...)
	}
	slices.Sort(files)
	var b strings.Builder
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "# %s\n%s\n", strings.TrimPrefix(f, root), data)
	}
	return b.String(), nil
}

// mirrorArgs are mmdebstrap's mirror arguments for a Spec's or an
// AssembleSpec's Mirror: a URL, or one argument per sources.list line.
func mirrorArgs(mirror string) []string {
	var out []string
	for _, l := range strings.Split(mirror, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}
