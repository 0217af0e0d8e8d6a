package rootfs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/stx-build/stx-build/aptenv"
)

// AssembleSpec describes a root filesystem made of packages: the content
// of a container image or of a live/installer system.
type AssembleSpec struct {
	Suite string
	// Arch is the architecture of the root. When it is not the host's, the
	// maintainer scripts run under qemu-user (see EnsureBinfmt).
	Arch string
	// Variant is mmdebstrap's variant: "apt" (Essential + apt, the
	// default), "minbase", "required", "important", "standard", ...
	Variant string
	// Packages are installed from the archive and the local repositories.
	Packages []string
	// LocalRepos are apt repository directories (repo.Repo.Dir) added as
	// trusted sources for the install and removed from the result.
	LocalRepos []string
	// RepoKeyring, when set, is the public keyring that verifies the
	// signed LocalRepos (and ProjectRepos): apt checks their InRelease
	// instead of trusting them.
	RepoKeyring string
	// ProjectRepos are repositories like LocalRepos (listed before them)
	// holding the project's own packages, the part of a root that changes
	// from build to build: with Cache set, the rest of the root is kept
	// and these packages are installed on top of a copy (see layered.go).
	ProjectRepos []string
	// Cache is the directory of cached archive roots; "" makes every
	// root in one mmdebstrap run.
	Cache string
	// Mirror overrides the host's apt sources: a URL (Components go with
	// it) or sources.list lines, one per line (a locked archive's
	// repositories).
	Mirror     string
	Components []string
	// HostRoot is where the host's apt sources are read (default "/").
	HostRoot string
	// Epoch is SOURCE_DATE_EPOCH: mmdebstrap uses it for the files it
	// writes, Normalize clamps every mtime to it.
	Epoch int64
	// CustomizeHooks are extra mmdebstrap --customize-hook commands ("$1"
	// is the root).
	CustomizeHooks []string
	// Record, when set, is called with the finished root before it is
	// normalized, while its apt lists are still there (stx-build lock
	// reads what was installed from which index: store.RootPackages). The
	// root is then made in one mmdebstrap run (Cache is not used).
	Record func(root string) error
	// ArchiveRoot, when set and the root is made on a cached archive root
	// (Cache; see layered.go), is called once the root is finished, with
	// the cache entry's key and its root: the archive part as mmdebstrap
	// left it, not normalized, read-only (the cache's own). ArchivePart
	// makes a normalized copy. Images use it to carry the archive part
	// as a layer of its own, below the project's packages.
	ArchiveRoot func(key, root string) error
}

// LocalPinFile is the apt preferences file that puts the project's local
// repositories (Release Origin "stx-build") above the archive: priority
// 1001, so apt installs the project's version of a package even when the
// archive's is newer. Normalize removes it from the finished root.
const LocalPinFile = "etc/apt/preferences.d/stx-build-local.pref"

// LocalPin is LocalPinFile's content.
const LocalPin = "Package: *\nPin: release o=stx-build\nPin-Priority: 1001\n"

// pinHook writes LocalPinFile before mmdebstrap resolves anything.
var pinHook = `mkdir -p "$1/etc/apt/preferences.d" && printf '` + strings.ReplaceAll(LocalPin, "\n", `\n`) + `' > "$1/` + LocalPinFile + `"`

// MergedUsrHooks are mmdebstrap's hooks that make a merged-/usr root the
// way debootstrap does (the /bin, /lib, /sbin symlinks made before
// anything is unpacked, and usr-is-merged installed) when the archive has
// usr-is-merged (bookworm and later): without them apt satisfies
// init-system-helpers' "usrmerge | usr-is-merged" with usrmerge, which
// pulls full perl and its modules into every root (nine packages, 51 MiB
// of the example image) and runs its conversion script, under qemu-user
// for arm64 (16 s). An archive without usr-is-merged (bullseye, or a lock
// made before) gets the root it got before.
const MergedUsrHooks = "/usr/share/mmdebstrap/hooks/maybe-merged-usr"

// AssembleArgs returns the mmdebstrap command line that makes the root
// described by spec in the directory target.
func AssembleArgs(spec AssembleSpec, target string) ([]string, error) {
	variant := spec.Variant
	if variant == "" {
		variant = "apt"
	}
	args := []string{
		"--variant=" + variant,
		"--mode=root",
		"--format=directory",
		"--architectures=" + spec.Arch,
		"--dpkgopt=force-unsafe-io",
		`--aptopt=APT::Install-Recommends "false"`,
		`--aptopt=Acquire::Check-Valid-Until "false"`,
	}
	if pk := sortedCopy(spec.Packages); len(pk) > 0 {
		args = append(args, "--include="+strings.Join(pk, ","))
	}
	args = append(args, "--hook-dir="+MergedUsrHooks)
	if spec.Mirror != "" && len(spec.Components) > 0 {
		args = append(args, "--components="+strings.Join(spec.Components, ","))
	}
	repos := append(slices.Clone(spec.ProjectRepos), spec.LocalRepos...)
	if len(repos) > 0 {
		// The project's own packages win over the archive's whatever
		// their versions (a pinned older release, a rebuild of a binNMU'd
		// source): apt then takes them even as a downgrade.
		args = append(args, "--setup-hook="+pinHook)
	}
	for _, h := range spec.CustomizeHooks {
		args = append(args, "--customize-hook="+h)
	}
	args = append(args, spec.Suite, target)
	if spec.Mirror != "" {
		args = append(args, mirrorArgs(spec.Mirror)...)
	} else {
		files, err := hostSourceFiles(spec.HostRoot)
		if err != nil {
			return nil, err
		}
		if len(files) == 0 && len(repos) > 0 {
			return nil, fmt.Errorf("rootfs: the host has no apt sources and no mirror is configured")
		}
		// mmdebstrap takes existing files as sources to paste in; giving
		// any mirror argument turns off its own use of the host's sources.
		// A project on another Debian release than the host's gets the
		// host's mirrors with its own release (aptenv.ReleaseSources):
		// pasting the host's files would make a trixie root of bookworm.
		lines, derived, err := aptenv.ReleaseSources(hostRoot(spec.HostRoot), spec.Suite)
		if err != nil {
			return nil, err
		}
		if derived {
			args = append(args, lines...)
		} else {
			args = append(args, files...)
		}
	}
	for _, r := range repos {
		abs, err := filepath.Abs(r)
		if err != nil {
			return nil, err
		}
		// copy: (not file:) so apt copies the .debs where dpkg, chrooted,
		// can read them.
		args = append(args, localSourcesLine(abs, spec.RepoKeyring))
	}
	return args, nil
}

// localSourcesLine is the sources line of a local repository: verified
// with keyring when there is one, else trusted.
func localSourcesLine(dir, keyring string) string {
	if keyring != "" {
		return "deb [signed-by=" + keyring + "] copy://" + dir + " stx main"
	}
	return "deb [trusted=yes] copy://" + dir + " stx main"
}

func hostSourceFiles(root string) ([]string, error) {
	root = hostRoot(root)
	var files []string
	for _, pat := range []string{"etc/apt/sources.list", "etc/apt/sources.list.d/*.list", "etc/apt/sources.list.d/*.sources"} {
		m, err := filepath.Glob(filepath.Join(root, pat))
		if err != nil {
			return nil, err
		}
		for _, f := range m {
			if info, err := os.Stat(f); err == nil && info.Size() > 0 {
				files = append(files, f)
			}
		}
	}
	slices.Sort(files)
	return files, nil
}

// Assemble makes the root described by spec at target (which must not
// exist), then normalizes it (see Normalize). With spec.Cache set it
// reuses a cached root of the archive's packages when it can (see
// layered.go); the result is the same either way. Output of mmdebstrap
// and apt goes to log. On error nothing is left at target.
func Assemble(ctx context.Context, spec AssembleSpec, target string, log io.Writer) (err error) {
	if _, err := os.Lstat(target); err == nil {
		return fmt.Errorf("rootfs: assemble: %s exists", target)
	}
	if err := EnsureBinfmt(ctx, spec.Arch); err != nil {
		return err
	}
	var extra []string
	if spec.Record != nil {
		// Normalize removes the lists either way; Record reads them first.
		spec.Cache, extra = "", []string{"--skip=cleanup/apt/lists"}
	}
	if spec.Cache != "" {
		done, err := assembleLayered(ctx, spec, target, log)
		if done || err != nil {
			return err
		}
	}
	if err := runMmdebstrap(ctx, spec, target, extra, log); err != nil {
		return err
	}
	if spec.Record != nil {
		if err := spec.Record(target); err != nil {
			os.RemoveAll(target)
			return fmt.Errorf("rootfs: %w", err)
		}
	}
	return finish(spec, target)
}

// ArchivePart copies the archive part of a root made on a cached archive
// root (what AssembleSpec.ArchiveRoot is given) to target, which must not
// exist, and normalizes it as Assemble normalizes a root made for spec: the
// root that carries the archive's packages and nothing of the build
// machine, below the project's packages.
func ArchivePart(ctx context.Context, spec AssembleSpec, cached, target string) error {
	if _, err := os.Lstat(target); err == nil {
		return fmt.Errorf("rootfs: archive part: %s exists", target)
	}
	if err := copyCached(ctx, cached, target); err != nil {
		return err
	}
	if err := finish(spec, target); err != nil {
		os.RemoveAll(target)
		return err
	}
	return nil
}

// finish turns an assembled root into the result: the build machine's
// apt sources removed (dropHostSources) and Normalize.
func finish(spec AssembleSpec, root string) error {
	if spec.Mirror == "" {
		if err := dropHostSources(root); err != nil {
			return err
		}
	}
	return Normalize(root, time.Unix(spec.Epoch, 0))
}

// dropHostSources removes the apt sources mmdebstrap wrote into a root
// assembled from the host's apt configuration: /etc/apt/sources.list
// and the numbered files of /etc/apt/sources.list.d (0000<name> for the
// first entry, 0001… for the rest). They name the build machine's
// mirrors, so keeping them would make the root depend on which machine
// built it (and a root made from stx.lock, whose only sources are the
// locked repositories, has none). A project that sets its mirror gets
// that mirror's lines, which are its own input, kept.
func dropHostSources(root string) error {
	files, err := filepath.Glob(filepath.Join(root, "etc/apt/sources.list.d/[0-9][0-9][0-9][0-9]*"))
	if err != nil {
		return err
	}
	for _, f := range append(files, filepath.Join(root, "etc/apt/sources.list")) {
		if err := os.Remove(f); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("rootfs: %w", err)
		}
	}
	return nil
}

// runMmdebstrap runs mmdebstrap for spec into target, with extra options
// before the positional arguments. On error nothing is left at target.
func runMmdebstrap(ctx context.Context, spec AssembleSpec, target string, extra []string, log io.Writer) (err error) {
	args, err := AssembleArgs(spec, target)
	if err != nil {
		return err
	}
	if len(extra) > 0 {
		i := slices.Index(args, target) - 1 // the suite
		args = slices.Concat(args[:i], extra, args[i:])
	}
	defer func() {
		if err != nil {
			os.RemoveAll(target)
		}
	}()
	cmd, cleanup, err := mmdebstrapCommand(ctx, spec.Arch, spec.Epoch, args)
	if err != nil {
		return err
	}
	defer cleanup()
	var tail tailWriter
	out := io.Writer(&tail)
	if log != nil {
		out = io.MultiWriter(log, &tail)
	}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("rootfs: mmdebstrap %s %s: %w\n%s", spec.Suite, spec.Arch, err, tail.String())
	}
	return nil
}

// volatile lists paths whose content differs from run to run (caches,
// logs, ids) or that only served the build (apt indexes): Normalize
// removes them, or empties them where their presence matters.
var volatile = []struct {
	path  string
	empty bool // keep an empty file instead of removing
}{
	{"var/lib/apt/lists", false},
	{"var/cache/apt", false},
	{"var/cache/ldconfig/aux-cache", false},
	{"var/cache/debconf/config.dat-old", false},
	{"var/cache/debconf/templates.dat-old", false},
	{"var/lib/dpkg/status-old", false},
	{"var/lib/dpkg/diversions-old", false},
	{"var/lib/dbus/machine-id", false},
	{"var/log", false},
	{"etc/machine-id", true}, // systemd makes a new one at first boot
	{"etc/apt/sources.list.d/0000sources-list.sources", false},
	{LocalPinFile, false},
	{"etc/hostname", false},
	{"etc/resolv.conf", false},
	{"tmp", false},
	{"run", false},
}

// Normalize removes non-reproducible state from a root (volatile, Python
// bytecode, the build-time sources), drops apt sources that point at the
// build machine (file:, copy:), recreates the emptied standard
// directories, and sets every mtime to the epoch.
func Normalize(root string, epoch time.Time) error {
	for _, v := range volatile {
		p := filepath.Join(root, v.path)
		if _, err := os.Lstat(p); errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if v.empty {
			if err := os.WriteFile(p, nil, 0o444); err != nil {
				return err
			}
			continue
		}
		if err := os.RemoveAll(p); err != nil {
			return err
		}
	}
	for _, d := range []struct {
		path string
		mode os.FileMode
	}{{"tmp", os.ModeSticky | 0o777}, {"run", 0o755}, {"var/log", 0o755}, {"var/lib/apt/lists/partial", 0o700}, {"var/cache/apt/archives/partial", 0o700}} {
		p := filepath.Join(root, d.path)
		if err := os.MkdirAll(p, 0o755); err != nil {
			return err
		}
		if err := os.Chmod(p, d.mode); err != nil {
			return err
		}
	}
	if err := dropBuildSources(root); err != nil {
		return err
	}
	// Bytecode compiled at install time embeds source mtimes.
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == "__pycache__" {
			if err := os.RemoveAll(p); err != nil {
				return err
			}
			return filepath.SkipDir
		}
		return nil
	})
	if err != nil {
		return err
	}
	return ClampTimes(root, epoch)
}

// dropBuildSources removes apt sources lines that name file: or copy: URIs
// (the build machine's local repositories) and files left empty by that.
func dropBuildSources(root string) error {
	files, _ := filepath.Glob(filepath.Join(root, "etc/apt/sources.list.d/*.list"))
	files = append(files, filepath.Join(root, "etc/apt/sources.list"))
	for _, f := range files {
		data, err := os.ReadFile(f)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		var keep []string
		for _, l := range strings.Split(string(data), "\n") {
			if strings.Contains(l, "copy:/") || strings.Contains(l, "file:/") {
				continue
			}
			keep = append(keep, l)
		}
		out := strings.TrimSpace(strings.Join(keep, "\n"))
		if out == "" {
			if err := os.Remove(f); err != nil {
				return err
			}
			continue
		}
		if err := os.WriteFile(f, []byte(out+"\n"), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// ClampTimes sets the mtime (and atime) of every file, directory and
// symlink under root to t, deepest first so directory times stick.
func ClampTimes(root string, t time.Time) error {
	var paths []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		paths = append(paths, p)
		return nil
	})
	if err != nil {
		return err
	}
	for i := len(paths) - 1; i >= 0; i-- {
		if err := lutimes(paths[i], t); err != nil {
			return fmt.Errorf("rootfs: set time of %s: %w", paths[i], err)
		}
	}
	return nil
}

// EnsureBinfmt makes foreign-architecture binaries runnable for arch
// (qemu-user through binfmt_misc with the F flag, so it works inside
// chroots). It is host-wide state; nothing is done for the host's own
// architecture.
func EnsureBinfmt(ctx context.Context, arch string) error {
	qemu, ok := qemuName[arch]
	if !ok || arch == hostDebArch() {
		return nil
	}
	entry := "/proc/sys/fs/binfmt_misc/" + qemu
	if data, err := os.ReadFile(entry); err == nil && strings.HasPrefix(string(data), "enabled") {
		return nil
	}
	if _, err := os.Stat("/proc/sys/fs/binfmt_misc/status"); err != nil {
		if out, err := exec.CommandContext(ctx, "mount", "-t", "binfmt_misc", "binfmt_misc", "/proc/sys/fs/binfmt_misc").CombinedOutput(); err != nil {
			return fmt.Errorf("rootfs: mount binfmt_misc: %v: %s", err, out)
		}
	}
	if out, err := exec.CommandContext(ctx, "update-binfmts", "--enable", qemu).CombinedOutput(); err != nil {
		return fmt.Errorf("rootfs: update-binfmts --enable %s: %v: %s (install qemu-user-static and binfmt-support)", qemu, err, out)
	}
	if data, err := os.ReadFile(entry); err != nil || !strings.HasPrefix(string(data), "enabled") {
		return fmt.Errorf("rootfs: %s is not enabled after update-binfmts", entry)
	}
	return nil
}

var qemuName = map[string]string{"arm64": "qemu-aarch64", "amd64": "qemu-x86_64"}

func hostDebArch() string {
	out, err := exec.Command("dpkg", "--print-architecture").Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// hostRoot is the host tree an AssembleSpec's HostRoot names ("/" when
// empty).
func hostRoot(root string) string {
	if root == "" {
		return "/"
	}
	return root
}
