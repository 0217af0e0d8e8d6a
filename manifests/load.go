package manifests

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Load reads dir/stx.yaml and every package.yaml it names.
//
// Package manifests are found at <d>/*/package.yaml for each entry d of the
// project's packages list (a directory relative to dir, or a glob pattern
// matching directories). Load checks every field, and that local sources
// and patches exist, but reads nothing else from disk.
//
// Every path a manifest names must stay inside dir (symlinks resolved) or a
// directory of the project's allow-outside list, and every manifest must be
// a regular file of at most MaxManifestSize bytes (see docs/manifests.md).
//
// When stx.yaml cannot be read (it does not exist, or is unreadable), Load
// returns that I/O error. Otherwise every problem in every manifest, a
// stx.yaml that is no regular file among them, is returned together as
// Errors, with file names relative to dir.
func Load(dir string) (*Project, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("load project %s: %w", dir, err)
	}
	file := filepath.Join(abs, ProjectFile)
	t, err := newTree(abs)
	if err != nil {
		return nil, fmt.Errorf("load project %s: %w", dir, err)
	}
	data, err := t.readFile(file, MaxManifestSize)
	var r *refusal
	if errors.As(err, &r) {
		return nil, Errors{{File: ProjectFile, Msg: r.msg}}.asError()
	}
	if err != nil {
		return nil, fmt.Errorf("load project %s: %w", dir, err)
	}

	var errs Errors
	p := &Project{Dir: abs, File: file}
	d, ok := decodeFile(data, ProjectFile, p, &errs)
	if !ok {
		// Without stx.yaml's packages list, searching would only guess.
		return nil, errs.asError()
	}
	defaultPackages := len(p.Packages) == 0
	if defaultPackages && p.StarlingX == nil {
		p.Packages = []string{"packages"}
	}
	if len(p.Components) == 0 {
		p.Components = []string{"main"}
	}
	validateProject(p, d)
	if t, err = projectTree(p); err != nil {
		return nil, fmt.Errorf("load project %s: %w", dir, err)
	}

	var docs []*document
	var files []string
	// With a broken packages list, searching the default would mislead.
	decodedAll := !d.bad["packages"]
	if decodedAll {
		files = findPackages(p, d, t, defaultPackages)
	}
	for _, pf := range files {
		rel := displayPath(abs, pf)
		data, err := t.readFile(pf, MaxManifestSize)
		if err != nil {
			errs = append(errs, &Error{File: rel, Msg: fileProblem(err)})
			decodedAll = false
			continue
		}
		pkg, pd, ok := decodePackage(data, pf, rel, t, &errs)
		if !ok {
			decodedAll = false
			continue
		}
		p.PackageList = append(p.PackageList, pkg)
		docs = append(docs, pd)
	}
	checkProject(p, d, p.PackageList, docs, decodedAll)

	if err := errs.asError(); err != nil {
		return nil, err
	}
	sort.SliceStable(p.PackageList, func(i, j int) bool {
		return p.PackageList[i].Name < p.PackageList[j].Name
	})
	return p, nil
}

// LoadPackage reads one package.yaml. Problems are returned as Errors whose
// file is file as given. Architectures are checked against the supported
// ones only: whether the project builds them is checked by Load. Without a
// project, the paths the manifest names must stay in its own directory.
func LoadPackage(file string) (*Package, error) {
	abs, err := filepath.Abs(file)
	if err != nil {
		return nil, fmt.Errorf("load package %s: %w", file, err)
	}
	t, err := newTree(filepath.Dir(abs))
	if err != nil {
		return nil, fmt.Errorf("load package %s: %w", file, err)
	}
	data, err := t.readFile(abs, MaxManifestSize)
	var r *refusal
	if errors.As(err, &r) {
		return nil, Errors{{File: file, Msg: r.msg}}.asError()
	}
	if err != nil {
		return nil, fmt.Errorf("load package %s: %w", file, err)
	}
	var errs Errors
	pkg, _, _ := decodePackage(data, abs, file, t, &errs)
	if err := errs.asError(); err != nil {
		return nil, err
	}
	return pkg, nil
}

// decodePackage decodes and checks the package.yaml at the absolute path
// file, naming it display in messages; the paths it names must stay in t.
func decodePackage(data []byte, file, display string, t *tree, errs *Errors) (*Package, *document, bool) {
	pkg := &Package{Dir: filepath.Dir(file), File: file}
	d, ok := decodeFile(data, display, pkg, errs)
	if !ok {
		return nil, d, false
	}
	validatePackage(pkg, d, t)
	return pkg, d, true
}

// findPackages returns the absolute paths of the package manifests named by
// p.Packages, in lexical order and without duplicates. Entries that name
// nothing, or lead out of t, are reported on d; byDefault says p.Packages is
// the default.
func findPackages(p *Project, d *document, t *tree, byDefault bool) []string {
	seen := map[string]bool{}
	var files []string
	for i, entry := range p.Packages {
		field := indexPath("packages", i)
		if entry == "" || filepath.IsAbs(entry) || d.bad[field] {
			continue // already reported
		}
		var dirs []string
		if hasMeta(entry) {
			dirs = globPackages(p, d, t, field, entry)
		} else if packageDir(d, t, field, p.Dir, entry, byDefault) {
			dirs = append(dirs, filepath.Join(p.Dir, entry))
		}
		sort.Strings(dirs)
		for _, dir := range dirs {
			for _, f := range packageFiles(d, field, dir) {
				if !seen[f] {
					seen[f] = true
					files = append(files, f)
				}
			}
		}
	}
	return files
}

// globPackages returns the directories the pattern entry of field matches.
func globPackages(p *Project, d *document, t *tree, field, entry string) []string {
	matches, err := filepath.Glob(filepath.Join(escapeMeta(p.Dir), entry))
	if err != nil {
		return nil // bad patterns were reported already
	}
	var dirs []string
	for _, m := range matches {
		_, fi, err := t.stat(m)
		if msg, refused := isRefusal(err); refused {
			d.errorf(field, "pattern %s matches %s, which %s", quoteShort(entry), quoteShort(displayPath(p.Dir, m)), msg)
			continue
		}
		if err == nil && fi.IsDir() {
			dirs = append(dirs, m)
		}
	}
	if len(dirs) == 0 && !d.bad[field] {
		d.errorf(field, "pattern %s matches no directory", quoteShort(entry))
	}
	return dirs
}

// packageDir checks the plain directory entry of field, reporting whether
// it is a directory inside t.
func packageDir(d *document, t *tree, field, projectDir, entry string, byDefault bool) bool {
	_, fi, err := t.stat(filepath.Join(projectDir, entry))
	msg, refused := isRefusal(err)
	switch {
	case refused && byDefault:
		d.errorf("packages", "directory %s %s", quoteShort(entry), msg)
	case refused:
		d.errorf(field, "%s %s", quoteShort(entry), msg)
	case err != nil && os.IsNotExist(err) && byDefault:
		d.errorf("packages", "directory %s does not exist (it is the default; list the directories holding */%s)", quoteShort(entry), PackageFile)
	case err != nil && os.IsNotExist(err):
		d.errorf(field, "directory %s does not exist", quoteShort(entry))
	case err != nil:
		d.errorf(field, "cannot read %s: %v", quoteShort(entry), err)
	case !fi.IsDir():
		d.errorf(field, "%s is not a directory", quoteShort(entry))
	default:
		return true
	}
	return false
}

// packageFiles lists dir/*/package.yaml in lexical order, skipping hidden
// directories as a shell glob would. A package.yaml that is there but is not
// a regular file inside the project is listed too, for the reader to
// refuse: dropping it would hide a package.
func packageFiles(d *document, field, dir string) []string {
	entries, err := os.ReadDir(dir)
	if err != nil {
		d.errorf(field, "cannot read %s: %v", dir, err)
		return nil
	}
	var files []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		f := filepath.Join(dir, e.Name(), PackageFile)
		if _, err := os.Lstat(f); err == nil {
			files = append(files, f)
		}
	}
	return files
}

// displayPath names file relative to the project directory in messages.
func displayPath(dir, file string) string {
	rel, err := filepath.Rel(dir, file)
	if err != nil {
		return file
	}
	return filepath.ToSlash(rel)
}

func hasMeta(pattern string) bool {
	return strings.ContainsAny(pattern, `*?[\`)
}

// escapeMeta quotes glob metacharacters in a literal path, so that a project
// directory such as /src/[x] can prefix a pattern.
func escapeMeta(path string) string {
	var b strings.Builder
	for _, r := range path {
		if strings.ContainsRune(`*?[\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
