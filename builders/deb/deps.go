package deb

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/stx-build/stx-build/ramdisk"
	"github.com/stx-build/stx-build/repo"
	"github.com/stx-build/stx-build/runner"
	"github.com/stx-build/stx-build/store"
)

// repoArchs are the architectures of req's local repositories, sorted.
func repoArchs(req Request) []string {
	archs := make([]string, 0, len(req.Repos))
	for a := range req.Repos {
		archs = append(archs, a)
	}
	slices.Sort(archs)
	return archs
}

// withRepos returns s with every local repository mounted read-only.
func withRepos(s runner.Step, req Request) runner.Step {
	for _, a := range repoArchs(req) {
		s = s.WithInput(req.Repos[a].Dir(), "/stx/repo-"+a)
	}
	if req.RepoKeyring != "" && len(req.Repos) > 0 {
		s = s.WithInput(filepath.Dir(req.RepoKeyring), repoKeyDir)
	}
	return s
}

// repoKeyDir is where a sandbox sees the directory of Request.RepoKeyring.
const repoKeyDir = "/stx/repo-key"

// repoSetup are the apt setup commands that use the repositories
// withRepos mounts (highest priority, so a just-built package wins over
// the archive's).
func repoSetup(req Request) string {
	var lines []string
	for _, a := range repoArchs(req) {
		if req.RepoKeyring != "" {
			lines = append(lines, repo.SignedSourcesLine("file:/stx/repo-"+a, repoKeyDir+"/"+filepath.Base(req.RepoKeyring), a))
		} else {
			lines = append(lines, trustedRepoLine(a))
		}
	}
	return localReposSetup(lines)
}

// trustedRepoLine is the sources line of the unsigned local repository of
// arch mounted at /stx/repo-<arch>.
func trustedRepoLine(arch string) string {
	return fmt.Sprintf("deb [trusted=yes arch=%s] file:/stx/repo-%s stx main", arch, arch)
}

// localReposSetup writes the local repositories' sources lines, pins them
// first and updates their lists only.
func localReposSetup(lines []string) string {
	return "printf '%s\\n' " + shellQuoteAll(lines) + " > /etc/apt/sources.list.d/stx-local.list\n" +
		"printf 'Package: *\\nPin: origin \"\"\\nPin-Priority: 1001\\n' > /etc/apt/preferences.d/stx-local\n" +
		"apt-get -q -o Dir::Etc::SourceList=sources.list.d/stx-local.list -o Dir::Etc::SourceParts=- -o APT::Get::List-Cleanup=0 update\n"
}

// buildDepArgs are the apt-get build-dep options for req, with a %s
// for more options before the tree.
func (b *Builder) buildDepArgs(req Request, srcDir string) string {
	return b.buildDepCmd(req) + " %s /build/" + shellQuote(srcDir)
}

// buildDepCmd is the apt-get build-dep command for req, without the
// tree.
func (b *Builder) buildDepCmd(req Request) string {
	args := []string{"apt-get", "-q", "--no-install-recommends"}
	if req.Arch != b.HostArch {
		args = append(args, "--host-architecture", req.Arch)
	}
	if prof := profiles(req, b.HostArch); len(prof) > 0 {
		args = append(args, "-P", strings.Join(prof, ","))
	}
	switch req.Parts {
	case "any":
		args = append(args, "--arch-only")
	case "all":
		args = append(args, "--indep-only")
	}
	args = append(args, "build-dep")
	return strings.Join(args, " ")
}

var instLine = regexp.MustCompile(`^Inst (\S+) (?:\[[^\]]*\] )?\((\S+) (.*)\)`)

// depSet is a package's resolved build-dependency set.
type depSet struct {
	// Key names the layer holding exactly this set on this base.
	Key string
	// Inst are "name[:arch] version[ sha256]" for every package apt
	// installs, sorted; the digest is there for local packages.
	Inst []string
	// Archive are "name[:arch]=version" of the packages from the archive;
	// Local the files of the packages from the local repositories.
	Archive []string
	Local   []string
	// Fetch are the archive packages' files, where apt would download
	// them from, with the index's size and sha256, sorted by name.
	Fetch []store.Item
	// Cached says the resolution came from the cache (resolution.go).
	Cached bool
}

// resolveDeps computes the exact build-dependency set with apt-get
// build-dep -s on the base, with the local repositories first. The key is
// the base, the recipe and the set: every package apt would install, with
// version and architecture, and for packages from the local repositories
// their .deb digests, so a rebuilt library changes the layer of everything
// using it.
func (b *Builder) resolveDeps(ctx context.Context, slot *ramdisk.Slot, req Request, srcDir string, log io.Writer) (*depSet, error) {
	// The simulation names the set; --print-uris, for the same set, where
	// each archive package comes from and its size and sha256 (from the
	// Packages index the set was resolved against). Neither runs package
	// code.
	args := b.buildDepArgs(req, srcDir)
	debs, err := localDebs(req, b.HostArch)
	if err != nil {
		return nil, err
	}
	script := repoSetup(req) + lockPins(b.lockSet(req), debs) + fmt.Sprintf(args, "-s") + "\n" + fmt.Sprintf(args, printURIs) + "\n"
	releases, err := baseReleases(b.Base.Dir)
	if err != nil {
		return nil, err
	}
	ds, err := b.resolution(ctx, slot, req, srcDir, script, releases, debs, log)
	if err != nil {
		return nil, err
	}
	if b.Lock != nil {
		if err := checkLocked(b.lockSet(req), ds.Fetch, b.Base.Spec.Suite, req.Arch); err != nil {
			return nil, err
		}
	}
	if b.OnResolved != nil {
		set := &store.LockSet{Suite: b.Base.Spec.Suite, Arch: req.Arch}
		if set.Packages, err = lockedPackages(ds.Fetch); err != nil {
			return nil, err
		}
		set.Releases = releases
		b.OnResolved(set)
	}
	h := sha256.New()
	fmt.Fprintf(h, "stx-build deps layer %s\nbase %s\n", Version, b.Base.Key)
	for _, l := range ds.Inst {
		fmt.Fprintln(h, l)
	}
	ds.Key = hex.EncodeToString(h.Sum(nil))
	if err := b.fetchDeps(ctx, ds, log); err != nil {
		return nil, err
	}
	return ds, nil
}

// lockSet is the lock's set for req (nil: no lock, or nothing locked for
// this suite and architecture).
func (b *Builder) lockSet(req Request) *store.LockSet {
	if b.Lock == nil {
		return nil
	}
	if s := b.Lock.Find(b.Base.Spec.Suite, req.Arch); s != nil {
		return s
	}
	return &store.LockSet{Suite: b.Base.Spec.Suite, Arch: req.Arch}
}

// lockPins are the apt setup commands that make the resolution pick the
// locked version of every locked archive package (priority 1001, as the
// local repositories: above the archive's candidates, downgrades
// allowed). Packages the local repositories hold are not pinned: the
// project's own win.
func lockPins(set *store.LockSet, local map[string]localDeb) string {
	if set == nil || len(set.Packages) == 0 {
		return ""
	}
	localNames := map[string]bool{}
	for k := range local {
		name, _, _ := strings.Cut(k, " ")
		name, _, _ = strings.Cut(name, ":")
		localNames[name] = true
	}
	var b strings.Builder
	seen := map[string]bool{}
	for _, p := range set.Packages {
		if localNames[p.Name] || seen[p.Name+" "+p.Version] {
			continue
		}
		seen[p.Name+" "+p.Version] = true
		fmt.Fprintf(&b, "Package: %s\nPin: version %s\nPin-Priority: 1001\n\n", p.Name, p.Version)
	}
	return "cat > /etc/apt/preferences.d/stx-lock <<'STX_LOCK_EOF'\n" + b.String() + "STX_LOCK_EOF\n"
}

// checkLocked checks that every archive package of a resolved set is in
// the lock with the same file; what is not is named, with how to add it.
func checkLocked(set *store.LockSet, fetch []store.Item, suite, arch string) error {
	var missing, differ []string
	for _, it := range fetch {
		name, version, parch, err := store.ParseDebFileName(it.Name)
		if err != nil {
			return err
		}
		p, ok := set.Lookup(name, version, parch)
		switch {
		case !ok:
			m := fmt.Sprintf("%s %s (%s)", name, version, parch)
			if vs := set.Versions(name); len(vs) > 0 {
				m += fmt.Sprintf(" (the lock has %s, which the base's indexes no longer offer or the set cannot use)", vs[0].Version)
			}
			missing = append(missing, m)
		case p.SHA256 != it.SHA256 || p.Size != it.Size:
			differ = append(differ, fmt.Sprintf("%s %s (%s): the archive's file is sha256 %s, %d bytes; stx.lock says %s, %d bytes",
				name, version, parch, it.SHA256, it.Size, p.SHA256, p.Size))
		}
	}
	var msgs []string
	if len(missing) > 0 {
		msgs = append(msgs, fmt.Sprintf("not in %s for [%s %s]: %s; run stx-build lock --update to add them (and review the diff)",
			store.LockFile, suite, arch, strings.Join(missing, ", ")))
	}
	if len(differ) > 0 {
		msgs = append(msgs, "changed since locked: "+strings.Join(differ, "; "))
	}
	if len(msgs) > 0 {
		return fmt.Errorf("build-deps: %s", strings.Join(msgs, "; "))
	}
	return nil
}

// lockedPackages are the fetched archive packages as lock entries.
func lockedPackages(fetch []store.Item) ([]store.LockedPackage, error) {
	out := make([]store.LockedPackage, 0, len(fetch))
	for _, it := range fetch {
		name, version, arch, err := store.ParseDebFileName(it.Name)
		if err != nil {
			return nil, err
		}
		path, err := store.ArchivePath(it.URL)
		if err != nil {
			return nil, fmt.Errorf("lock %s: %w", it.Name, err)
		}
		out = append(out, store.LockedPackage{Name: name, Version: version, Arch: arch, Size: it.Size, SHA256: it.SHA256, Path: path})
	}
	return out, nil
}

// baseReleases are the digests of the InRelease and Release files of
// the base root's package lists, by suite: the archive state its sets
// are resolved against.
func baseReleases(root string) ([]store.LockRelease, error) {
	rel, err := store.RootReleases(root)
	if err != nil {
		return nil, fmt.Errorf("base root: %w", err)
	}
	return rel, nil
}

// printURIs are the apt-get options that print, instead of installing,
// what would be downloaded: 'URL' file size SHA256:hex per package.
const printURIs = "--print-uris -qq --allow-downgrades -o Acquire::ForceHash=SHA256"

// fetchDeps has the set's archive packages in the store, fetched on the
// host by Go code and checked against the index's size and sha256: no
// package code runs, and the environment step needs no network.
func (b *Builder) fetchDeps(ctx context.Context, ds *depSet, log io.Writer) error {
	st := b.store()
	missing := len(st.Missing(ds.Fetch))
	if _, err := st.FetchAll(ctx, ds.Fetch); err != nil {
		return fmt.Errorf("build-deps: %w", err)
	}
	if missing > 0 {
		fmt.Fprintf(log, "stx-build: build-deps: fetched %d of %d archive packages into %s\n", missing, len(ds.Fetch), st.Dir)
	}
	return nil
}

// store is the package store: Store, or "store" beside LayerDir in the
// cache.
func (b *Builder) store() *store.Store {
	if b.Store != nil {
		return b.Store
	}
	return store.New(filepath.Join(filepath.Dir(b.LayerDir), "store"))
}

// parseSimulation reads the set from apt-get -s output: what it would
// install, from the archive or (with their digests) from local; and from
// the --print-uris lines, where each archive package is fetched from.
func parseSimulation(sim io.Reader, local map[string]localDeb) (*depSet, error) {
	ds := &depSet{}
	var uris []store.Item
	sc := bufio.NewScanner(sim)
	for sc.Scan() {
		if it, ok, err := parseURILine(sc.Text()); err != nil {
			return nil, err
		} else if ok {
			uris = append(uris, it)
			continue
		}
		m := instLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		line := m[1] + " " + m[2]
		if d, ok := local[m[1]+" "+m[2]]; ok {
			line += " " + d.sha256
			ds.Local = append(ds.Local, d.path)
		} else {
			ds.Archive = append(ds.Archive, m[1]+"="+m[2])
		}
		ds.Inst = append(ds.Inst, line)
	}
	slices.Sort(ds.Inst)
	slices.Sort(ds.Archive)
	slices.Sort(ds.Local)
	ds.Local = slices.Compact(ds.Local)
	var err error
	ds.Fetch, err = archiveFiles(ds.Archive, uris)
	return ds, err
}

// parseURILine reads one line of apt-get --print-uris: 'URL' file size
// SHA256:hex. Lines of other kinds: ok false.
func parseURILine(l string) (it store.Item, ok bool, err error) {
	if !strings.HasPrefix(l, "'") {
		return it, false, nil
	}
	f := strings.Fields(l)
	if len(f) != 4 || !strings.HasSuffix(f[0], "'") || len(f[0]) < 3 {
		return it, false, fmt.Errorf("apt-get --print-uris: unexpected line %q", l)
	}
	sum, ok := strings.CutPrefix(f[3], "SHA256:")
	size, err := strconv.ParseInt(f[2], 10, 64)
	if !ok || err != nil || size < 0 {
		return it, false, fmt.Errorf("apt-get --print-uris: no size and SHA256 in %q", l)
	}
	return store.Item{Name: f[1], URL: f[0][1 : len(f[0])-1], SHA256: strings.ToLower(sum), Size: size}, true, nil
}

// archiveFiles are the downloads of the archive packages (name[:arch]=
// version), matched by apt's archive file name (name_version_arch.deb,
// quoted); packages from the local repositories (file: URLs) are not
// among them. Every archive package must have one.
func archiveFiles(archive []string, uris []store.Item) ([]store.Item, error) {
	byPkg := map[string]store.Item{}
	for _, it := range uris {
		if strings.HasPrefix(it.URL, "file:/stx/repo-") {
			continue
		}
		name, version, arch, err := store.ParseDebFileName(it.Name)
		if err != nil {
			return nil, err
		}
		byPkg[name+" "+version] = it
		byPkg[name+":"+arch+" "+version] = it
	}
	var out []store.Item
	var missing []string
	for _, a := range archive {
		name, version, _ := strings.Cut(a, "=")
		it, ok := byPkg[name+" "+version]
		if !ok {
			missing = append(missing, a)
			continue
		}
		out = append(out, it)
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("apt-get --print-uris names no download for %s", strings.Join(missing, ", "))
	}
	store.SortItems(out)
	return slices.CompactFunc(out, func(a, b store.Item) bool { return a.Name == b.Name }), nil
}

// cleanAfterInstall drops what an install leaves that no build reads.
const cleanAfterInstall = "apt-get clean\nrm -rf /var/log/apt /var/log/dpkg.log /var/cache/debconf/*-old"

type localDeb struct{ sha256, path string }

// localDebs maps "name:arch version" of every package in the local
// repositories to its sha256 and file, and "name version" (how apt names
// packages of the build machine's architecture and arch:all ones) for
// those.
func localDebs(req Request, hostArch string) (map[string]localDeb, error) {
	m := map[string]localDeb{}
	for _, r := range req.Repos {
		entries, err := r.Packages()
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			d := localDeb{sha256: e.SHA256, path: filepath.Join(r.Dir(), e.Filename)}
			m[e.Package+":"+e.Architecture+" "+e.Version] = d
			if e.Architecture == hostArch || e.Architecture == "all" {
				m[e.Package+" "+e.Version] = d
			}
		}
	}
	return m, nil
}

// debsDir is where the environment step of a build in slot finds its
// packages: in the run's directory on disk beside the store (in the same
// cache), so they are hard links to the store's files, not copies of
// them into the slot, a tmpfs or a disk image of its own that links
// cannot reach. Without a slot manager: in the slot.
func (b *Builder) debsDir(slot *ramdisk.Slot) string {
	if b.Slots != nil && b.Slots.RunDir() != "" {
		return filepath.Join(b.Slots.RunDir(), "debs", slot.Name)
	}
	return filepath.Join(slot.Dir, "debs")
}

// envStepName names the environment step.
const envStepName = "environment"

// debsMount is where the environment step sees the set's packages: the
// archive's in archive/ (under apt's archive file names), the local ones
// in local/.
const debsMount = "/stx/debs"

// envStep installs exactly ds on the base as root, with no network: its
// packages, fetched and checked already, linked into debDir (debsDir) from
// st and the local repositories; its root is kept under ds.Key.
func envStep(debDir string, ds *depSet, st *store.Store) (runner.Step, error) {
	if err := os.RemoveAll(debDir); err != nil { // a first attempt's, before a retry on disk
		return runner.Step{}, err
	}
	if err := st.Link(ds.Fetch, filepath.Join(debDir, "archive")); err != nil {
		return runner.Step{}, err
	}
	if err := linkLocalDebs(filepath.Join(debDir, "local"), ds.Local); err != nil {
		return runner.Step{}, err
	}
	s := runner.NewStep(envStepName, "/bin/sh", "-ec", envScript(ds)).
		WithEnv(baseEnv(0)...).Keep(ds.Key).WithInput(debDir, debsMount)
	return s, nil
}

// linkLocalDebs links (or copies) files into debDir, one copy of each
// name: only the set's local packages reach the environment step, so its
// inputs are the set itself. An arch:all package sits in every
// architecture's repository, and those are the same file.
func linkLocalDebs(debDir string, files []string) error {
	if err := os.MkdirAll(debDir, 0o755); err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, f := range files {
		name := filepath.Base(f)
		if seen[name] {
			continue
		}
		seen[name] = true
		if err := os.Link(f, filepath.Join(debDir, name)); err != nil {
			if err := copyFile(f, filepath.Join(debDir, name), 0o644); err != nil {
				return err
			}
		}
	}
	return nil
}

// envScript installs exactly the resolved set: the archive's packages by
// name and version from the base's package lists (the ones the set was
// resolved against), found in apt's archive cache as links to the files
// fetched for them (so apt downloads nothing: there is no network to
// download from), the local ones from their files. The install is the
// one a download would have made: same command, same set, same order.
// (Not --no-download: with it apt mishandles the local files.)
func envScript(ds *depSet) string {
	var b strings.Builder
	b.WriteString("export DEBIAN_FRONTEND=noninteractive\n")
	if len(ds.Fetch) > 0 {
		b.WriteString("ln -s " + debsMount + "/archive/*.deb /var/cache/apt/archives/\n")
	}
	if len(ds.Archive) > 0 || len(ds.Local) > 0 {
		// The set is exact and resolved already; a project package older
		// than the base root's (a pinned release, a rebuilt binNMU) is a
		// downgrade apt must be allowed to make.
		b.WriteString("apt-get -q -y --allow-downgrades --no-install-recommends install")
		for _, a := range ds.Archive {
			b.WriteString(" " + shellQuote(a))
		}
		if len(ds.Local) > 0 {
			b.WriteString(" " + debsMount + "/local/*.deb")
		}
		b.WriteString("\n")
	}
	// apt-get clean removes the links with what apt cached.
	b.WriteString(cleanAfterInstall + "\n")
	return b.String()
}
