package deb

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/stx-build/stx-build/ramdisk"
	"github.com/stx-build/stx-build/runner"
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
	return s
}

// repoSetup are the apt setup commands that use the repositories
// withRepos mounts (highest priority, so a just-built package wins over
// the archive's).
func repoSetup(req Request) string {
	var lines []string
	for _, a := range repoArchs(req) {
		lines = append(lines, fmt.Sprintf("deb [trusted=yes arch=%s] file:/stx/repo-%s stx main", a, a))
	}
	return "printf '%s\\n' " + shellQuoteAll(lines) + " > /etc/apt/sources.list.d/stx-local.list\n" +
		"printf 'Package: *\\nPin: origin \"\"\\nPin-Priority: 1001\\n' > /etc/apt/preferences.d/stx-local\n" +
		"apt-get -q -o Dir::Etc::SourceList=sources.list.d/stx-local.list -o Dir::Etc::SourceParts=- -o APT::Get::List-Cleanup=0 update\n"
}

// buildDepArgs are the apt-get build-dep options for req.
func (b *Builder) buildDepArgs(req Request, srcDir string) string {
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
	return strings.Join(args, " ") + " %s /build/" + shellQuote(srcDir)
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
}

// resolveDeps computes the exact build-dependency set with apt-get
// build-dep -s on the base, with the local repositories first. The key is
// the base, the recipe and the set: every package apt would install, with
// version and architecture, and for packages from the local repositories
// their .deb digests, so a rebuilt library changes the layer of everything
// using it.
func (b *Builder) resolveDeps(ctx context.Context, slot *ramdisk.Slot, req Request, srcDir string, log io.Writer) (*depSet, error) {
	step := runner.NewStep("resolve", "/bin/sh", "-ec", repoSetup(req)+fmt.Sprintf(b.buildDepArgs(req, srcDir), "-s")).
		WithEnv(baseEnv(0)...).WithNetwork()
	step = withRepos(step, req).WithInput(filepath.Join(slot.Dir, "build"), "/build")
	var sim bytes.Buffer
	tail := &runner.LogTail{Max: 16 << 10}
	local := &runner.LocalExecutor{Runner: b.Runner, Base: b.Base.Dir}
	upper := filepath.Join(slot.Dir, "deps-sim")
	if err := local.RunStep(ctx, step, upper, io.MultiWriter(&sim, log, tail), io.MultiWriter(log, tail)); err != nil {
		return nil, withCause(fmt.Errorf("resolve build-deps: %w", err), tail.Bytes(), req.Package.Name, req.Arch, req.Arch != b.HostArch)
	}
	_ = os.RemoveAll(upper)
	debs, err := localDebs(req, b.HostArch)
	if err != nil {
		return nil, err
	}
	ds := parseSimulation(&sim, debs)
	h := sha256.New()
	fmt.Fprintf(h, "stx-build deps layer %s\nbase %s\n", Version, b.Base.Key)
	for _, l := range ds.Inst {
		fmt.Fprintln(h, l)
	}
	ds.Key = hex.EncodeToString(h.Sum(nil))
	return ds, nil
}

// parseSimulation reads the set from apt-get -s output: what it would
// install, from the archive or (with their digests) from local.
func parseSimulation(sim io.Reader, local map[string]localDeb) *depSet {
	ds := &depSet{}
	sc := bufio.NewScanner(sim)
	for sc.Scan() {
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
	return ds
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

// envStepName names the environment step.
const envStepName = "environment"

// localDebsMount is where the environment step sees the set's local
// packages.
const localDebsMount = "/stx/local"

// envStep installs exactly ds on the base as root with the network, the
// set's local packages linked into slotDir/local-debs; its root is kept
// under ds.Key.
func envStep(slotDir string, ds *depSet) (runner.Step, error) {
	debDir, err := linkLocalDebs(slotDir, ds.Local)
	if err != nil {
		return runner.Step{}, err
	}
	s := runner.NewStep(envStepName, "/bin/sh", "-ec", envScript(ds, debDir != "")).
		WithEnv(baseEnv(0)...).WithNetwork().Keep(ds.Key)
	if debDir != "" {
		s = s.WithInput(debDir, localDebsMount)
	}
	return s, nil
}

// linkLocalDebs links (or copies) files into slotDir/local-debs, one copy
// of each name: only the set's local packages reach the environment step,
// so its inputs are the set itself. An arch:all package sits in every
// architecture's repository, and those are the same file. No files: "".
func linkLocalDebs(slotDir string, files []string) (string, error) {
	if len(files) == 0 {
		return "", nil
	}
	debDir := filepath.Join(slotDir, "local-debs")
	if err := os.MkdirAll(debDir, 0o755); err != nil {
		return "", err
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
				return "", err
			}
		}
	}
	return debDir, nil
}

// envScript installs exactly the resolved set: the archive's packages by
// name and version from the base's package lists (the ones the set was
// resolved against), the local ones from their files.
func envScript(ds *depSet, haveLocal bool) string {
	var b strings.Builder
	b.WriteString("export DEBIAN_FRONTEND=noninteractive\n")
	if len(ds.Archive) > 0 || haveLocal {
		// The set is exact and resolved already; a project package older
		// than the base root's (a pinned release, a rebuilt binNMU) is a
		// downgrade apt must be allowed to make.
		b.WriteString("apt-get -q -y --allow-downgrades --no-install-recommends install")
		for _, a := range ds.Archive {
			b.WriteString(" " + shellQuote(a))
		}
		if haveLocal {
			b.WriteString(" " + localDebsMount + "/*.deb")
		}
		b.WriteString("\n")
	}
	b.WriteString(cleanAfterInstall + "\n")
	return b.String()
}
