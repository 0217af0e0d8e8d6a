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
	"runtime"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sync/errgroup"

	"github.com/stx-build/stx-build/deb822"
	"github.com/stx-build/stx-build/ramdisk"
	"github.com/stx-build/stx-build/runner"
	"github.com/stx-build/stx-build/store"
)

// SimRequest is one build whose build-dependency set Simulate resolves:
// the request as a build would get it and the binary packages the build
// makes (the graph node's), which the builds after it may need.
type SimRequest struct {
	Request
	Binaries []string
}

// Simulate resolves the archive packages the build-dependency
// environments of reqs install, without building any of them (stx-build
// lock --no-build, docs/lock.md). The project's own packages, which later
// builds need, are stood in for by index stanzas made from their
// debian/control (version and relations as declared, substitution
// variables other than the versions left out): a repository per
// architecture with exactly what the builds would publish, minus the
// dependencies only the built package knows (${shlibs:Depends}).
//
// Builds with the same apt-get options are resolved together, in one
// apt-get build-dep of all their trees (apt's cache loads once for the
// group, not once per package), all groups in one sandbox run on the
// base: the union is a set in which every one of them can be installed,
// which is what a lock needs (the locked archive holds nothing else, so a
// locked build resolves within it). A group apt cannot satisfy as a whole
// (one build conflicts with another's set) is split in two and tried
// again, down to the one build that cannot be satisfied, which is the
// error. The sets are returned one per architecture, sorted, with the
// base's Release digests. workDir must be empty or missing; it is left
// for the caller to remove.
func (b *Builder) Simulate(ctx context.Context, reqs []SimRequest, workDir string, log io.Writer) ([]*store.LockSet, error) {
	if log == nil {
		log = io.Discard
	}
	if err := os.MkdirAll(filepath.Join(workDir, simSrc), 0o755); err != nil {
		return nil, err
	}
	ctl, err := b.simUnpack(ctx, reqs, filepath.Join(workDir, simSrc), log)
	if err != nil {
		return nil, err
	}
	repos, err := simRepos(reqs, ctl, workDir)
	if err != nil {
		return nil, err
	}
	groups := simGroups(b, reqs)
	releases, err := baseReleases(b.Base.Dir)
	if err != nil {
		return nil, err
	}
	var lock store.Lock
	var failed []string
	for round := 0; len(groups) > 0; round++ {
		out, err := b.simRun(ctx, groups, ctl, repos, workDir, "upper-"+strconv.Itoa(round), log)
		if err != nil {
			return nil, err
		}
		var next []simGroup
		for i, g := range groups {
			o := out[i]
			if o.failed {
				if len(g.members) == 1 {
					r := reqs[g.members[0]]
					failed = append(failed, fmt.Sprintf("%s %s (%s): %s", r.Package.Name, r.Package.Version, r.Arch, lastLines(o.text, 6)))
					continue
				}
				half := len(g.members) / 2
				next = append(next, simGroup{cmd: g.cmd, arch: g.arch, members: g.members[:half]}, simGroup{cmd: g.cmd, arch: g.arch, members: g.members[half:]})
				continue
			}
			pkgs, err := lockedPackages(o.items)
			if err != nil {
				return nil, err
			}
			set := lock.Set(b.Base.Spec.Suite, g.arch)
			set.Releases = releases
			for _, p := range pkgs {
				set.Add(p)
			}
		}
		groups = next
	}
	if len(failed) > 0 {
		slices.Sort(failed)
		return nil, fmt.Errorf("build-deps cannot be satisfied:\n  %s", strings.Join(failed, "\n  "))
	}
	return lock.Sets, nil
}

// simSrc and simRepoDir are where Simulate's work directory keeps the
// source trees and the stand-in repositories.
const (
	simSrc     = "src"
	simRepoDir = "repos"
)

// simUnpack puts every request's source tree (unpacked and patched as
// its build does, from the source tree cache when it has it) under
// srcDir/<i>/build and returns, per request, the directory of its
// debian/control below srcDir.
func (b *Builder) simUnpack(ctx context.Context, reqs []SimRequest, srcDir string, log io.Writer) ([]string, error) {
	ctl := make([]string, len(reqs))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(runtime.NumCPU())
	for i := range reqs {
		g.Go(func() error {
			slot := &ramdisk.Slot{Name: "sim-" + strconv.Itoa(i), Dir: filepath.Join(srcDir, strconv.Itoa(i))}
			if reqs[i].Package.Kernel != nil {
				// Its build-deps are a stanza of its own: the tarball,
				// which the build unpacks, is not needed.
				if err := writeKernelInputs(slot.Dir, reqs[i].Package); err != nil {
					return err
				}
				ctl[i] = filepath.Join(strconv.Itoa(i), "build", kernelControl)
				return nil
			}
			src, err := b.prepare(gctx, slot, reqs[i].Request, log)
			if err != nil {
				return fmt.Errorf("%s %s (%s): unpack: %w", reqs[i].Package.Name, reqs[i].Package.Version, reqs[i].Arch, err)
			}
			ctl[i] = filepath.Join(strconv.Itoa(i), "build", src.control)
			return nil
		})
	}
	return ctl, g.Wait()
}

// simGroup is builds resolved together: the same apt-get command for the
// same architecture.
type simGroup struct {
	cmd, arch string
	members   []int // indexes into the requests, in order
}

// simGroups groups reqs by their apt-get build-dep command, in the order
// of each group's first request.
func simGroups(b *Builder, reqs []SimRequest) []simGroup {
	var groups []simGroup
	at := map[string]int{}
	for i, r := range reqs {
		cmd := b.buildDepCmd(r.Request)
		k := r.Arch + " " + cmd
		j, ok := at[k]
		if !ok {
			j = len(groups)
			at[k] = j
			groups = append(groups, simGroup{cmd: cmd, arch: r.Arch})
		}
		groups[j].members = append(groups[j].members, i)
	}
	return groups
}

// simOutput is what one group's apt-get printed.
type simOutput struct {
	failed bool
	items  []store.Item // archive downloads (the stand-ins left out)
	text   string
}

// simPrintURIs is printURIs with apt's messages kept (which build-dep
// cannot be satisfied, and why).
const simPrintURIs = "--print-uris --allow-downgrades -o Acquire::ForceHash=SHA256"

// simMarker starts each group's output; simFailed follows a failed one.
const (
	simMarker = "@@stx-simulate "
	simFailed = "@@stx-simulate-failed "
)

// simRun runs one apt-get build-dep --print-uris per group in one
// sandbox run on the base, with the stand-in repositories and the trees
// mounted and no network (the base's package lists are the archive's
// state), and splits its output by group.
func (b *Builder) simRun(ctx context.Context, groups []simGroup, ctl []string, repos []string, workDir, upperName string, log io.Writer) ([]simOutput, error) {
	var sc strings.Builder
	var lines []string
	for _, a := range repos {
		lines = append(lines, trustedRepoLine(a))
	}
	sc.WriteString(localReposSetup(lines))
	for i, g := range groups {
		dirs := make([]string, len(g.members))
		for k, m := range g.members {
			dirs[k] = "/build/" + shellQuote(ctl[m])
		}
		fmt.Fprintf(&sc, "echo '%s%d'\nif ! %s %s %s 2>&1; then echo '%s%d'; fi\n", simMarker, i, g.cmd, simPrintURIs, strings.Join(dirs, " "), simFailed, i)
	}
	step := runner.NewStep("simulate", "/bin/sh", "-ec", sc.String()).WithEnv(baseEnv(0)...)
	for _, a := range repos {
		step = step.WithInput(filepath.Join(workDir, simRepoDir, a), "/stx/repo-"+a)
	}
	step = step.WithInput(filepath.Join(workDir, simSrc), "/build")
	upper := filepath.Join(workDir, upperName)
	var out bytes.Buffer
	tail := &runner.LogTail{Max: 16 << 10}
	local := &runner.LocalExecutor{Runner: b.Runner, Base: b.Base.Dir}
	if err := local.RunStep(ctx, step, upper, io.MultiWriter(&out, log), io.MultiWriter(log, tail)); err != nil {
		return nil, fmt.Errorf("simulate build-deps: %w: %s", err, lastLines(string(tail.Bytes()), 6))
	}
	_ = os.RemoveAll(upper)
	return parseSimRun(out.Bytes(), len(groups))
}

// parseSimRun splits the output of simRun into n groups.
func parseSimRun(data []byte, n int) ([]simOutput, error) {
	outs := make([]simOutput, n)
	cur := -1
	var text strings.Builder
	flush := func() {
		if cur >= 0 {
			outs[cur].text = text.String()
		}
		text.Reset()
	}
	seen := 0
	s := bufio.NewScanner(bytes.NewReader(data))
	s.Buffer(make([]byte, 64<<10), 1<<20)
	for s.Scan() {
		l := s.Text()
		if v, ok := strings.CutPrefix(l, simFailed); ok {
			i, err := strconv.Atoi(v)
			if err != nil || i != cur {
				return nil, fmt.Errorf("simulate: unexpected line %q", l)
			}
			outs[i].failed = true
			continue
		}
		if v, ok := strings.CutPrefix(l, simMarker); ok {
			i, err := strconv.Atoi(v)
			if err != nil || i != seen {
				return nil, fmt.Errorf("simulate: unexpected line %q", l)
			}
			flush()
			cur, seen = i, seen+1
			continue
		}
		if cur < 0 {
			continue // the update's output
		}
		text.WriteString(l + "\n")
		it, ok, err := parseURILine(l)
		if err != nil {
			return nil, err
		}
		if ok && !strings.HasPrefix(it.URL, "file:/stx/repo-") {
			outs[cur].items = append(outs[cur].items, it)
		}
	}
	flush()
	if err := s.Err(); err != nil {
		return nil, err
	}
	if seen != n {
		return nil, fmt.Errorf("simulate: output of %d of %d groups", seen, n)
	}
	return outs, nil
}

// simRepos writes the stand-in repositories, one per architecture of
// reqs, at workDir/repos/<arch> (the trees are in workDir/src): the binaries each request builds, as its
// debian/control declares them; Architecture: all ones in every
// architecture's (as the builds publish them). It returns the
// architectures, sorted.
func simRepos(reqs []SimRequest, ctl []string, workDir string) ([]string, error) {
	byArch := map[string][]string{}
	var indep []string
	seen := map[string]bool{}
	srcDir, dir := filepath.Join(workDir, simSrc), filepath.Join(workDir, simRepoDir)
	for i, r := range reqs {
		if _, ok := byArch[r.Arch]; !ok {
			byArch[r.Arch] = nil
		}
		file := filepath.Join(srcDir, ctl[i], "debian", "control")
		paras, err := deb822.ParseFile(file)
		if err != nil {
			return nil, err
		}
		declared := map[string]bool{}
		add := func(p *deb822.Paragraph, name, arch string) {
			k := name + " " + arch
			if seen[k] {
				return
			}
			seen[k] = true
			st := standIn(p, name, r.Package.Version, arch)
			if arch == "all" {
				indep = append(indep, st)
			} else {
				byArch[r.Arch] = append(byArch[r.Arch], st)
			}
		}
		for _, p := range paras {
			name := p.Value("Package")
			if name == "" || !slices.Contains(r.Binaries, name) {
				continue
			}
			declared[name] = true
			arch := r.Arch
			if p.Value("Architecture") == "all" {
				arch = "all"
			}
			add(&p, name, arch)
		}
		// Binaries the graph knows but the control file does not declare
		// (a kernel's, named by its manifest): name and version only.
		for _, name := range r.Binaries {
			if !declared[name] {
				add(&deb822.Paragraph{}, name, r.Arch)
			}
		}
	}
	archs := make([]string, 0, len(byArch))
	for a := range byArch {
		archs = append(archs, a)
	}
	slices.Sort(archs)
	for _, a := range archs {
		stanzas := append(slices.Clone(byArch[a]), indep...)
		slices.Sort(stanzas)
		if err := writeSimRepo(filepath.Join(dir, a), a, stanzas); err != nil {
			return nil, err
		}
	}
	return archs, nil
}

// standIn is the index stanza of a binary package not built yet: its
// relations with ${binary:Version} and ${source:Version} replaced by
// version and every other substitution variable's alternatives left out.
func standIn(p *deb822.Paragraph, name, version, arch string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Package: %s\nVersion: %s\nArchitecture: %s\n", name, version, arch)
	if v := p.Value("Multi-Arch"); v != "" {
		fmt.Fprintf(&b, "Multi-Arch: %s\n", v)
	}
	for _, f := range []string{"Pre-Depends", "Depends", "Provides", "Conflicts", "Breaks"} {
		if v := substRelations(p.Value(f), version); v != "" {
			fmt.Fprintf(&b, "%s: %s\n", f, v)
		}
	}
	// apt's index needs a file; the stand-ins are never fetched (their
	// URLs are file:/stx/repo-*, left out of the sets).
	v := version
	if _, after, ok := strings.Cut(v, ":"); ok {
		v = after
	}
	sum := sha256.Sum256([]byte(name + " " + version + " " + arch))
	fmt.Fprintf(&b, "Filename: pool/%s_%s_%s.deb\nSize: 1\nSHA256: %s\n", name, v, arch, hex.EncodeToString(sum[:]))
	return b.String()
}

// substRelations replaces the version variables of a relation field and
// drops the comma-separated entries that name any other variable.
func substRelations(val, version string) string {
	val = strings.Join(strings.Fields(val), " ")
	val = strings.NewReplacer("${binary:Version}", version, "${source:Version}", version).Replace(val)
	var keep []string
	for _, e := range strings.Split(val, ",") {
		e = strings.TrimSpace(e)
		if e == "" || strings.Contains(e, "${") {
			continue
		}
		keep = append(keep, e)
	}
	return strings.Join(keep, ", ")
}

// writeSimRepo writes dir as an apt repository "stx main" for arch
// holding stanzas.
func writeSimRepo(dir, arch string, stanzas []string) error {
	rel := filepath.Join("main", "binary-"+arch, "Packages")
	idx := filepath.Join(dir, "dists", "stx", rel)
	if err := os.MkdirAll(filepath.Dir(idx), 0o755); err != nil {
		return err
	}
	data := []byte(strings.Join(stanzas, "\n"))
	if err := os.WriteFile(idx, data, 0o644); err != nil {
		return err
	}
	sum := sha256.Sum256(data)
	release := fmt.Sprintf("Origin: stx-build\nLabel: stx-build simulate\nSuite: stx\nCodename: stx\nArchitectures: %s\nComponents: main\nDate: Thu, 01 Jan 1970 00:00:00 UTC\nSHA256:\n %s %d %s\n", arch, hex.EncodeToString(sum[:]), len(data), rel)
	return os.WriteFile(filepath.Join(dir, "dists", "stx", "Release"), []byte(release), 0o644)
}

// lastLines are the last n non-empty lines of s, joined by "; ".
func lastLines(s string, n int) string {
	var ls []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			ls = append(ls, l)
		}
	}
	if len(ls) > n {
		ls = ls[len(ls)-n:]
	}
	return strings.Join(ls, "; ")
}
