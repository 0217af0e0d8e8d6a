// Package buildkey computes the build key of every package of a project on
// every architecture before anything is built: a digest of the normalized
// manifest, the source (a local tree's every file, or the .dsc that pins
// an upstream source), the patches, the build settings, the base root and
// the archive state it pins, and the keys of the local packages whose
// binaries the build may install. Since a dependency's key covers its own
// dependencies, a change anywhere reaches every transitive dependent.
// See docs/cache.md for what is (and is not) an input, and why.
package buildkey

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"

	"golang.org/x/sync/errgroup"

	"github.com/stx-build/stx-build/cache"
	"github.com/stx-build/stx-build/cache/filehash"
	"github.com/stx-build/stx-build/graph"
	"github.com/stx-build/stx-build/manifests"
	"github.com/stx-build/stx-build/rootfs"
	"github.com/stx-build/stx-build/workspace"
)

// Base is what of the base root goes into keys.
type Base struct {
	// Key is the base root's key (rootfs.Base.Key: its spec, recipe and
	// mmdebstrap version).
	Key string
	// Archive is a digest of the apt Release files kept in the base root:
	// they pin every archive index (and so every archive package version)
	// the build-dependencies are resolved against. --refresh-base can
	// remake a base under the same Key from a newer archive; Archive
	// tells the two apart.
	Archive string
}

// ReadBase returns the Base of a made base root. A root made from a
// lock (rootfs.Spec.Locked) installs the locked packages only: their
// digest is its archive state, whatever the archive's Release files say
// now (and whichever key signed the locked repositories).
func ReadBase(b *rootfs.Base) (Base, error) {
	if b.Spec.Locked != "" {
		return Base{Key: b.Key, Archive: "stx.lock " + b.Spec.Locked}, nil
	}
	archive, err := ArchiveDigest(b.Dir)
	if err != nil {
		return Base{}, err
	}
	return Base{Key: b.Key, Archive: archive}, nil
}

// ArchiveDigest is a digest of the InRelease and Release files under
// root/var/lib/apt/lists (by name order); "none" when there are none.
func ArchiveDigest(root string) (string, error) {
	dir := filepath.Join(root, "var", "lib", "apt", "lists")
	des, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		return "", fmt.Errorf("base root: %w", err)
	}
	h := sha256.New()
	n := 0
	for _, de := range des { // ReadDir sorts by name
		name := de.Name()
		if !de.Type().IsRegular() || !(strings.HasSuffix(name, "_InRelease") || strings.HasSuffix(name, "_Release")) {
			continue
		}
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			return "", fmt.Errorf("base root: %w", err)
		}
		fmt.Fprintf(h, "%d:%s", len(name), name)
		_, err = io.Copy(h, f)
		f.Close()
		if err != nil {
			return "", fmt.Errorf("base root: %s: %w", name, err)
		}
		n++
	}
	if n == 0 {
		return "none", nil
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Options configure New.
type Options struct {
	// Builder is the package builder's recipe version (builders/deb.Version).
	// Required: a new recipe must not reuse old artifacts.
	Builder string
	// BuildArch is the build machine's architecture (default: this one's).
	BuildArch string
	// Base is the base root (ReadBase). Required.
	Base Base
	// Emulated are the base roots of emulated builds by architecture
	// (workspace.EmulatedBaseSpec), for every architecture on which a
	// package builds emulated (workspace.Emulated); without it nothing on
	// that architecture has a key (Plan.Build says no).
	Emulated map[string]Base
	// Hasher hashes local source trees (default: one without a stat
	// cache; pass filehash.New(CACHE/filehash) to reuse digests).
	Hasher *filehash.Hasher
	// Graphs are the compiled graphs by architecture; missing ones are
	// compiled from the workspace. Selected subgraphs are fine as long as
	// they keep what the selected packages need (graph.Needs).
	Graphs map[string]*graph.Graph
}

// Plan holds the builds (keys and their inputs) of a project.
type Plan struct {
	builds map[string]cache.Build // by "package/arch"
	// errs are graphs that did not compile, by architecture: only keys
	// that need them fail.
	errs map[string]error
}

// Build returns the build of pkg on arch. ok is false when pkg builds
// nothing on arch (an Architecture: all package on a later architecture,
// or a package not built there).
func (p *Plan) Build(pkg, arch string) (b cache.Build, ok bool) {
	b, ok = p.builds[pkg+"/"+arch]
	return b, ok
}

// Current looks a build up by a dependency input's name ("package/arch"),
// for cache.Explain.
func (p *Plan) Current(dep string) (cache.Build, bool) {
	b, ok := p.builds[dep]
	return b, ok
}

// Builds returns every build, sorted by package and architecture.
func (p *Plan) Builds() []cache.Build {
	ids := make([]string, 0, len(p.builds))
	for id := range p.builds {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	out := make([]cache.Build, len(ids))
	for i, id := range ids {
		out[i] = p.builds[id]
	}
	return out
}

// static are the inputs of a package that do not depend on the architecture.
type static struct {
	version string
	inputs  []cache.Input
}

// New computes the build of every package on every project architecture.
// It prepares the workspace's sources (ws.Prepare: local trees are only
// located; upstream ones are fetched if not cached).
func New(ctx context.Context, ws *workspace.Workspace, opts Options) (*Plan, error) {
	if opts.Builder == "" {
		return nil, fmt.Errorf("build keys: no builder version given")
	}
	if opts.Base.Key == "" || opts.Base.Archive == "" {
		return nil, fmt.Errorf("build keys: no base root given")
	}
	if opts.BuildArch == "" {
		opts.BuildArch = workspace.HostArch()
	}
	if opts.Hasher == nil {
		opts.Hasher = filehash.New("")
	}
	prepared, err := ws.Prepare(ctx)
	if err != nil {
		return nil, err
	}
	statics, err := staticInputs(ctx, prepared, opts.Hasher)
	if err != nil {
		return nil, err
	}
	c := &computer{
		ws: ws, opts: opts, statics: statics,
		graphs: map[string]*graph.Graph{}, plan: &Plan{builds: map[string]cache.Build{}, errs: map[string]error{}},
		state: map[string]int{}, prepared: map[string]*workspace.Prepared{},
	}
	for _, pr := range prepared {
		c.prepared[pr.Package.Name] = pr
	}
	archs := ws.Project.Architectures
	for _, a := range archs {
		g := opts.Graphs[a]
		if g == nil {
			if g, err = ws.Graph(ctx, a); err != nil {
				c.plan.errs[a] = err
				continue
			}
		}
		c.graphs[a] = g
		if b, ok := opts.Emulated[a]; !ok || b.Key == "" {
			if emu := ws.EmulatedArchs(prepared, []string{a}); len(emu) > 0 {
				// Without the emulated base root nothing on a is keyed: it
				// is built, not restored.
				c.plan.errs[a] = fmt.Errorf("packages build emulated on %s, but no emulated base root for %s was given", a, a)
				delete(c.graphs, a)
			}
		}
	}
	for _, a := range archs {
		g := c.graphs[a]
		if g == nil {
			continue
		}
		for _, n := range g.Nodes {
			if _, err := c.key(n.Name, a); err != nil {
				return nil, err
			}
		}
	}
	return c.plan, nil
}

// staticInputs hashes every package's manifest, source and patches, a few
// packages at a time.
func staticInputs(ctx context.Context, prepared []*workspace.Prepared, h *filehash.Hasher) (map[string]*static, error) {
	out := make([]*static, len(prepared))
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(max(4, 2*runtime.NumCPU()))
	for i, pr := range prepared {
		g.Go(func() error {
			if err := ctx.Err(); err != nil {
				return err
			}
			s, err := packageInputs(pr, h)
			if err != nil {
				return fmt.Errorf("package %s: build key: %w", pr.Package.Name, err)
			}
			out[i] = s
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	m := make(map[string]*static, len(out))
	for i, pr := range prepared {
		m[pr.Package.Name] = out[i]
	}
	return m, nil
}

// packageInputs are the architecture-independent inputs of one package.
func packageInputs(pr *workspace.Prepared, h *filehash.Hasher) (*static, error) {
	s := &static{version: pr.Source.Version}
	add := func(kind, name, value string) {
		s.inputs = append(s.inputs, cache.Input{Kind: kind, Name: name, Value: value})
	}
	for _, f := range ManifestFields(pr.Package) {
		add(cache.KindManifest, f[0], f[1])
	}
	add(cache.KindBuild, "version", pr.Source.Version)
	if k := pr.Package.Source.Kernel; k != nil {
		// The tarball is pinned by its sha256; the configuration may live
		// outside the package directory (arch/<arch>/kernel), so its files
		// are hashed here, wherever they are.
		add(cache.KindSource, "kernel.tarball", "sha256 "+strings.ToLower(k.Tarball.SHA256))
		add(cache.KindManifest, "kernel.localversion", k.LocalVersion)
		if k.Signing != nil {
			// The key pair, by its certificate: the path is the machine's
			// business, and nothing derived from the private key is kept.
			add(cache.KindSource, "kernel.module-signing-key", "x509 sha256 "+k.Signing.CertSHA256)
		}
		archs := make([]string, 0, len(k.Config))
		for a := range k.Config {
			archs = append(archs, a)
		}
		slices.Sort(archs)
		for _, a := range archs {
			c := k.Config[a]
			files := c.Fragments
			if !slices.Contains(manifests.KernelBaseTargets, c.Base) {
				files = append([]string{c.Base}, files...)
			} else {
				add(cache.KindManifest, "kernel.config."+a+".base", c.Base)
			}
			for i, f := range files {
				sum, err := h.File(filepath.Join(pr.Package.Dir, f))
				if err != nil {
					return nil, err
				}
				add(cache.KindSource, fmt.Sprintf("kernel.config.%s.%02d %s", a, i, f), "sha256 "+sum)
			}
		}
	}
	switch {
	case pr.Fetched.DSC != "":
		// The .dsc lists every file of the source with its sha256, and the
		// fetcher verified them: its digest pins the whole source.
		sum, err := h.File(pr.Fetched.DSC)
		if err != nil {
			return nil, err
		}
		add(cache.KindSource, filepath.Base(pr.Fetched.DSC), "dsc "+sum)
	default:
		entries, err := h.Tree(pr.Fetched.Dir, filehash.SkipVCS)
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			add(cache.KindSource, e.Path, e.Value())
		}
	}
	for i, p := range pr.Package.Patches {
		sum, err := h.File(filepath.Join(pr.Package.Dir, p))
		if err != nil {
			return nil, err
		}
		add(cache.KindPatch, fmt.Sprintf("%02d %s", i+1, p), "sha256 "+sum)
	}
	return s, nil
}

// ManifestFields are the manifest settings that can change what a build
// produces, as (name, value) pairs; settings at their default are left out,
// so spelling a default out changes no key. Comments, formatting, the
// local source's directory name, a .dsc's URL (its sha256 pins it) and the
// scheduling settings (build.jobs, build.serial, build.tmpfs,
// build.estimate) are not among them.
func ManifestFields(p *manifests.Package) [][2]string {
	f := [][2]string{{"name", p.Name}}
	switch src := p.Source; {
	case src.Debian != "":
		f = append(f, [2]string{"source", "debian " + src.Debian})
	case src.DSC != nil:
		f = append(f, [2]string{"source", "dsc " + strings.ToLower(src.DSC.SHA256)})
	default:
		f = append(f, [2]string{"source", "local"})
	}
	if len(p.Patches) > 0 {
		f = append(f, [2]string{"patches", strings.Join(p.Patches, ",")})
	}
	if len(p.Architectures) > 0 {
		f = append(f, [2]string{"architectures", sortedList(p.Architectures)})
	}
	if p.Build.Nocheck {
		f = append(f, [2]string{"build.nocheck", "true"})
	}
	if len(p.Build.Profiles) > 0 {
		f = append(f, [2]string{"build.profiles", sortedList(p.Build.Profiles)})
	}
	if !p.CrossBuildable() {
		f = append(f, [2]string{"build.cross", "false"})
	}
	return f
}

func sortedList(xs []string) string {
	s := slices.Clone(xs)
	slices.Sort(s)
	return strings.Join(slices.Compact(s), ",")
}

// computer computes keys depth first, memoized.
type computer struct {
	ws       *workspace.Workspace
	opts     Options
	statics  map[string]*static
	prepared map[string]*workspace.Prepared
	graphs   map[string]*graph.Graph
	plan     *Plan
	state    map[string]int // 1: in progress, 2: done
}

// node returns pkg's node on arch, or an error when arch's graph did not
// compile.
func (c *computer) node(pkg, arch string) (*graph.Node, error) {
	g := c.graphs[arch]
	if g == nil {
		if err, ok := c.plan.errs[arch]; ok {
			return nil, fmt.Errorf("build keys on %s: %w", arch, err)
		}
		return nil, nil
	}
	return g.Node(pkg), nil
}

// key returns the key of pkg on arch ("" when it builds nothing there).
func (c *computer) key(pkg, arch string) (cache.Key, error) {
	id := pkg + "/" + arch
	switch c.state[id] {
	case 2:
		return c.plan.builds[id].Key, nil
	case 1:
		return "", fmt.Errorf("build keys: %s depends on itself across architectures (through Architecture: all or build-architecture packages)", id)
	}
	c.state[id] = 1
	defer func() { c.state[id] = 2 }()
	n, err := c.node(pkg, arch)
	if err != nil || n == nil || n.Parts() == "" {
		return "", err
	}
	st := c.statics[pkg]
	pr := c.prepared[pkg]
	if st == nil || pr == nil {
		return "", fmt.Errorf("build keys: %s is in the %s graph but not in the project", pkg, arch)
	}
	in := slices.Clone(st.inputs)
	add := func(kind, name, value string) {
		in = append(in, cache.Input{Kind: kind, Name: name, Value: value})
	}
	// An emulated build is a native one on the architecture's own base
	// root under qemu-user: another build machine, another base, no cross
	// profiles; its .debs differ from a cross build's.
	buildArch, base := c.opts.BuildArch, c.opts.Base
	emulated, _ := c.ws.Emulated(pr, arch)
	if emulated {
		buildArch, base = arch, c.opts.Emulated[arch]
	}
	cross := arch != buildArch
	add(cache.KindBuild, "builder", "deb "+c.opts.Builder)
	add(cache.KindBuild, "arch", arch)
	add(cache.KindBuild, "build-arch", buildArch)
	if emulated {
		add(cache.KindBuild, "emulated", "qemu-user on "+c.opts.BuildArch)
	}
	add(cache.KindBuild, "parts", n.Parts())
	// The profiles the builder passes (builders/deb profiles()): the
	// package's, plus cross and nocheck for a cross build.
	prof := slices.Clone(pr.Source.Profiles)
	if cross {
		prof = append(prof, "cross", "nocheck")
	}
	add(cache.KindBuild, "profiles", sortedList(prof))
	// Project and command-line profiles decide how Build-Depends resolve.
	if gp := c.ws.GraphOptions(arch).Profiles; len(gp) > 0 {
		add(cache.KindBuild, "graph-profiles", sortedList(gp))
	}
	add(cache.KindBase, "rootfs", base.Key)
	add(cache.KindBase, "archive", base.Archive)
	deps, err := c.depKeys(n, arch, cross)
	if err != nil {
		return "", err
	}
	for _, d := range deps {
		add(cache.KindDep, d[0], d[1])
	}
	b, err := cache.NewBuild(pkg, st.version, arch, in)
	if err != nil {
		return "", err
	}
	c.plan.builds[id] = b
	return b.Key, nil
}

// depKeys are the keys of the local builds whose binaries n's build on
// arch may install, as ("package/arch", key) pairs: every local
// build-dependency's build on arch; on a later architecture also its
// Architecture: all build on the first one (those binaries come from
// there); in a cross build also its build on the build architecture (tools
// and Multi-Arch: foreign packages are installed for the build machine;
// an emulated build installs everything for arch).
func (c *computer) depKeys(n *graph.Node, arch string, cross bool) ([][2]string, error) {
	first := c.ws.IndepArch()
	var out [][2]string
	seen := map[string]bool{}
	add := func(dep, a string) (bool, error) {
		k, err := c.key(dep, a)
		if err != nil || k == "" {
			return false, err
		}
		if id := dep + "/" + a; !seen[id] {
			seen[id] = true
			out = append(out, [2]string{id, string(k)})
		}
		return true, nil
	}
	for _, dep := range n.Deps {
		found := false
		ok, err := add(dep, arch)
		if err != nil {
			return nil, err
		}
		found = found || ok
		if arch != first {
			dn, err := c.node(dep, first)
			if err != nil {
				return nil, err
			}
			if dn != nil && dn.BuildsIndep {
				ok, err := add(dep, first)
				if err != nil {
					return nil, err
				}
				found = found || ok
			}
		}
		if cross {
			ok, err := add(dep, c.opts.BuildArch)
			if err != nil {
				return nil, err
			}
			found = found || ok
		}
		if !found {
			return nil, fmt.Errorf("build keys: %s on %s build-depends on %s, which builds nothing there or on %s", n.Name, arch, dep, first)
		}
	}
	slices.SortFunc(out, func(a, b [2]string) int { return strings.Compare(a[0], b[0]) })
	return out, nil
}
