package manifests

import (
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
// When stx.yaml cannot be read, Load returns that I/O error. Otherwise every
// problem in every manifest is returned together as Errors, with file names
// relative to dir.
func Load(dir string) (*Project, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("load project %s: %w", dir, err)
	}
	file := filepath.Join(abs, ProjectFile)
	data, err := os.ReadFile(file)
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
	if defaultPackages {
		p.Packages = []string{"packages"}
	}
	if len(p.Components) == 0 {
		p.Components = []string{"main"}
	}
	validateProject(p, d)

	var docs []*document
	var files []string
	// With a broken packages list, searching the default would mislead.
	decodedAll := !d.bad["packages"]
	if decodedAll {
		files = findPackages(p, d, defaultPackages)
	}
	for _, pf := range files {
		rel := displayPath(abs, pf)
		data, err := os.ReadFile(pf)
		if err != nil {
			errs = append(errs, &Error{File: rel, Msg: fmt.Sprintf("cannot read: %v", err)})
			decodedAll = false
			continue
		}
		pkg, pd, ok := decodePackage(data, pf, rel, &errs)
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
// ones only: whether the project builds them is checked by Load.
func LoadPackage(file string) (*Package, error) {
	abs, err := filepath.Abs(file)
	if err != nil {
		return nil, fmt.Errorf("load package %s: %w", file, err)
	}
	data, err := os.ReadFile(abs)
	if err != nil {
		return nil, fmt.Errorf("load package %s: %w", file, err)
	}
	var errs Errors
	pkg, _, _ := decodePackage(data, abs, file, &errs)
	if err := errs.asError(); err != nil {
		return nil, err
	}
	return pkg, nil
}

// decodePackage decodes and checks the package.yaml at the absolute path
// file, naming it display in messages.
func decodePackage(data []byte, file, display string, errs *Errors) (*Package, *document, bool) {
	pkg := &Package{Dir: filepath.Dir(file), File: file}
	d, ok := decodeFile(data, display, pkg, errs)
	if !ok {
		return nil, d, false
	}
	validatePackage(pkg, d)
	return pkg, d, true
}

// findPackages returns the absolute paths of the package manifests named by
// p.Packages, in lexical order and without duplicates. Entries that name
// nothing are reported on d; byDefault says p.Packages is the default.
func findPackages(p *Project, d *document, byDefault bool) []string {
	seen := map[string]bool{}
	var files []string
	for i, entry := range p.Packages {
		field := indexPath("packages", i)
		if entry == "" || filepath.IsAbs(entry) || d.bad[field] {
			continue // already reported
		}
		var dirs []string
		if hasMeta(entry) {
			matches, err := filepath.Glob(filepath.Join(escapeMeta(p.Dir), entry))
			if err != nil {
				continue // bad patterns were reported already
			}
			for _, m := range matches {
				if fi, err := os.Stat(m); err == nil && fi.IsDir() {
					dirs = append(dirs, m)
				}
			}
			if len(dirs) == 0 {
				d.errorf(field, "pattern %s matches no directory", quoteShort(entry))
			}
		} else {
			dir := filepath.Join(p.Dir, entry)
			fi, err := os.Stat(dir)
			switch {
			case err != nil && os.IsNotExist(err) && byDefault:
				d.errorf("packages", "directory %s does not exist (it is the default; list the directories holding */%s)", quoteShort(entry), PackageFile)
			case err != nil && os.IsNotExist(err):
				d.errorf(field, "directory %s does not exist", quoteShort(entry))
			case err != nil:
				d.errorf(field, "cannot read %s: %v", quoteShort(entry), err)
			case !fi.IsDir():
				d.errorf(field, "%s is not a directory", quoteShort(entry))
			default:
				dirs = append(dirs, dir)
			}
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

// packageFiles lists dir/*/package.yaml in lexical order, skipping hidden
// directories as a shell glob would.
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
		if fi, err := os.Stat(f); err == nil && fi.Mode().IsRegular() {
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
