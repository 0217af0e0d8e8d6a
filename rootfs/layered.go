package rootfs

import (
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
	"strconv"
	"strings"

	"github.com/stx-build/stx-build/deb822"
	"github.com/stx-build/stx-build/dpkgstatus"
	"github.com/stx-build/stx-build/internal/flock"
)

// Layered assembly. A root made by Assemble is the archive's packages
// (the variant, the archive packages asked for, the archive dependencies
// of the project's packages) plus the project's own packages. The first
// part rarely changes; the second changes with every edit of a project
// package. With AssembleSpec.Cache set, Assemble keeps the archive part
// as a finished mmdebstrap root keyed by its full input (the mmdebstrap
// command line, the content of the host's sources and of the extra local
// repositories, SOURCE_DATE_EPOCH, the mmdebstrap version) and installs
// the project's packages on top of a copy of it, the way mmdebstrap's own
// install phase would (apt from outside, dpkg in the chroot, the same
// environment), so the finished root is the one a single mmdebstrap run
// makes (TestAssembleReproducible checks it bit for bit).
//
// When that cannot hold, Assemble makes the root in one run as before:
// the archive part would contain a package the project builds (apt would
// take the project's at priority 1001 from the start), customize hooks are
// set, or the archive part cannot be made alone (a dependency apt cannot
// install by name). When the archive changed since the cached root was
// made (its package indexes differ after apt-get update), the entry is
// remade; when they differ again right after (a mirror mid-update), the
// root is made in one run.

// ArchiveRootsDir is the usual directory of cached archive roots in a
// cache directory (AssembleSpec.Cache), shared by images and ISOs.
const ArchiveRootsDir = "archive-roots"

// layeredRecipe changes when the way a cached archive root is made does.
const layeredRecipe = "1"

// essentialStatus is the dpkg status after mmdebstrap's essential phase,
// kept beside a cached root: packages installed there are never marked as
// automatically installed by apt.
const essentialStatus = "essential-status"

// errStale says a cached archive root was made from other archive indexes
// than the ones apt fetches now.
var errStale = errors.New("archive changed since the cached root was made")

// repoPackage is a package of one of the project's repositories.
type repoPackage struct {
	name    string
	depends string // Pre-Depends and Depends, comma-joined
}

// assembleLayered makes spec's root from a cached archive root and the
// project's packages; done is false when the layered way does not apply
// (the caller then makes the root in one run).
func assembleLayered(ctx context.Context, spec AssembleSpec, target string, log io.Writer) (done bool, err error) {
	if len(spec.ProjectRepos) == 0 || len(spec.CustomizeHooks) > 0 {
		return false, nil
	}
	project, err := readRepoPackages(spec.ProjectRepos, spec.Arch)
	if err != nil {
		return false, err
	}
	archive, extra, top := splitPackages(spec.Packages, project)
	if len(top) == 0 {
		return false, nil
	}
	base := spec
	base.Packages = sortedCopy(append(slices.Clone(archive), extra...))
	base.ProjectRepos, base.Cache, base.CustomizeHooks = nil, "", nil
	for attempt := 0; ; attempt++ {
		entry, err := ensureArchiveRoot(ctx, base, spec.Cache, attempt > 0, log)
		if err != nil {
			if ctx.Err() != nil {
				return false, err
			}
			// A dependency named as apt cannot install it alone (a virtual
			// package with several providers): one run resolves it.
			fmt.Fprintf(orDiscard(log), "rootfs: archive root: %v: one mmdebstrap run\n", err)
			return false, nil
		}
		essential, installed, err := entryPackages(entry)
		if err != nil {
			return false, err
		}
		for name := range installed {
			if _, ok := project[name]; ok {
				fmt.Fprintf(orDiscard(log), "rootfs: the archive root holds %s, which the project builds: one mmdebstrap run\n", name)
				return false, nil
			}
		}
		var auto []string
		for _, p := range extra {
			if installed[p] && !essential[p] && !slices.Contains(spec.Packages, p) {
				auto = append(auto, p)
			}
		}
		// Only the packages asked for are named, as in one run: apt marks
		// the project's packages they pull in as automatically installed.
		named := slices.DeleteFunc(slices.Clone(top), func(p string) bool { return !slices.Contains(spec.Packages, p) })
		err = installOnTop(ctx, spec, filepath.Join(entry, "root"), target, named, auto, log)
		if errors.Is(err, errStale) {
			if attempt == 0 {
				fmt.Fprintf(orDiscard(log), "rootfs: %v: remaking it\n", err)
				continue
			}
			// The indexes changed again while the entry was remade: the
			// archive is being updated (a mirror mid-sync serves old and
			// new indexes by turns). One run reads them once.
			fmt.Fprintf(orDiscard(log), "rootfs: %v again: the archive is being updated, one mmdebstrap run\n", err)
			return false, nil
		}
		if err != nil {
			os.RemoveAll(target)
			return false, err
		}
		if err := finish(spec, target); err != nil {
			return false, err
		}
		if spec.ArchiveRoot != nil {
			if err := spec.ArchiveRoot(filepath.Base(entry), filepath.Join(entry, "root")); err != nil {
				return false, fmt.Errorf("rootfs: %w", err)
			}
		}
		return true, nil
	}
}

func orDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}

// readRepoPackages reads the Packages indexes of repos (repo.Repo's
// layout, dists/stx/main/binary-<arch>/Packages).
func readRepoPackages(repos []string, arch string) (map[string]repoPackage, error) {
	out := map[string]repoPackage{}
	for _, dir := range repos {
		file := filepath.Join(dir, "dists", "stx", "main", "binary-"+arch, "Packages")
		data, err := os.ReadFile(file)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("rootfs: %w", err)
		}
		paras, err := deb822.Parse(file, data)
		if err != nil {
			return nil, fmt.Errorf("rootfs: %w", err)
		}
		for _, p := range paras {
			deps := strings.Trim(p.Value("Pre-Depends")+", "+p.Value("Depends"), ", ")
			out[p.Value("Package")] = repoPackage{name: p.Value("Package"), depends: deps}
		}
	}
	return out, nil
}

// splitPackages divides the packages asked for into those of the archive
// and the project's (top, with the project packages they depend on), and
// lists the archive packages the project's depend on (extra): for each
// dependency the first alternative, as apt would choose it on an empty
// system.
func splitPackages(want []string, project map[string]repoPackage) (archive, extra, top []string) {
	seen := map[string]bool{}
	var visit func(name string)
	visit = func(name string) {
		if seen[name] {
			return
		}
		seen[name] = true
		p, ok := project[name]
		if !ok {
			extra = append(extra, name)
			return
		}
		top = append(top, name)
		for _, rel := range strings.Split(p.depends, ",") {
			alt, _, _ := strings.Cut(rel, "|")
			if name := dependencyName(alt); name != "" {
				visit(name)
			}
		}
	}
	for _, w := range sortedCopy(want) {
		if _, ok := project[w]; ok {
			visit(w)
		} else {
			archive = append(archive, w)
		}
	}
	slices.Sort(top)
	extra = slices.DeleteFunc(sortedCopy(extra), func(s string) bool { return slices.Contains(archive, s) })
	return archive, extra, top
}

// dependencyName is the package name of one dependency ("libc6 (>= 2.34)",
// "perl:any").
func dependencyName(dep string) string {
	dep = strings.TrimSpace(dep)
	if i := strings.IndexAny(dep, " ([<"); i >= 0 {
		dep = dep[:i]
	}
	dep, _, _ = strings.Cut(dep, ":")
	return dep
}

// entryPackages reads a cached root's dpkg status: the packages of the
// essential phase and every installed one.
func entryPackages(entry string) (essential, installed map[string]bool, err error) {
	if essential, err = statusPackages(filepath.Join(entry, essentialStatus)); err != nil {
		return nil, nil, err
	}
	installed, err = statusPackages(filepath.Join(entry, "root", dpkgstatus.Path))
	return essential, installed, err
}

func statusPackages(file string) (map[string]bool, error) {
	pkgs, err := dpkgstatus.Read(file)
	if err != nil {
		return nil, fmt.Errorf("rootfs: %w", err)
	}
	out := map[string]bool{}
	for _, p := range pkgs {
		out[p.Name] = true
	}
	return out, nil
}

// archiveKey is the digest of everything that makes a cached archive
// root: mmdebstrap's arguments (the target path left out), the content of
// the source files and local repositories they name, SOURCE_DATE_EPOCH
// and the mmdebstrap version.
func archiveKey(ctx context.Context, spec AssembleSpec) (string, error) {
	named := spec
	named.LocalRepos = nil
	for i := range spec.LocalRepos {
		// Their place varies from run to run (a temporary directory);
		// their content is hashed below.
		named.LocalRepos = append(named.LocalRepos, fmt.Sprintf("/stx-local-repo/%d", i))
	}
	args, err := AssembleArgs(named, "/stx-target")
	if err != nil {
		return "", err
	}
	ver, err := MmdebstrapVersion(ctx)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	enc := json.NewEncoder(h)
	enc.Encode(struct {
		Recipe, Mmdebstrap string
		Args               []string
		Epoch              int64
	}{layeredRecipe, ver, args, spec.Epoch})
	var files []string
	if spec.Mirror == "" {
		if files, err = hostSourceFiles(spec.HostRoot); err != nil {
			return "", err
		}
	}
	for _, r := range spec.LocalRepos {
		files = append(files, filepath.Join(r, "dists", "stx", "main", "binary-"+spec.Arch, "Packages"))
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return "", err
		}
		fmt.Fprintf(h, "%d\n", len(data))
		h.Write(data)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// ensureArchiveRoot returns the cache entry (a directory holding root/ and
// essentialStatus) of the archive root spec describes, making it when it
// is missing or when remake is set. Concurrent runs wait on
// <cache>/<key>.lock for the one making it; a made entry never changes.
func ensureArchiveRoot(ctx context.Context, spec AssembleSpec, cache string, remake bool, log io.Writer) (string, error) {
	key, err := archiveKey(ctx, spec)
	if err != nil {
		return "", err
	}
	entry := filepath.Join(cache, key)
	done := func() bool {
		_, err := os.Stat(filepath.Join(entry, essentialStatus))
		return err == nil
	}
	if !remake && done() {
		return entry, nil
	}
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return "", err
	}
	unlock, err := flock.LockPathWait(ctx, entry+".lock", flock.Exclusive, func() {
		fmt.Fprintf(orDiscard(log), "rootfs: waiting for another run making archive root %s\n", key[:12])
	})
	if err != nil {
		return "", fmt.Errorf("rootfs: archive root %s: %w", key[:12], err)
	}
	defer unlock()
	if !remake && done() {
		return entry, nil
	}
	tmp, err := os.MkdirTemp(cache, ".tmp-"+key[:12]+"-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	extra := []string{
		// apt-get update on top then only checks the InRelease files.
		"--skip=cleanup/apt/lists",
		`--essential-hook=cp "$1/var/lib/dpkg/status" ` + shellQuote(filepath.Join(tmp, essentialStatus)),
	}
	if err := runMmdebstrap(ctx, spec, filepath.Join(tmp, "root"), extra, log); err != nil {
		return "", err
	}
	if err := os.RemoveAll(entry); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, entry); err != nil {
		return "", fmt.Errorf("rootfs: store archive root %s: %w", key[:12], err)
	}
	return entry, nil
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// installOnTop copies the cached root to target and installs pkgs (the
// project's, with apt from the project's repositories) as mmdebstrap's
// install phase would, then marks auto as automatically installed (in a
// single mmdebstrap run apt pulled them in) and cleans up as mmdebstrap
// does.
func installOnTop(ctx context.Context, spec AssembleSpec, cached, target string, pkgs, auto []string, log io.Writer) error {
	if err := copyCached(ctx, cached, target); err != nil {
		return err
	}
	// The copy: lines of the cached root name repositories of the run
	// that made it; writeAptConfig adds this run's.
	if err := dropBuildSources(target); err != nil {
		return err
	}
	conf, err := writeAptConfig(spec, target)
	if err != nil {
		return err
	}
	defer os.Remove(conf)
	before, err := releaseDigest(target)
	if err != nil {
		return err
	}
	script := installScript
	cmd := exec.CommandContext(ctx, "unshare", "--mount", "--propagation", "private", "sh", "-euc", script, "stx-install", target)
	cmd.Args = append(cmd.Args, pkgs...)
	cmd.Env = append(os.Environ(),
		"APT_CONFIG="+conf, "TMPDIR="+filepath.Join(target, "tmp"),
		"SOURCE_DATE_EPOCH="+strconv.FormatInt(spec.Epoch, 10),
		"DEBIAN_FRONTEND=noninteractive", "DEBCONF_NONINTERACTIVE_SEEN=true",
		"LC_ALL=C.UTF-8", "LANGUAGE=C.UTF-8", "LANG=C.UTF-8",
		"STX_AUTO="+strings.Join(auto, " "),
	)
	var tail tailWriter
	out := io.Writer(&tail)
	if log != nil {
		out = io.MultiWriter(log, &tail)
	}
	cmd.Stdout, cmd.Stderr = out, out
	// The archive's indexes must be the ones the cached root was made
	// from: the script stops after apt-get update when STX_CHECK says so.
	check := filepath.Join(target, "tmp", ".stx-release-check")
	cmd.Env = append(cmd.Env, "STX_CHECK="+check, "STX_BEFORE="+before)
	if err := cmd.Run(); err != nil {
		if _, serr := os.Stat(check); serr == nil {
			os.RemoveAll(target)
			return errStale
		}
		return fmt.Errorf("rootfs: install %s on the cached root: %w\n%s", strings.Join(pkgs, " "), err, tail.String())
	}
	return nil
}

// copyCached copies a cached root to target (a reflink copy where the file
// system has them); on error nothing is left at target.
func copyCached(ctx context.Context, cached, target string) error {
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return err
	}
	if out, err := exec.CommandContext(ctx, "cp", "-a", "--reflink=auto", cached, target).CombinedOutput(); err != nil {
		os.RemoveAll(target)
		return fmt.Errorf("rootfs: copy the cached root: %v: %s", err, out)
	}
	return nil
}

// installScript runs in a private mount namespace: $1 is the root, then
// the packages. It mirrors mmdebstrap's install and cleanup phases.
const installScript = `root=$1; shift
mount -t proc proc "$root/proc"
mount -o rbind /sys "$root/sys"
mount --make-rslave "$root/sys"
apt-get -q update
now=$(` + releaseDigestScript + `)
if [ "$now" != "$STX_BEFORE" ]; then : > "$STX_CHECK"; exit 1; fi
apt-get -o Dir::Bin::dpkg=env -o DPkg::Options::=--unset=TMPDIR -o DPkg::Options::=dpkg -o DPkg::Chroot-Directory="$root" --yes install "$@"
# apt keeps the order of extended_states and appends what is new; a single
# run writes it afresh, in its cache's order: do the same.
auto="$(apt-mark showauto) $STX_AUTO"
if [ -n "$(echo $auto)" ]; then
	rm -f "$root/var/lib/apt/extended_states"
	apt-mark auto $auto >/dev/null
fi
apt-get --option Dir::Etc::SourceList=/dev/null --option Dir::Etc::SourceParts=/dev/null update
apt-get clean
rm -f "$root/etc/apt/apt.conf.d/00mmdebstrap" "$root/etc/apt/sources.list.d/stx-build-project.list"
for f in /var/log/dpkg.log /var/log/apt/history.log /var/log/apt/term.log /var/log/alternatives.log /var/cache/ldconfig/aux-cache /var/log/apt/eipp.log.xz /var/lib/dbus/machine-id; do rm -f "$root$f"; done
umount -R "$root/sys" "$root/proc"
`

// releaseDigestScript prints the sha256 of the archive's package indexes
// under $root, what apt installs from (the lists of file: and copy:
// sources, named from a path, start with "_"). Not the InRelease files: a
// Release signed again with the same indexes (a new Date, another mirror
// of the same state) changes nothing a root holds.
const releaseDigestScript = `cd "$root/var/lib/apt/lists" && cat [!_]*_Packages* 2>/dev/null | sha256sum | cut -d' ' -f1`

// releaseDigest is the sha256 of the cached root's package indexes, as
// installScript computes it.
func releaseDigest(root string) (string, error) {
	out, err := exec.Command("sh", "-c", "root=$1; "+releaseDigestScript, "sh", root).Output()
	if err != nil {
		return "", fmt.Errorf("rootfs: digest of the cached root's Release files: %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}

// writeAptConfig writes mmdebstrap's apt configuration for root (a
// temporary file for APT_CONFIG, its 00mmdebstrap, the pin and a sources
// file with the project's repositories) and returns the APT_CONFIG file.
func writeAptConfig(spec AssembleSpec, root string) (string, error) {
	f, err := os.CreateTemp("", "stx-apt.conf.")
	if err != nil {
		return "", err
	}
	fmt.Fprintf(f, "Apt::Architecture %q;\nApt::Architectures %q;\nDir %q;\nDir::State::Status %q;\nDir::Etc::Trusted %q;\nDir::Etc::TrustedParts %q;\n",
		spec.Arch, spec.Arch, root, filepath.Join(root, "var/lib/dpkg/status"), "/etc/apt/trusted.gpg", "/etc/apt/trusted.gpg.d/")
	if spec.Variant != "" && spec.Variant != "apt" {
		fmt.Fprintf(f, "pkgCacheGen::ForceEssential \",\";\n")
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	lines, err := sourcesLines(append(slices.Clone(spec.ProjectRepos), spec.LocalRepos...), spec.RepoKeyring)
	if err != nil {
		return "", err
	}
	files := []struct{ path, data string }{
		{"etc/apt/apt.conf.d/00mmdebstrap", "Apt::Install-Recommends false;\nAcquire::Languages \"none\";\n"},
		{LocalPinFile, LocalPin},
		{"etc/apt/sources.list.d/stx-build-project.list", lines},
	}
	for _, w := range files {
		p := filepath.Join(root, w.path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return "", err
		}
		if err := os.WriteFile(p, []byte(w.data), 0o644); err != nil {
			return "", err
		}
	}
	return f.Name(), nil
}

// sourcesLines are the sources lines of repos as AssembleArgs writes them.
func sourcesLines(repos []string, keyring string) (string, error) {
	args, err := AssembleArgs(AssembleSpec{Suite: "-", Mirror: "-", LocalRepos: repos, RepoKeyring: keyring}, "-")
	if err != nil {
		return "", err
	}
	i := slices.Index(args, "-") + 3 // after the suite, target and mirror
	return strings.Join(args[i:], "\n") + "\n", nil
}
