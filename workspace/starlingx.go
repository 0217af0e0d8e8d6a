package workspace

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/stx-build/stx-build/deb822"
	"github.com/stx-build/stx-build/debsrc"
	"github.com/stx-build/stx-build/graph"
	"github.com/stx-build/stx-build/manifests"
	"github.com/stx-build/stx-build/manifests/starlingx"
	"github.com/stx-build/stx-build/sources"
)

// stxTree is the StarlingX tree a project takes packages from.
type stxTree struct {
	tree *starlingx.Tree
	// byName maps the packages taken from the tree to their entries.
	byName map[string]*starlingx.Package
	// hookRoot, when set (tests), is the root dl_hook scripts run on
	// instead of the project's base root.
	hookRoot func(context.Context) (hookRoot, error)
}

// UnresolvedError says which packages could not be prepared here, so
// building would leave holes; Packages is sorted by name.
type UnresolvedError struct {
	Packages []graph.Unresolved
}

func (e *UnresolvedError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d package(s) unresolved; fix them, or list them in starlingx.exclude in %s to build without them:", len(e.Packages), manifests.ProjectFile)
	for _, u := range e.Packages {
		fmt.Fprintf(&b, "\n  %s: %s", u.Package, u.Reason)
	}
	return b.String()
}

// StarlingX returns the tree the project reads (nil when it names none).
func (w *Workspace) StarlingX() *starlingx.Tree {
	if w.stx == nil {
		return nil
	}
	return w.stx.tree
}

// openStarlingX reads the project's StarlingX tree and adds its packages,
// except excluded ones and those the project defines itself, to the
// project's package list as manifests whose source is set when prepared.
func (w *Workspace) openStarlingX() error {
	s := w.Project.StarlingX
	if s == nil {
		return nil
	}
	tr, err := starlingx.Read(starlingx.Config{Root: s.Root, Codename: w.Project.Suite, BuildType: s.BuildType, Layer: s.Layer})
	if err != nil {
		return err
	}
	w.stx = &stxTree{tree: tr, byName: map[string]*starlingx.Package{}}
	own := map[string]bool{}
	for _, p := range w.Project.PackageList {
		own[p.Name] = true
	}
	excluded := map[string]bool{}
	for _, name := range s.Exclude {
		excluded[name] = true
		if tr.Package(name) == nil {
			fmt.Fprintf(w.opts.Log, "warning: %s: starlingx.exclude: no package %q in the tree\n", manifests.ProjectFile, name)
		}
	}
	for _, sp := range tr.Packages {
		if excluded[sp.Name] {
			continue
		}
		if own[sp.Name] {
			fmt.Fprintf(w.opts.Log, "starlingx: %s: the project's own package replaces the tree's (%s)\n", sp.Name, sp.MetaFile)
			continue
		}
		w.stx.byName[sp.Name] = sp
		w.Project.PackageList = append(w.Project.PackageList, stxManifest(tr, sp))
	}
	sort.SliceStable(w.Project.PackageList, func(i, j int) bool {
		return w.Project.PackageList[i].Name < w.Project.PackageList[j].Name
	})
	return nil
}

// stxManifest is the manifest a tree package stands for: StarlingX's
// build settings (serial, nocheck by default) and, for sources fetched
// from Debian, the name=version apt fetches through the project's mirror.
func stxManifest(tr *starlingx.Tree, sp *starlingx.Package) *manifests.Package {
	pkg := &manifests.Package{Dir: sp.MetaDir, File: filepath.Join(tr.Root, sp.MetaFile), Name: sp.Name}
	pkg.Build.Serial = sp.Meta.Serial
	pkg.Build.Nocheck = true // build-pkgs sets DEB_BUILD_OPTIONS=nocheck unless -t
	switch {
	case sp.Kind == starlingx.KindArchive, sp.Kind == starlingx.KindApt:
		// Fetched by name=version, then unpacked and assembled
		// (assembleDebian): the source becomes a local tree.
		pkg.Source.Debian = sp.Name + "=" + sp.Meta.DebVer
	case sp.Kind == starlingx.KindDLHook && sp.Meta.Archive != "":
		// The .dsc and its files are put beside the script, as StarlingX's
		// downloader does (starlingx_hook.go); the hook's output becomes
		// the local tree.
		pkg.Source.Debian = sp.Name + "=" + sp.Meta.DebVer
	}
	return pkg
}

// stxTreeSource reads the graph input of a tree package from its
// deb_folder, when that is its whole debian/: a src_path package's
// always is; another kind's is when deb_folder has control and changelog
// and no deb_patches edit them. ok is false, with the reason, otherwise.
func (w *Workspace) stxTreeSource(sp *starlingx.Package) (graph.Source, debsrc.Changelog, string, error) {
	if sp.DebFolder == "" {
		return graph.Source{}, debsrc.Changelog{}, w.stxNeeds(sp, "has no deb_folder"), nil
	}
	if sp.Kind != starlingx.KindSrcPath && len(sp.DebPatches) > 0 {
		return graph.Source{}, debsrc.Changelog{}, w.stxNeeds(sp, "has deb_patches that edit its debian/"), nil
	}
	for _, f := range []string{"control", "changelog"} {
		if _, err := os.Stat(filepath.Join(sp.DebFolder, f)); err != nil {
			return graph.Source{}, debsrc.Changelog{}, w.stxNeeds(sp, "has no deb_folder/"+f), nil
		}
	}
	src, cl, err := readDebianDir(sp.DebFolder, kernelType(w.Project.StarlingX.BuildType))
	if err != nil {
		return graph.Source{}, debsrc.Changelog{}, "", err
	}
	return src, cl, "", nil
}

// stxNeeds is the reason a tree package's debian/ is not in the tree.
func (w *Workspace) stxNeeds(sp *starlingx.Package, why string) string {
	m := sp.Meta
	var from string
	switch sp.Kind {
	case starlingx.KindArchive:
		from = fmt.Sprintf("its source is %s=%s (archive %s), fetched through the project's deb-src by stx-build build", sp.Name, m.DebVer, m.Archive)
	case starlingx.KindApt:
		from = fmt.Sprintf("its source is %s=%s, fetched through the project's deb-src by stx-build build", sp.Name, m.DebVer)
	case starlingx.KindDLPath:
		from = fmt.Sprintf("its source is the tarball %s, fetched by stx-build build", m.DLPath.URL)
	case starlingx.KindDLHook:
		from = fmt.Sprintf("its source is made by the script %s", m.DLHook)
	default:
		from = "its source is in the repo"
	}
	return fmt.Sprintf("%s: %s %s, and %s", sp.MetaFile, sp.Kind, why, from)
}

// kernelType is what @KERNEL_TYPE@ stands for in a build type.
func kernelType(buildType string) string {
	if buildType == starlingx.BuildRT {
		return "-rt"
	}
	return ""
}

// readDebianDir reads control and changelog of a debian/ directory, with
// @KERNEL_TYPE@ replaced as StarlingX does in every debian file.
func readDebianDir(dir, ktype string) (graph.Source, debsrc.Changelog, error) {
	read := func(name string) (string, []byte, error) {
		f := filepath.Join(dir, name)
		data, err := os.ReadFile(f)
		if err != nil {
			return f, nil, err
		}
		return f, bytes.ReplaceAll(data, []byte("@KERNEL_TYPE@"), []byte(ktype)), nil
	}
	clFile, data, err := read("changelog")
	if err != nil {
		return graph.Source{}, debsrc.Changelog{}, err
	}
	cl, err := debsrc.ParseChangelog(clFile, data)
	if err != nil {
		return graph.Source{}, debsrc.Changelog{}, err
	}
	ctlFile, data, err := read("control")
	if err != nil {
		return graph.Source{}, debsrc.Changelog{}, err
	}
	src, err := debsrc.ParseControl(ctlFile, data, cl.Version)
	if err != nil {
		return graph.Source{}, debsrc.Changelog{}, err
	}
	if src.Name != cl.Source {
		return graph.Source{}, debsrc.Changelog{}, fmt.Errorf("%s: source %q does not match %s: %q", ctlFile, src.Name, clFile, cl.Source)
	}
	return src, cl, nil
}

// buildSize returns the XS-Build-Size (or Build-Size) of a control file's
// source stanza, "" when it has none.
func buildSize(controlFile string) string {
	paras, err := deb822.ParseFile(controlFile)
	if err != nil || len(paras) == 0 {
		return ""
	}
	for _, f := range []string{"XS-Build-Size", "Build-Size"} {
		if v := paras[0].Value(f); v != "" {
			return v
		}
	}
	return ""
}

// prepareStarlingX prepares one tree package. An unresolved package is
// reported through reason (err stays for failures that are not about the
// package's source being out of reach). With fetch false nothing is
// fetched or assembled: only what the tree itself declares is read.
func (w *Workspace) prepareStarlingX(ctx context.Context, f *sources.Fetcher, pkg *manifests.Package, sp *starlingx.Package, fetch bool) (*Prepared, string, error) {
	src, cl, reason, err := w.stxTreeSource(sp)
	if err != nil {
		// A broken file of one package leaves that package out, not the run.
		return nil, err.Error(), nil
	}
	var fetched *sources.Fetched
	switch {
	case fetch && (sp.Kind == starlingx.KindSrcPath || sp.Kind == starlingx.KindDLPath || sp.Kind == starlingx.KindDLHook):
		var dir string
		switch sp.Kind {
		case starlingx.KindSrcPath:
			dir, err = w.assembleSrcPath(ctx, sp)
		case starlingx.KindDLPath:
			dir, err = w.assembleDLPath(ctx, f, sp)
		default:
			dir, err = w.assembleDLHook(ctx, f, sp)
		}
		if err != nil {
			return nil, fmt.Sprintf("%s: %v", sp.MetaFile, err), nil
		}
		if src, cl, err = debsrc.ReadDir(dir); err != nil {
			return nil, err.Error(), nil
		}
		fetched = &sources.Fetched{Kind: sources.KindLocal, Dir: dir}
		pkg.Source.Debian = "" // a dl_hook's archive: beside the script
		if rel, err := filepath.Rel(pkg.Dir, dir); err == nil {
			pkg.Source.Local = rel
		}
	case (fetch || reason != "") && pkg.Source.Debian != "":
		if !fetch {
			return nil, reason, nil
		}
		pr, err := w.prepareOne(ctx, f, pkg)
		if err != nil {
			return nil, fmt.Sprintf("%s: %v", sp.MetaFile, err), nil
		}
		if want := sp.Meta.DSCSHA256; want != "" {
			if err := checkSHA256(pr.Fetched.DSC, want); err != nil {
				return nil, fmt.Sprintf("%s: dsc_sha256: %v", sp.MetaFile, err), nil
			}
		}
		// Unpacked, with deb_folder, deb_patches, patches and the version
		// suffix applied as debrepack.py does, it builds as a local tree.
		dir, err := w.assembleDebian(ctx, sp, pr.Fetched.DSC)
		if err != nil {
			return nil, fmt.Sprintf("%s: %v", sp.MetaFile, err), nil
		}
		if src, cl, err = debsrc.ReadDir(dir); err != nil {
			return nil, err.Error(), nil
		}
		fetched = &sources.Fetched{Kind: sources.KindLocal, Dir: dir}
		pkg.Source.Debian, pkg.Patches = "", nil
		if rel, err := filepath.Rel(pkg.Dir, dir); err == nil {
			pkg.Source.Local = rel
		}
	case reason != "":
		return nil, reason, nil
	case fetch:
		return nil, fmt.Sprintf("%s: %s sources are not prepared by stx-build yet (see docs/starlingx.md); its graph comes from deb_folder", sp.MetaFile, sp.Kind), nil
	default:
		// The version the assembled tree will carry: <version><dist>.<N>.
		fetched = &sources.Fetched{Kind: sources.KindLocal, Dir: sp.DebFolder}
		src.Version += w.stx.tree.Revision(ctx, sp).Suffix
	}
	if src.Name != pkg.Name {
		return nil, "", fmt.Errorf("%s: the source package is named %q, the tree's name for it is %q (debname or the directory)", sp.MetaFile, src.Name, pkg.Name)
	}
	mergeIndepDeps(&src) // as assembled: see mergeIndepControl
	src.Profiles = []string{"nocheck"}
	src.Origin = filepath.Join(w.stx.tree.Root, sp.MetaFile)
	control := filepath.Join(sp.DebFolder, "control")
	if fetched.Dir != sp.DebFolder {
		control = filepath.Join(fetched.Dir, "debian", "control") // as assembled
	}
	if size := buildSize(control); size != "" {
		if _, err := manifests.ParseSize(size); err == nil {
			pkg.Build.Tmpfs = size
		}
	}
	return &Prepared{Package: pkg, Fetched: fetched, Source: src, Changelog: cl}, "", nil
}

// errNotStarlingX marks a package that does not come from the tree.
var errNotStarlingX = errors.New("not a StarlingX tree package")

// stxPackage returns the tree entry of pkg.
func (w *Workspace) stxPackage(pkg *manifests.Package) (*starlingx.Package, error) {
	if w.stx == nil {
		return nil, errNotStarlingX
	}
	sp, ok := w.stx.byName[pkg.Name]
	if !ok || pkg.File != filepath.Join(w.stx.tree.Root, sp.MetaFile) {
		return nil, errNotStarlingX
	}
	return sp, nil
}

// stxResolved reports whether the tree package name was prepared (it is
// not among the unresolved).
func (w *Workspace) stxResolved(name string) bool {
	if _, ok := w.stx.byName[name]; !ok {
		return false
	}
	for _, u := range w.unresolved {
		if u.Package == name {
			return false
		}
	}
	return true
}

// stxPrecheck lists the tree packages Prepare cannot prepare whatever it
// fetches: source kinds stx-build does not prepare yet, and src_path or
// src_files the tree does not hold. Checking them first lets a build
// refuse before it fetches anything.
func (w *Workspace) stxPrecheck() []graph.Unresolved {
	var out []graph.Unresolved
	for _, pkg := range w.Project.PackageList {
		sp, err := w.stxPackage(pkg)
		if err != nil {
			continue
		}
		if reason := w.stxUnpreparable(sp); reason != "" {
			out = append(out, graph.Unresolved{Package: pkg.Name, Reason: reason})
		}
	}
	return out
}

// signUnsupported is why a tree's sign packages are not built. StarlingX's
// (kernel-std-signed, kernel-rt-signed) are dl_hooks that take
// ../../../std/linux/linux-signed-*.tar.xz (or rt) from beside their
// download directory in $MY_WORKSPACE: the signature template that an
// out-of-band signing step (debian-test-sign, with the secure-boot keys)
// made from the kernel's build output. build-pkgs itself leaves sign out
// unless packages are named, because that step is interactive.
const signUnsupported = "build type sign: StarlingX's sign packages repackage kernel signatures made out of band " +
	"(their dl_hook takes $MY_WORKSPACE/<std|rt>/linux/linux-signed-*.tar.xz, which a signing step with the secure-boot keys " +
	"makes from the kernel's build output; build-pkgs skips sign unless packages are named); stx-build keeps no such build " +
	"directory and holds no signing keys, so it does not build them: build the kernel with build-type std or rt " +
	"and sign its image as a separate step (docs/starlingx.md)"

// stxUnpreparable is why sp cannot be prepared here, "" when it can be
// tried.
func (w *Workspace) stxUnpreparable(sp *starlingx.Package) string {
	tr := w.stx.tree
	if tr.BuildType == starlingx.BuildSign {
		return fmt.Sprintf("%s: %s", sp.MetaFile, signUnsupported)
	}
	switch sp.Kind {
	case starlingx.KindDLHook:
		script := filepath.Join(sp.MetaDir, sp.Meta.DLHook)
		fi, err := os.Stat(script)
		switch {
		case err != nil:
			return fmt.Sprintf("%s: dl_hook: %s is not in the tree", sp.MetaFile, tr.RelPath(script))
		case !fi.Mode().IsRegular() || fi.Mode()&0o111 == 0:
			// debrepack.py: "dl_hook can't execute".
			return fmt.Sprintf("%s: dl_hook: %s is not an executable file", sp.MetaFile, tr.RelPath(script))
		}
		fallthrough
	case starlingx.KindDLPath:
		downloads := sp.Meta.DLFiles
		if sp.Meta.DLPath != nil {
			downloads = append([]starlingx.Download{*sp.Meta.DLPath}, downloads...)
		}
		for _, d := range downloads {
			if d.SHA256 == "" && d.MD5 == "" {
				return fmt.Sprintf("%s: %s has no checksum to verify it by", sp.MetaFile, d.URL)
			}
		}
	case starlingx.KindSrcPath:
		if sp.DebFolder == "" {
			return fmt.Sprintf("%s: src_path package without deb_folder", sp.MetaFile)
		}
		paths := tr.SrcFiles(sp)
		if d := tr.SrcPath(sp); d != "" {
			paths = append([]string{d}, paths...)
		}
		for _, p := range paths {
			if _, err := os.Stat(p); err != nil {
				return fmt.Sprintf("%s: %s is not in the tree", sp.MetaFile, tr.RelPath(p))
			}
		}
	}
	return ""
}

// StarlingXISOPackages returns own followed by the ISO package lists of
// the project's StarlingX tree that own does not name already (by package
// name; own entries may pin name=version).
func (w *Workspace) StarlingXISOPackages(own []string) []string {
	if w.stx == nil {
		return own
	}
	named := map[string]bool{}
	for _, p := range own {
		name, _, _ := strings.Cut(p, "=")
		named[name] = true
	}
	out := slices.Clone(own)
	for _, p := range w.stx.tree.ISOPackages() {
		if !named[p] {
			out = append(out, p)
		}
	}
	return out
}

// stxCycleBreaks maps the tree's circular_dep.conf onto cycle-breaks for
// the graph g, which has cycles: an edge A -> B inside a cycle where a
// group lists both and builds A before B points backwards in StarlingX's
// serial order, so A takes B's binaries from the archive (StarlingX builds
// A first with what the archive or an earlier build has, too).
func (w *Workspace) stxCycleBreaks(g *graph.Graph) []graph.CycleBreak {
	if g == nil || g.Cycles == nil {
		return nil
	}
	groups := w.stx.tree.CircularGroups()
	inCycle := map[string]bool{}
	for _, c := range g.Cycles.Components {
		for _, p := range c {
			inCycle[p] = true
		}
	}
	seen := map[graph.CycleBreak]bool{}
	repeats := map[int]bool{} // groups whose repeats were reported, by line
	var out []graph.CycleBreak
	for _, e := range g.Edges {
		if e.From == e.To || !inCycle[e.From] || !inCycle[e.To] {
			continue
		}
		for _, grp := range groups {
			if grp.Before(e.From, e.To) {
				cb := graph.CycleBreak{Package: e.From, Source: e.To}
				if !seen[cb] {
					seen[cb] = true
					out = append(out, cb)
					fmt.Fprintf(w.opts.Log, "starlingx: %s:%d: %s is built before %s: its build-dependency %s comes from the archive\n", grp.File, grp.Line, e.From, e.To, e.Relation)
					if r := grp.Repeated(); len(r) > 0 && !repeats[grp.Line] {
						repeats[grp.Line] = true
						fmt.Fprintf(w.opts.Log, "starlingx: %s:%d: BUILD ORDER names %s more than once: built once, at the first place, as build-pkgs does\n", grp.File, grp.Line, strings.Join(r, ", "))
					}
				}
				break
			}
		}
	}
	return out
}
