package workspace

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/stx-build/stx-build/cache/filehash"
	"github.com/stx-build/stx-build/manifests"
	"github.com/stx-build/stx-build/manifests/starlingx"
	"github.com/stx-build/stx-build/rootfs"
	"github.com/stx-build/stx-build/runner"
	"github.com/stx-build/stx-build/sources"
)

// A dl_hook is a script of the tree that makes a package's source tree.
// debrepack.py runs it as "./dl_hook <debname>-<upstream>" in the
// package's download directory, where the downloader put the package's
// declared downloads (dl_files by name, the dl_path tarball), with the
// build's environment ($MY_REPO, $MY_WORKSPACE, ...). stx-build treats it
// as hostile: it runs in the sandbox (runner), on the project's base root,
// without network, as the unprivileged build user, seeing only
//
//   - its download directory (writable): the verified downloads and the
//     script, at /stx/dl/<package>;
//   - its own package directory, read-only, at the path it has under
//     $MY_REPO (hooks read their files there: build-info's collect.sh);
//   - an empty $MY_WORKSPACE.
//
// Paths, user, host name, time zone, SOURCE_DATE_EPOCH and BUILD_DATE (the
// deb_folder changelog's date) are fixed, so the script sees the same world in every
// checkout. What it makes (<debname>-<upstream>/) is kept in the cache
// under a key over everything it can see: the script, the package
// directory's files, the downloads' checksums, the base root and the
// environment; the same key reuses it without running the script again.

// Where a hook's world sits inside its sandbox.
const (
	hookRootDir   = "/stx"           // MY_REPO_ROOT_DIR
	hookWorkspace = "/stx/workspace" // MY_WORKSPACE: empty
	hookDLDir     = "/stx/dl"        // the download directories
	hookKeyFormat = "stx-build dl_hook 1"
	// hookTimeout stops a hook that runs longer (kernel hooks unpack and
	// patch a kernel tree in minutes).
	hookTimeout = 30 * time.Minute
)

// hookRoot is the root filesystem hooks run on.
type hookRoot struct {
	// Key identifies the root's content (a base root's key).
	Key string
	// Layers are the root's read-only layers, top first; Mounts are added
	// to every hook sandbox (tests mount a tiny root's /usr).
	Layers []string
	Mounts []runner.Mount
}

// baseHookRoot is the project's base root for the build machine, made
// when it is not yet in the store.
func (w *Workspace) baseHookRoot(ctx context.Context) (hookRoot, error) {
	spec, err := w.BaseSpec()
	if err != nil {
		return hookRoot{}, err
	}
	b, err := w.BaseStore().Ensure(ctx, spec, false)
	if err != nil {
		return hookRoot{}, err
	}
	return hookRoot{Key: b.Key, Layers: []string{b.Dir}}, nil
}

// assembleDLHook makes the source tree of a dl_hook package: the hook's
// output (run, or taken from the cache), then, as debrepack.py
// run_dl_hook goes on, deb_folder over debian/ and deb_patches, then what
// every tree package gets (finishTree).
func (w *Workspace) assembleDLHook(ctx context.Context, f *sources.Fetcher, sp *starlingx.Package) (string, error) {
	made, err := w.runDLHook(ctx, f, sp)
	if err != nil {
		return "", err
	}
	base, tmp, err := w.stxWorkDir(sp)
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	src := filepath.Join(tmp, "src")
	// cp keeps the output's symlinks (checked to stay inside) and modes,
	// not its owner (the build user).
	cmd := exec.CommandContext(ctx, "cp", "-R", "--preserve=mode,links", made, src)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("dl_hook: copy its output: %v: %s", err, bytes.TrimSpace(out))
	}
	if err := w.overlayDebian(ctx, sp, src); err != nil {
		return "", err
	}
	return w.finishTree(ctx, sp, base, src)
}

// overlayDebian copies deb_folder over debian/ and applies deb_patches
// with patch -p1, as debrepack.py does for every source but src_path.
func (w *Workspace) overlayDebian(ctx context.Context, sp *starlingx.Package, src string) error {
	if sp.DebFolder != "" {
		if err := copyIn(w.stx.tree.Root, sp.DebFolder, filepath.Join(src, "debian"), 0); err != nil {
			return fmt.Errorf("deb_folder: %w", err)
		}
	}
	for _, p := range sp.DebPatches {
		if err := applyPatch(ctx, src, p); err != nil {
			return fmt.Errorf("deb_patches: %w", err)
		}
	}
	return nil
}

// hookRun is one dl_hook run, described before it runs: what its key
// covers is what it is given.
type hookRun struct {
	sp     *starlingx.Package
	script string // absolute path of the script in the tree
	srcdir string // <debname>-<upstream>: what the script must make
	// pkgMount is the package directory's path inside the sandbox.
	pkgMount string
	env      []string
	// downloads are the verified files put beside the script, by name.
	downloads map[string]string
	root      hookRoot
}

// runDLHook returns the directory the package's dl_hook made, from the
// cache or by running it.
func (w *Workspace) runDLHook(ctx context.Context, f *sources.Fetcher, sp *starlingx.Package) (string, error) {
	hr, err := w.describeHook(ctx, f, sp)
	if err != nil {
		return "", err
	}
	key, err := hr.key()
	if err != nil {
		return "", fmt.Errorf("dl_hook: %w", err)
	}
	dir := filepath.Join(w.opts.CacheDir, "starlingx", "dl_hook", key)
	out := filepath.Join(dir, "tree")
	if _, err := os.Stat(filepath.Join(dir, "done")); err == nil {
		fmt.Fprintf(w.opts.Log, "starlingx: %s: dl_hook output %s from the cache\n", sp.Name, key[:12])
		return out, nil
	}
	fmt.Fprintf(w.opts.Log, "starlingx: %s: running dl_hook %s in the sandbox (no network)\n", sp.Name, sp.Meta.DLHook)
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), ".tmp-"+sp.Name+"-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	log, err := hr.run(ctx, runner.NewLocal(), tmp)
	if err != nil {
		return "", fmt.Errorf("dl_hook %s: %w%s", sp.Meta.DLHook, err, tail(log))
	}
	made := filepath.Join(tmp, "dl", hr.srcdir)
	if fi, err := os.Lstat(made); err != nil || !fi.IsDir() {
		return "", fmt.Errorf("dl_hook %s made no directory %s (debrepack.py runs it as ./dl_hook %s and builds that directory)%s", sp.Meta.DLHook, hr.srcdir, hr.srcdir, tail(log))
	}
	if err := checkUnpacked(made); err != nil {
		return "", fmt.Errorf("dl_hook %s: its output: %w", sp.Meta.DLHook, err)
	}
	keep := filepath.Join(tmp, "keep")
	if err := os.Mkdir(keep, 0o755); err != nil {
		return "", err
	}
	if err := os.Rename(made, filepath.Join(keep, "tree")); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(keep, "log"), log, 0o644); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(keep, "done"), nil, 0o644); err != nil {
		return "", err
	}
	if err := os.Rename(keep, dir); err != nil {
		// Another run made the same output meanwhile: use that.
		if _, serr := os.Stat(filepath.Join(dir, "done")); serr != nil {
			return "", err
		}
	}
	return out, nil
}

// describeHook gathers what the hook of sp is given: the script, its
// downloads (fetched and verified), its environment and its root.
func (w *Workspace) describeHook(ctx context.Context, f *sources.Fetcher, sp *starlingx.Package) (*hookRun, error) {
	tr := w.stx.tree
	hr := &hookRun{sp: sp, script: filepath.Join(sp.MetaDir, sp.Meta.DLHook), downloads: map[string]string{}}
	fi, err := os.Lstat(hr.script)
	if err != nil {
		return nil, fmt.Errorf("dl_hook: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("dl_hook: %s is not a regular file", tr.RelPath(hr.script))
	}
	if fi.Mode()&0o111 == 0 {
		// debrepack.py refuses it too ("dl_hook can't execute").
		return nil, fmt.Errorf("dl_hook: %s is not executable", tr.RelPath(hr.script))
	}
	upstream, err := upstreamVersion(sp.Meta.DebVer)
	if err != nil {
		return nil, fmt.Errorf("debver: %w", err)
	}
	hr.srcdir = sp.Name + "-" + upstream
	myRepo := filepath.Join(hookRootDir, filepath.Base(tr.MyRepo))
	rel, err := filepath.Rel(tr.MyRepo, sp.Dir)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return nil, fmt.Errorf("dl_hook: the package directory %s is not under MY_REPO", sp.RelDir)
	}
	hr.pkgMount = filepath.Join(myRepo, rel)
	var downloads []starlingx.Download
	if sp.Meta.DLPath != nil {
		downloads = append(downloads, *sp.Meta.DLPath)
	}
	for _, d := range append(downloads, sp.Meta.DLFiles...) {
		if d.SHA256 == "" && d.MD5 == "" {
			return nil, fmt.Errorf("dl_files %s: no checksum to verify it by", d.Name)
		}
		if d.Name == "" || d.Name != filepath.Base(d.Name) || d.Name == "dl_hook" || d.Name == hr.srcdir {
			return nil, fmt.Errorf("dl_files: %q cannot be a file beside the script", d.Name)
		}
		p, err := w.fetchDownload(ctx, f, d)
		if err != nil {
			return nil, fmt.Errorf("dl_files %s: %w", d.Name, err)
		}
		hr.downloads[d.Name] = p
	}
	if sp.Meta.Archive != "" {
		// The downloader puts an archive's .dsc and its files beside the
		// script too: fetched as name=version through the project's
		// deb-src, verified by apt against the signed index.
		fe, err := f.Fetch(ctx, &manifests.Package{Name: sp.Name, Source: manifests.Source{Debian: sp.Name + "=" + sp.Meta.DebVer}})
		if err != nil {
			return nil, fmt.Errorf("archive %s=%s: %w", sp.Name, sp.Meta.DebVer, err)
		}
		if want := sp.Meta.DSCSHA256; want != "" {
			if err := checkSHA256(fe.DSC, want); err != nil {
				return nil, fmt.Errorf("dsc_sha256: %w", err)
			}
		}
		entries, err := os.ReadDir(fe.Dir)
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			if e.Type().IsRegular() && hr.downloads[e.Name()] == "" {
				hr.downloads[e.Name()] = filepath.Join(fe.Dir, e.Name())
			}
		}
	}
	hr.env = []string{
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"LC_ALL=C.UTF-8", "LANG=C.UTF-8", "TZ=UTC", "TERM=dumb",
		"HOME=/nonexistent", "USER=" + rootfs.BuildUser, "LOGNAME=" + rootfs.BuildUser,
		"MY_REPO_ROOT_DIR=" + hookRootDir, "MY_REPO=" + myRepo, "MY_WORKSPACE=" + hookWorkspace,
		"STX_DIST=.stx",
	}
	if sp.DebFolder != "" {
		if _, cl, err := readDebianDir(sp.DebFolder, kernelType(w.Project.StarlingX.BuildType)); err == nil {
			// BUILD_DATE is the build's date for StarlingX's scripts
			// (build-info's collect.sh stamps the current time without it).
			hr.env = append(hr.env, fmt.Sprintf("SOURCE_DATE_EPOCH=%d", cl.Date.Unix()),
				"BUILD_DATE="+cl.Date.UTC().Format("2006-01-02 15:04:05 -0700"))
		}
	}
	if hr.root, err = w.hookRoot(ctx); err != nil {
		return nil, fmt.Errorf("dl_hook: the sandbox's root: %w", err)
	}
	return hr, nil
}

// key is the digest of everything the hook is given.
func (hr *hookRun) key() (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "%s\nroot %s\nsrcdir %s\npkg %s\n", hookKeyFormat, hr.root.Key, hr.srcdir, hr.pkgMount)
	for _, e := range hr.env {
		fmt.Fprintf(h, "env %s\n", e)
	}
	script, err := os.ReadFile(hr.script)
	if err != nil {
		return "", err
	}
	fmt.Fprintf(h, "script %x\n", sha256.Sum256(script))
	entries, err := filehash.New("").Tree(hr.sp.Dir, filehash.SkipVCS)
	if err != nil {
		return "", fmt.Errorf("the package directory: %w", err)
	}
	fmt.Fprintf(h, "pkgdir %s\n", filehash.TreeDigest(entries))
	for _, d := range slices.Sorted(maps.Keys(hr.downloads)) {
		// Verified by its checksum when fetched: the file's own digest
		// says the same, whichever checksum the tree gives.
		sum, err := filehash.New("").File(hr.downloads[d])
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "download %s %s\n", d, sum)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// run runs the hook in the sandbox with tmp as its scratch space
// (tmp/dl is the download directory) and returns its output.
func (hr *hookRun) run(ctx context.Context, r runner.Runner, tmp string) ([]byte, error) {
	dl := filepath.Join(tmp, "dl")
	ws := filepath.Join(tmp, "workspace")
	for _, d := range []string{dl, ws} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return nil, err
		}
	}
	for _, name := range slices.Sorted(maps.Keys(hr.downloads)) {
		if err := copyFile(hr.downloads[name], filepath.Join(dl, name), 0o644); err != nil {
			return nil, err
		}
	}
	if err := copyFile(hr.script, filepath.Join(dl, "dl_hook"), 0o755); err != nil {
		return nil, err
	}
	for _, d := range []string{dl, ws} {
		if err := chownTree(d, rootfs.BuildUID, rootfs.BuildGID); err != nil {
			return nil, err
		}
	}
	var log bytes.Buffer
	target := filepath.Join(hookDLDir, hr.sp.Name)
	spec := &runner.Spec{
		Layers: hr.root.Layers,
		Upper:  filepath.Join(tmp, "upper"),
		Mounts: append(append([]runner.Mount(nil), hr.root.Mounts...),
			runner.Mount{Source: hr.sp.Dir, Target: hr.pkgMount, ReadOnly: true},
			runner.Mount{Source: ws, Target: hookWorkspace},
			runner.Mount{Source: dl, Target: target}),
		Args: []string{"./dl_hook", hr.srcdir},
		Env:  hr.env,
		Dir:  target,
		UID:  rootfs.BuildUID, GID: rootfs.BuildGID,
		Stdout: &log, Stderr: &log,
	}
	ctx, cancel := context.WithTimeout(ctx, hookTimeout)
	defer cancel()
	err := r.Run(ctx, spec)
	if errors.Is(err, context.DeadlineExceeded) {
		err = fmt.Errorf("stopped after %v", hookTimeout)
	}
	return log.Bytes(), err
}

// hookRoot is the root hooks run on: the project's base root (tests set
// another).
func (w *Workspace) hookRoot(ctx context.Context) (hookRoot, error) {
	if w.stx.hookRoot != nil {
		return w.stx.hookRoot(ctx)
	}
	return w.baseHookRoot(ctx)
}

// upstreamVersion is the upstream part of a Debian version: without
// epoch and Debian revision.
func upstreamVersion(v string) (string, error) {
	if _, rest, ok := strings.Cut(v, ":"); ok {
		v = rest
	}
	if i := strings.LastIndex(v, "-"); i >= 0 {
		v = v[:i]
	}
	if v == "" || strings.ContainsAny(v, "/ \t\n") {
		return "", fmt.Errorf("%q has no usable upstream version", v)
	}
	return v, nil
}

// chownTree gives dir and everything under it to uid:gid (not following
// symlinks).
func chownTree(dir string, uid, gid int) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, gid)
	})
}

// tail is the end of a hook's log, for an error message.
func tail(log []byte) string {
	const max = 2000
	log = bytes.TrimSpace(log)
	if len(log) == 0 {
		return ""
	}
	if len(log) > max {
		log = append([]byte("..."), log[len(log)-max:]...)
	}
	return "; its output:\n" + string(log)
}
