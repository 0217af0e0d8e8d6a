package deb

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"pault.ag/go/debian/dependency"

	"github.com/stx-build/stx-build/deb822"
	"github.com/stx-build/stx-build/graph"
	"github.com/stx-build/stx-build/internal/atomicfile"
	"github.com/stx-build/stx-build/ramdisk"
	"github.com/stx-build/stx-build/runner"
	"github.com/stx-build/stx-build/store"
)

// A resolution (the resolve step's apt-get build-dep -s and --print-uris
// output) is cached under a key naming everything apt read to make it, so
// a build whose inputs did not change skips the sandbox run, apt's update
// of the local repositories and the two resolver runs:
//
//   - the base root (its key) and the archive state its package lists
//     hold (the digests of their Release files);
//   - the resolve script: the local repositories' sources lines, the
//     pins (the project's packages, the lock's versions), apt-get's
//     options (host architecture, profiles, -arch-only/-indep-only);
//   - the source's build relations as apt evaluates them (its
//     Build-Depends* and Build-Conflicts* fields for these parts, with the
//     architecture and profile restrictions applied);
//   - each local repository as the resolver sees it (repo.ResolverDigest:
//     every index stanza without the file's name, size and checksums) and
//     the keyring that verifies them;
//   - the lock's set.
//
// What a rebuilt project package changes (its file and digest) is not
// part of the key: parseSimulation takes the local packages' digests from
// the repositories as they are now, so the layer key still changes with
// them.

// resolutionVersion is part of every resolution key.
const resolutionVersion = "stx-build resolution v1"

// NoResolveCacheEnv, when set to anything, turns the resolution cache off
// for every Builder (the benchmark's "before").
const NoResolveCacheEnv = "STX_NO_RESOLVE_CACHE"

// resolveInputs are the inputs of a resolution, see above.
type resolveInputs struct {
	Base      string
	Releases  []store.LockRelease
	Script    string
	Relations []string
	Repos     []string // "arch resolver-digest", sorted by arch
	Keyring   string   // sha256 of the keyring file ("" none)
	Lock      string   // sha256 of the lock's set as JSON ("" no lock)
}

// key is the digest of in.
func (in *resolveInputs) key() string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\nbase %s\n", resolutionVersion, in.Base)
	for _, r := range in.Releases {
		fmt.Fprintf(h, "release %s %s\n", r.Name, r.SHA256)
	}
	fmt.Fprintf(h, "script %d\n%s\n", len(in.Script), in.Script)
	for _, r := range in.Relations {
		fmt.Fprintf(h, "relation %s\n", r)
	}
	for _, r := range in.Repos {
		fmt.Fprintf(h, "repo %s\n", r)
	}
	fmt.Fprintf(h, "keyring %s\nlock %s\n", in.Keyring, in.Lock)
	return hex.EncodeToString(h.Sum(nil))
}

// cacheResolutions says whether b caches resolutions.
func (b *Builder) cacheResolutions() bool {
	return !b.NoResolveCache && os.Getenv(NoResolveCacheEnv) == "" && b.LayerDir != ""
}

// resolutionDir holds the cached resolutions: "resolutions" beside
// LayerDir in the cache.
func (b *Builder) resolutionDir() string {
	return filepath.Join(filepath.Dir(b.LayerDir), "resolutions")
}

// resolveInputs gathers the inputs of req's resolution with script, for
// the source tree at controlDir.
func (b *Builder) resolveInputs(req Request, controlDir, script string, releases []store.LockRelease) (*resolveInputs, error) {
	in := &resolveInputs{Base: b.Base.Key, Releases: releases, Script: script}
	var err error
	file := filepath.Join(controlDir, "debian", "control")
	if in.Relations, err = buildRelations(file, req.Arch, profiles(req, b.HostArch), req.Parts); err != nil {
		return nil, err
	}
	for _, a := range repoArchs(req) {
		d, err := req.Repos[a].ResolverDigest()
		if err != nil {
			return nil, err
		}
		in.Repos = append(in.Repos, a+" "+d)
	}
	if req.RepoKeyring != "" && len(req.Repos) > 0 {
		data, err := os.ReadFile(req.RepoKeyring)
		if err != nil {
			return nil, err
		}
		in.Keyring = digest(data)
	}
	if set := b.lockSet(req); set != nil {
		data, err := json.Marshal(set)
		if err != nil {
			return nil, err
		}
		in.Lock = digest(data)
	}
	return in, nil
}

func digest(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// buildRelationFields are the source fields apt-get build-dep reads, and
// the parts ("any", "all") that skip them.
var buildRelationFields = []struct{ name, skippedBy string }{
	{"Build-Depends", ""},
	{"Build-Depends-Arch", "all"},
	{"Build-Depends-Indep", "any"},
	{"Build-Conflicts", ""},
	{"Build-Conflicts-Arch", "all"},
	{"Build-Conflicts-Indep", "any"},
}

// buildRelations are the build relations of the source stanza of the
// debian/control file, as apt-get build-dep evaluates them for arch with
// the profiles and parts: "Field: relation" for each relation that
// applies. A field the relation parser does not take is kept as written
// (a key that changes with more than it must, never with less).
func buildRelations(file, arch string, prof []string, parts string) ([]string, error) {
	paras, err := deb822.ParseFile(file)
	if err != nil {
		return nil, err
	}
	if len(paras) == 0 {
		return nil, fmt.Errorf("%s: empty", file)
	}
	var out []string
	for _, f := range buildRelationFields {
		if f.skippedBy != "" && f.skippedBy == parts {
			continue
		}
		val := strings.Join(strings.Fields(paras[0].Value(f.name)), " ")
		if val == "" {
			continue
		}
		rels, err := applicableRelations(val, arch, prof)
		if err != nil {
			out = append(out, f.name+" as written: "+val)
			continue
		}
		for _, r := range rels {
			out = append(out, f.name+": "+r)
		}
	}
	return out, nil
}

func applicableRelations(val, arch string, prof []string) ([]string, error) {
	d, err := dependency.Parse(val)
	if err != nil {
		return nil, err
	}
	return graph.ApplicableRelations(*d, arch, prof)
}

// loadResolution returns the cached resolution under key, if there is one.
func (b *Builder) loadResolution(key string) ([]byte, bool) {
	data, err := os.ReadFile(filepath.Join(b.resolutionDir(), key))
	if err != nil {
		return nil, false
	}
	return data, true
}

// saveResolution caches the lines of a resolve step's output that
// parseSimulation reads (apt's Inst lines and the download lines).
func (b *Builder) saveResolution(key string, out []byte) error {
	var keep bytes.Buffer
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if l := sc.Text(); strings.HasPrefix(l, "Inst ") || strings.HasPrefix(l, "'") {
			keep.WriteString(l + "\n")
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	if err := os.MkdirAll(b.resolutionDir(), 0o755); err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(b.resolutionDir(), key), keep.Bytes(), 0o644)
}

// resolution is req's resolved set: the cached one when its inputs are
// those of a cached resolution, else the resolve step run now (and
// cached).
func (b *Builder) resolution(ctx context.Context, slot *ramdisk.Slot, req Request, srcDir, script string, releases []store.LockRelease, debs map[string]localDeb, log io.Writer) (*depSet, error) {
	var key string
	if b.cacheResolutions() {
		// Inputs that cannot be read (a debian/control apt takes but the
		// strict reader does not) only mean no caching: apt decides.
		if in, err := b.resolveInputs(req, filepath.Join(slot.Dir, "build", srcDir), script, releases); err != nil {
			fmt.Fprintf(log, "stx-build: build-deps resolution not cached: %v\n", err)
		} else {
			key = in.key()
		}
	}
	if key != "" {
		if data, ok := b.loadResolution(key); ok {
			if ds, err := parseSimulation(bytes.NewReader(data), debs); err == nil {
				fmt.Fprintf(log, "stx-build: build-deps resolution %s: cached\n", short(key))
				ds.Cached = true
				return ds, nil
			}
		}
	}
	out, err := b.runResolve(ctx, slot, req, script, log)
	if err != nil {
		return nil, err
	}
	ds, err := parseSimulation(bytes.NewReader(out), debs)
	if err != nil {
		return nil, fmt.Errorf("resolve build-deps: %w", err)
	}
	if key != "" {
		if err := b.saveResolution(key, out); err != nil {
			fmt.Fprintf(log, "stx-build: build-deps resolution %s not cached: %v\n", short(key), err)
		}
	}
	return ds, nil
}

// runResolve runs the resolve step (script) in the sandbox, with the
// network and the local repositories, and returns its output.
func (b *Builder) runResolve(ctx context.Context, slot *ramdisk.Slot, req Request, script string, log io.Writer) ([]byte, error) {
	step := runner.NewStep("resolve", "/bin/sh", "-ec", script).WithEnv(baseEnv(0)...).WithNetwork()
	step = withRepos(step, req).WithInput(filepath.Join(slot.Dir, "build"), "/build")
	var sim bytes.Buffer
	tail := &runner.LogTail{Max: 16 << 10}
	local := &runner.LocalExecutor{Runner: b.Runner, Base: b.Base.Dir}
	upper := filepath.Join(slot.Dir, "deps-sim")
	if err := local.RunStep(ctx, step, upper, io.MultiWriter(&sim, log, tail), io.MultiWriter(log, tail)); err != nil {
		return nil, withCause(fmt.Errorf("resolve build-deps: %w", err), tail.Bytes(), req.Package.Name, req.Arch, req.Arch != b.HostArch)
	}
	_ = os.RemoveAll(upper)
	return sim.Bytes(), nil
}

func short(key string) string { return key[:min(12, len(key))] }
