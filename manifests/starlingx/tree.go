// Package starlingx reads a StarlingX source tree (MY_REPO_ROOT_DIR, with
// repos under cgcs-root/stx/<repo>) the way StarlingX's build tools do:
// which package list applies to a codename and build type, where each
// package's meta_data.yaml is, its source kind, deb_folder, deb_patches,
// patches and files. It reports, as file:line:col diagnostics, everything
// those tools silently swallow: list entries whose directory is missing,
// unknown or misspelt keys, paths out of the tree, duplicate source names.
//
// It only reads files; fetching and preparing the sources is the
// workspace's job. The rules follow root:build-tools/stx/discovery.py
// (package_dir_list, get_relocated_package_dir, package_dir_to_package_name)
// and debrepack.py (package, set_revision); see docs/starlingx.md.
package starlingx

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/stx-build/stx-build/internal/regularfile"
)

// Build types StarlingX knows.
const (
	BuildStd  = "std"
	BuildRT   = "rt"
	BuildSign = "sign"
)

// maxListFile bounds package lists, meta_data.yaml and series files.
const maxListFile = 1 << 20

// Config selects what to read from a tree.
type Config struct {
	// Root is MY_REPO_ROOT_DIR: the directory holding cgcs-root/ (MY_REPO)
	// and stx-tools/.
	Root string
	// Codename is the Debian codename (bullseye, trixie).
	Codename string
	// BuildType is std (the default), rt or sign.
	BuildType string
	// Layer restricts discovery to the repos of one layer (distro,
	// flock, ...); empty means every repo, as build-pkgs -a does.
	Layer string
}

// Tree is what was read from a StarlingX tree for one codename and build type.
type Tree struct {
	Config
	// MyRepo is Root/cgcs-root.
	MyRepo string
	// Repos are the repos read, by name.
	Repos []*Repo
	// Packages are the packages listed, in list order repo by repo, each
	// once; packages with errors are left out (see Diagnostics).
	Packages []*Package
	// Diagnostics are every problem found, sorted by file and line.
	Diagnostics Diagnostics
}

// Repo is one repo under MY_REPO/stx.
type Repo struct {
	Name string
	// Dir is the absolute directory.
	Dir string
	// Layer is the first line of debian_build_layer.cfg ("" when absent).
	Layer string
	// List is the package list that applies (relative to Root), "" when none.
	List string
}

// Package is one listed package directory with its meta_data.yaml.
type Package struct {
	// Name is the source name: debname, or the directory's name.
	Name string
	// Repo and Layer are the repo's.
	Repo  string
	Layer string
	// Dir is the absolute package directory (the list entry), RelDir the
	// same relative to Root.
	Dir    string
	RelDir string
	// MetaDir is the absolute directory holding meta_data.yaml;
	// MetaFile is that file relative to Root.
	MetaDir  string
	MetaFile string
	// List and ListLine say where the package is listed.
	List     string
	ListLine int
	Meta     *Meta
	Kind     SourceKind
	// DebFolder is MetaDir/deb_folder when it exists.
	DebFolder string
	// DebPatches and Patches are the patch files of deb_patches/series and
	// patches/series, absolute, in series order.
	DebPatches []string
	Patches    []string
	// Files is MetaDir/files when it exists.
	Files string
}

// Read discovers the packages of the tree cfg names. The error is for a
// tree that cannot be read at all; every problem with its content is a
// Diagnostic.
func Read(cfg Config) (*Tree, error) {
	if cfg.BuildType == "" {
		cfg.BuildType = BuildStd
	}
	if cfg.Codename == "" {
		return nil, errors.New("starlingx: no codename")
	}
	root, err := filepath.Abs(cfg.Root)
	if err == nil {
		root, err = filepath.EvalSymlinks(root)
	}
	if err != nil {
		return nil, fmt.Errorf("starlingx tree %s: %w", cfg.Root, err)
	}
	cfg.Root = root
	t := &Tree{Config: cfg, MyRepo: filepath.Join(root, "cgcs-root")}
	stx := filepath.Join(t.MyRepo, "stx")
	entries, err := os.ReadDir(stx)
	if err != nil {
		return nil, fmt.Errorf("starlingx tree %s: no repos (MY_REPO/stx): %w", cfg.Root, err)
	}
	seen := map[string]*Package{}
	for _, e := range entries {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") || strings.HasPrefix(e.Name(), "do-not-build") {
			continue
		}
		repo := t.readRepo(e.Name())
		if cfg.Layer != "" && repo.Layer != cfg.Layer {
			continue
		}
		t.Repos = append(t.Repos, repo)
		for _, p := range t.readList(repo) {
			if first, dup := seen[p.Name]; dup {
				t.diag(p.List, p.ListLine, 1, "", Error, "source %q is listed twice: here (%s) and at %s:%d (%s); the second is left out",
					p.Name, p.MetaFile, first.List, first.ListLine, first.MetaFile)
				continue
			}
			seen[p.Name] = p
			t.Packages = append(t.Packages, p)
		}
	}
	t.Diagnostics.sort()
	return t, nil
}

// Package returns the package named name, or nil.
func (t *Tree) Package(name string) *Package {
	for _, p := range t.Packages {
		if p.Name == name {
			return p
		}
	}
	return nil
}

func (t *Tree) rel(abs string) string {
	r, err := filepath.Rel(t.Root, abs)
	if err != nil {
		return abs
	}
	return filepath.ToSlash(r)
}

func (t *Tree) diag(file string, line, col int, field string, sev Severity, format string, args ...any) {
	reporter{file: file, out: &t.Diagnostics}.add(sev, line, col, field, format, args...)
}

// readRepo reads a repo's layer.
func (t *Tree) readRepo(name string) *Repo {
	r := &Repo{Name: name, Dir: filepath.Join(t.MyRepo, "stx", name)}
	if data, err := regularfile.Read(filepath.Join(r.Dir, "debian_build_layer.cfg"), maxListFile); err == nil {
		for _, l := range listLines(data) {
			r.Layer = l.text
			break
		}
	}
	return r
}

// listFile returns the package list that applies to repo, as
// discovery.py package_dir_list chooses it: for bullseye the old-style
// debian_pkg_dirs_<type>, then debian_bullseye_pkg_dirs_<type>, then (std
// only) debian_pkg_dirs; for any other codename only
// debian_<codename>_pkg_dirs_<type>.
func (t *Tree) listFile(repo *Repo) string {
	var candidates []string
	if t.Codename == "bullseye" {
		candidates = append(candidates, "debian_pkg_dirs_"+t.BuildType, "debian_bullseye_pkg_dirs_"+t.BuildType)
		if t.BuildType == BuildStd {
			candidates = append(candidates, "debian_pkg_dirs")
		}
	} else {
		candidates = append(candidates, "debian_"+t.Codename+"_pkg_dirs_"+t.BuildType)
	}
	for _, c := range candidates {
		f := filepath.Join(repo.Dir, c)
		if fi, err := os.Stat(f); err == nil && fi.Mode().IsRegular() {
			return f
		}
	}
	return ""
}

// readList reads the packages repo lists.
func (t *Tree) readList(repo *Repo) []*Package {
	file := t.listFile(repo)
	if file == "" {
		return nil
	}
	repo.List = t.rel(file)
	data, err := regularfile.Read(file, maxListFile)
	if err != nil {
		t.diag(repo.List, 0, 0, "", Error, "cannot read: %v", err)
		return nil
	}
	var out []*Package
	for _, l := range listLines(data) {
		if strings.Contains("/"+l.text, "/do-not-build") {
			continue // discovery.py skips these on purpose
		}
		dir, ok := t.entryDir(repo, l)
		if !ok {
			continue
		}
		if p := t.readPackage(repo, dir, l.line); p != nil {
			out = append(out, p)
		}
	}
	return out
}

// entryDir resolves a list entry to a package directory inside the tree.
func (t *Tree) entryDir(repo *Repo, l listLine) (string, bool) {
	if filepath.IsAbs(l.text) {
		t.diag(repo.List, l.line, l.col, "", Error, "%q is an absolute path; entries are relative to the repo", l.text)
		return "", false
	}
	dir := filepath.Join(repo.Dir, l.text)
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		t.diag(repo.List, l.line, l.col, "", Warning, "directory %s does not exist; StarlingX's tools drop this entry without a word", t.rel(dir))
		return "", false
	}
	if !within(t.Root, real) {
		t.diag(repo.List, l.line, l.col, "", Error, "%q leads outside the tree (to %s)", l.text, real)
		return "", false
	}
	if fi, err := os.Stat(real); err != nil || !fi.IsDir() {
		t.diag(repo.List, l.line, l.col, "", Warning, "%s is not a directory; StarlingX's tools drop this entry without a word", t.rel(dir))
		return "", false
	}
	if !within(repo.Dir, real) {
		t.diag(repo.List, l.line, l.col, "", Warning, "%q leads out of the repo %s (to %s)", l.text, repo.Name, t.rel(real))
	}
	return real, true
}

// metaDir finds the directory holding meta_data.yaml, as discovery.py
// get_relocated_package_dir does: for bullseye debian/ > debian/bullseye/
// > debian/all/; otherwise debian/<codename>/ > debian/all/.
func (t *Tree) metaDir(pkgDir string) (string, []string) {
	dirs := t.debianDirs(pkgDir)
	for _, d := range dirs {
		if fi, err := os.Stat(filepath.Join(d, MetaFile)); err == nil && fi.Mode().IsRegular() {
			return d, dirs
		}
	}
	return "", dirs
}

// debianDirs are the directories, in order of preference, that hold a
// package's (or image's) StarlingX files for the tree's codename.
func (t *Tree) debianDirs(pkgDir string) []string {
	deb := filepath.Join(pkgDir, "debian")
	if t.Codename == "bullseye" {
		return []string{deb, filepath.Join(deb, "bullseye"), filepath.Join(deb, "all")}
	}
	return []string{filepath.Join(deb, t.Codename), filepath.Join(deb, "all")}
}

// readPackage reads one listed package directory.
func (t *Tree) readPackage(repo *Repo, dir string, line int) *Package {
	md, tried := t.metaDir(dir)
	if md == "" {
		var names []string
		for _, d := range tried {
			names = append(names, t.rel(filepath.Join(d, MetaFile)))
		}
		t.diag(repo.List, line, 1, "", Error, "%s has no %s (looked for %s); StarlingX's tools stop here", t.rel(dir), MetaFile, strings.Join(names, ", "))
		return nil
	}
	p := &Package{
		Repo: repo.Name, Layer: repo.Layer, Dir: dir, RelDir: t.rel(dir), MetaDir: md,
		MetaFile: t.rel(filepath.Join(md, MetaFile)), List: repo.List, ListLine: line,
	}
	data, err := regularfile.Read(filepath.Join(md, MetaFile), maxListFile)
	if err != nil {
		t.diag(p.MetaFile, 0, 0, "", Error, "cannot read: %v", err)
		return nil
	}
	m, ok := parseMeta(data, p.MetaFile, &t.Diagnostics)
	if !ok {
		return nil
	}
	p.Meta, p.Kind = m, m.Kind()
	p.Name = m.DebName
	if p.Name == "" {
		p.Name = filepath.Base(dir)
	}
	if !t.checkPaths(p) {
		return nil
	}
	t.readBeside(p)
	return p
}

// checkPaths checks the paths meta_data.yaml names: src_path, src_files
// and dl_hook must stay inside the tree; a path outside the package's repo
// is allowed with a warning. It reports whether the package is usable.
func (t *Tree) checkPaths(p *Package) bool {
	m := p.Meta
	ok := true
	check := func(field, path string, pos position) {
		if path == "" {
			return
		}
		abs := t.expand(p, path)
		if !within(t.Root, filepath.Clean(abs)) {
			t.diag(p.MetaFile, pos.line, pos.col, field, Error, "%q leads outside the tree (to %s)", path, abs)
			ok = false
			return
		}
		if real, err := filepath.EvalSymlinks(abs); err == nil && !within(t.Root, real) {
			t.diag(p.MetaFile, pos.line, pos.col, field, Error, "%q leads outside the tree through a symlink (to %s)", path, real)
			ok = false
			return
		}
		if !within(filepath.Join(t.MyRepo, "stx", p.Repo), filepath.Clean(abs)) {
			t.diag(p.MetaFile, pos.line, pos.col, field, Warning, "%q is outside the repo %s (%s): the package needs a checkout the repo does not carry", path, p.Repo, t.rel(abs))
		}
	}
	check("src_path", m.SrcPath, m.keys["src_path"])
	for _, f := range m.SrcFiles {
		check("src_files", f, m.keys["src_files"])
	}
	if m.DLHook != "" {
		check("dl_hook", filepath.Join(p.MetaDir, m.DLHook), m.keys["dl_hook"])
	}
	return ok
}

// expand resolves a meta_data.yaml path: ${MY_REPO} and $MY_REPO are
// MY_REPO, ${MY_REPO_ROOT_DIR} the root; a relative path is relative to
// the package directory (debrepack.py create_src_package).
func (t *Tree) expand(p *Package, path string) string {
	path = strings.NewReplacer("${MY_REPO_ROOT_DIR}", t.Root, "$MY_REPO_ROOT_DIR", t.Root, "${MY_REPO}", t.MyRepo, "$MY_REPO", t.MyRepo).Replace(path)
	if filepath.IsAbs(path) {
		return filepath.Clean(path)
	}
	return filepath.Join(p.Dir, path)
}

// SrcPath returns the absolute src_path directory ("" when the package has
// none or it is null).
func (t *Tree) SrcPath(p *Package) string {
	if p.Meta.SrcPath == "" {
		return ""
	}
	return t.expand(p, p.Meta.SrcPath)
}

// SrcFiles returns the absolute src_files paths, in order.
func (t *Tree) SrcFiles(p *Package) []string {
	var out []string
	for _, f := range p.Meta.SrcFiles {
		out = append(out, t.expand(p, f))
	}
	return out
}

// readBeside reads deb_folder, deb_patches/series, patches/series and
// files/ next to meta_data.yaml.
func (t *Tree) readBeside(p *Package) {
	if fi, err := os.Stat(filepath.Join(p.MetaDir, "deb_folder")); err == nil && fi.IsDir() {
		p.DebFolder = filepath.Join(p.MetaDir, "deb_folder")
	}
	if fi, err := os.Stat(filepath.Join(p.MetaDir, "files")); err == nil && fi.IsDir() {
		p.Files = filepath.Join(p.MetaDir, "files")
	}
	p.DebPatches = t.readSeries(p, "deb_patches")
	p.Patches = t.readSeries(p, "patches")
}

// readSeries reads dir/series beside meta_data.yaml: one patch per line,
// "#" comments, options after the name dropped as quilt does.
func (t *Tree) readSeries(p *Package, dir string) []string {
	series := filepath.Join(p.MetaDir, dir, "series")
	data, err := regularfile.Read(series, maxListFile)
	if err != nil {
		return nil
	}
	var out []string
	for _, l := range listLines(data) {
		name := strings.Fields(l.text)[0]
		f := filepath.Join(p.MetaDir, dir, name)
		if !within(filepath.Join(p.MetaDir, dir), f) {
			t.diag(t.rel(series), l.line, l.col, "", Error, "%q leads out of %s", name, dir)
			continue
		}
		out = append(out, f)
	}
	return out
}

// listLine is one entry of a list file: StarlingX strips each line and
// drops blank ones and those starting with "#" (utils.py bc_safe_fetch).
type listLine struct {
	text      string
	line, col int
}

func listLines(data []byte) []listLine {
	var out []listLine
	for i, raw := range strings.Split(string(data), "\n") {
		s := strings.TrimSpace(raw)
		if s == "" || strings.HasPrefix(s, "#") {
			continue
		}
		col := strings.Index(raw, s) + 1
		out = append(out, listLine{text: s, line: i + 1, col: col})
	}
	return out
}

// within reports whether path is dir or below it (both cleaned).
func within(dir, path string) bool {
	dir = filepath.Clean(dir)
	path = filepath.Clean(path)
	return path == dir || strings.HasPrefix(path, dir+string(filepath.Separator))
}

// Names returns the packages' names, sorted.
func (t *Tree) Names() []string {
	var out []string
	for _, p := range t.Packages {
		out = append(out, p.Name)
	}
	sort.Strings(out)
	return out
}

// RelPath names an absolute path relative to the root in messages.
func (t *Tree) RelPath(abs string) string { return t.rel(abs) }
