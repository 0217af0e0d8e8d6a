package deb

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/stx-build/stx-build/deb822"
	"github.com/stx-build/stx-build/internal/atomicfile"
	"github.com/stx-build/stx-build/internal/regularfile"
	"github.com/stx-build/stx-build/runner"
)

// A .dsc source's unpacked, patched tree is cached
// (CACHE/source-trees/<key>/tree, sealed in <key>/seal as a layer is),
// so a build whose source did not change copies the tree into its slot
// instead of running dpkg-source and patch in a sandbox. The key names
// everything the tree is made of:
//
//   - the .dsc's sha256 and the files it lists (Checksums-Sha256: the
//     fetcher checked the files beside it against them, and does again
//     each time it hands the source out);
//   - each patch's sha256, in order;
//   - the tree's directory name in /build;
//   - the base root's key (its dpkg-source and patch unpack it);
//   - the unpack script (dpkg-source's options, the patch commands);
//   - sourceTreeVersion.
//
// A local tree is not cached: it is copied into the slot (with
// normalized metadata) either way.

// sourceTreeVersion is part of every source tree key.
const sourceTreeVersion = "stx-build source tree v1"

// NoSourceCacheEnv, when set to anything, turns the source tree cache off
// for every Builder: every .dsc is unpacked and patched anew.
const NoSourceCacheEnv = "STX_NO_SOURCE_CACHE"

// maxDSC bounds the .dsc read for the key.
const maxDSC = 16 << 20

// sourceInputs are the inputs of an unpacked tree, see above.
type sourceInputs struct {
	Base    string
	DSC     string   // sha256 of the .dsc
	Files   []string // Checksums-Sha256 lines of the .dsc, as listed
	Patches []string // sha256 of each patch, in order
	Dir     string
	Script  string
}

// key is the digest of in.
func (in *sourceInputs) key() string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\nbase %s\ndsc %s\n", sourceTreeVersion, in.Base, in.DSC)
	for _, f := range in.Files {
		fmt.Fprintf(h, "file %s\n", f)
	}
	for _, p := range in.Patches {
		fmt.Fprintf(h, "patch %s\n", p)
	}
	fmt.Fprintf(h, "dir %q\nscript %d\n%s\n", in.Dir, len(in.Script), in.Script)
	return hex.EncodeToString(h.Sum(nil))
}

// cacheSources says whether b caches unpacked source trees.
func (b *Builder) cacheSources() bool {
	return !b.NoSourceCache && os.Getenv(NoSourceCacheEnv) == "" && b.LayerDir != ""
}

// sourceTreeDir holds the cached trees: "source-trees" beside LayerDir
// in the cache.
func (b *Builder) sourceTreeDir() string {
	return filepath.Join(filepath.Dir(b.LayerDir), "source-trees")
}

// sourceInputs gathers the inputs of the tree unpacked from dsc by
// script into /build/<dir>, patched with patches (the copies in the
// slot, in order).
func (b *Builder) sourceInputs(dsc string, patches []string, dir, script string) (*sourceInputs, error) {
	data, err := regularfile.Read(dsc, maxDSC)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Base(dsc), err)
	}
	paras, err := deb822.Parse(dsc, data)
	if err != nil {
		return nil, err
	}
	if len(paras) == 0 {
		return nil, fmt.Errorf("%s: empty", filepath.Base(dsc))
	}
	in := &sourceInputs{Base: b.Base.Key, DSC: digest(data), Dir: dir, Script: script}
	for _, l := range strings.Split(paras[0].Value("Checksums-Sha256"), "\n") {
		if l = strings.Join(strings.Fields(l), " "); l != "" {
			in.Files = append(in.Files, l)
		}
	}
	if len(in.Files) == 0 {
		return nil, fmt.Errorf("%s: no Checksums-Sha256", filepath.Base(dsc))
	}
	for _, p := range patches {
		sum, err := regularfile.SHA256(p)
		if err != nil {
			return nil, err
		}
		in.Patches = append(in.Patches, sum)
	}
	return in, nil
}

// unpackDSC puts the tree of a .dsc source at dst (slot/build/<dir>): a
// copy of the cached tree under in's key, else script run now (then the
// tree is cached). It says whether the tree came from the cache.
func (b *Builder) unpackDSC(ctx context.Context, dst string, in *sourceInputs, run func() error, log io.Writer) (bool, error) {
	if in == nil {
		return false, run()
	}
	key := in.key()
	entry := filepath.Join(b.sourceTreeDir(), key)
	if err := restoreTree(ctx, entry, dst); err == nil {
		fmt.Fprintf(log, "stx-build: source tree %s: cached\n", short(key))
		return true, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		fmt.Fprintf(log, "stx-build: source tree %s not used: %v\n", short(key), err)
		if err := os.RemoveAll(dst); err != nil {
			return false, err
		}
	}
	if err := run(); err != nil {
		return false, err
	}
	if err := saveTree(ctx, dst, b.sourceTreeDir(), key); err != nil {
		fmt.Fprintf(log, "stx-build: source tree %s not cached: %v\n", short(key), err)
	}
	return false, nil
}

// restoreTree copies the cached tree of entry to dst after checking it
// against its seal; an entry that fails the check is removed. An error
// wrapping os.ErrNotExist says there is no entry.
func restoreTree(ctx context.Context, entry, dst string) error {
	if _, err := os.Lstat(entry); err != nil {
		return err
	}
	if err := runner.CheckTreeSeal(filepath.Join(entry, "tree"), filepath.Join(entry, "seal")); err != nil {
		if derr := discardTree(entry); derr != nil {
			return fmt.Errorf("%w (and removing it: %v)", err, derr)
		}
		return fmt.Errorf("%w; removed", err)
	}
	// cp -a keeps modes, owners, times and symlinks; a reflink where the
	// file systems allow it. The copy is the build's: it writes into its
	// tree, never into the cache.
	if out, err := exec.CommandContext(ctx, "cp", "-a", "--reflink=auto", "--", filepath.Join(entry, "tree"), dst).CombinedOutput(); err != nil {
		return fmt.Errorf("cp: %v: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}

// saveTree caches the tree at src under key in dir: copied into a
// temporary directory and sealed there, then renamed into place, so an
// entry that exists is complete and its seal is its own. A concurrent
// build that saved the same key first wins.
func saveTree(ctx context.Context, src, dir, key string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(dir, ".tmp-"+short(key)+"-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if out, err := exec.CommandContext(ctx, "cp", "-a", "--", src, filepath.Join(tmp, "tree")).CombinedOutput(); err != nil {
		return fmt.Errorf("cp: %v: %s", err, strings.TrimSpace(string(out)))
	}
	if err := runner.SealTree(filepath.Join(tmp, "tree"), filepath.Join(tmp, "seal")); err != nil {
		return err
	}
	final := filepath.Join(dir, key)
	if err := os.Rename(tmp, final); err != nil {
		if _, serr := os.Lstat(final); serr == nil {
			return nil // saved by a concurrent build
		}
		return err
	}
	return atomicfile.SyncDir(dir)
}

// discardTree removes a cache entry: moved aside first, so no
// half-removed tree is ever used.
func discardTree(entry string) error {
	trash, err := os.MkdirTemp(filepath.Dir(entry), ".trash-")
	if err != nil {
		return err
	}
	if err := os.Rename(entry, filepath.Join(trash, "entry")); err != nil && !errors.Is(err, os.ErrNotExist) {
		os.Remove(trash)
		return err
	}
	return os.RemoveAll(trash)
}
