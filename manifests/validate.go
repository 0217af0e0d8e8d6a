package manifests

import (
	"fmt"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"pault.ag/go/debian/version"

	"github.com/stx-build/stx-build/internal/regularfile"
)

// architectures are the Debian architectures stx-build can build for.
var architectures = []string{"amd64", "arm64"}

const tmpfsDisk = "disk"

var (
	// Debian Policy 5.6.1 (source) and 5.6.7 (binary package names).
	packageName = regexp.MustCompile(`^[a-z0-9][a-z0-9+.-]+$`)
	// Build profile names as dpkg-buildpackage accepts them.
	profileName = regexp.MustCompile(`^[a-z0-9.+-]+$`)
	suiteName   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._+-]*$`)
	// Archive components such as main, non-free-firmware or updates/main.
	componentName = regexp.MustCompile(`^[a-z0-9][a-z0-9._/+-]*$`)
	sha256Hex     = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

const packageNameRule = `use at least two lowercase letters, digits, "+", "-" or ".", starting with a letter or digit`

// validateProject checks stx.yaml on its own; checks that need the package
// manifests are in checkProject.
func validateProject(p *Project, d *document) {
	// Required fields left empty were reported while decoding.
	if strings.ContainsAny(p.Name, "\r\n") {
		d.errorf("name", "must be a single line")
	}
	if p.Suite != "" && !suiteName.MatchString(p.Suite) {
		d.errorf("suite", "invalid suite %s: use a suite name such as trixie", quoteShort(p.Suite))
	}
	checkArchitectures(d, "architectures", p.Architectures)
	if p.Mirror != "" && !isMirrorURL(p.Mirror) {
		d.errorf("mirror", "invalid URL %s: use an http, https or file URL", quoteShort(p.Mirror))
	}
	checkNames(d, "components", p.Components, "component", componentName,
		`use lowercase letters, digits, ".", "_", "+", "-" or "/"`)
	for i, dir := range p.Packages {
		field := indexPath("packages", i)
		if d.bad[field] {
			continue
		}
		if dir == "" {
			d.errorf(field, "must not be empty")
		} else if filepath.IsAbs(dir) {
			d.errorf(field, "must be a path relative to the project directory")
		} else if _, err := filepath.Match(dir, ""); err != nil {
			d.errorf(field, "invalid pattern %s: %v", quoteShort(dir), err)
		}
	}
	checkProfiles(d, "profiles", p.Profiles)
	checkAllowOutside(p, d)
	checkCycleBreaks(p, d)
	checkStarlingX(p, d)
	if p.Cycles != "" && !slices.Contains(cyclePolicies, p.Cycles) {
		msg := fmt.Sprintf("unknown cycle policy %s (one of: %s)", quoteShort(p.Cycles), strings.Join(cyclePolicies, ", "))
		if s := suggest(p.Cycles, cyclePolicies); s != "" {
			msg = fmt.Sprintf("unknown cycle policy %s; did you mean %q?", quoteShort(p.Cycles), s)
		}
		d.errorf("cycles", "%s", msg)
	}
}

// cyclePolicies are the values of stx.yaml's cycles field.
var cyclePolicies = []string{CyclesStrict, CyclesArchive}

// The cycle policies (stx.yaml's cycles field).
const (
	// CyclesStrict makes a build-dependency cycle an error (the default).
	CyclesStrict = "strict"
	// CyclesArchive resolves the edges of the computed set of breaks from
	// the archive.
	CyclesArchive = "archive"
)

// checkCycleBreaks checks each cycle-breaks entry on its own: one of binary
// and source, valid names, no duplicates.
func checkCycleBreaks(p *Project, d *document) {
	first := map[[3]string]int{}
	for i := range p.CycleBreaks {
		cb := &p.CycleBreaks[i]
		field := indexPath("cycle-breaks", i)
		cb.Line = d.at(field).line
		if d.bad[field] {
			continue
		}
		switch {
		case cb.Binary == "" && cb.Source == "":
			d.errorf(field, "set one of binary or source")
		case cb.Binary != "" && cb.Source != "":
			d.errorf(field+".source", "set only one of binary or source")
		case cb.Binary != "" && !packageName.MatchString(cb.Binary):
			d.errorf(field+".binary", "invalid binary package name %s: %s", quoteShort(cb.Binary), packageNameRule)
		case cb.Source != "" && !packageName.MatchString(cb.Source):
			d.errorf(field+".source", "invalid source package name %s: %s", quoteShort(cb.Source), packageNameRule)
		case cb.Source != "" && cb.Source == cb.Package:
			d.errorf(field+".source", "a package's own binaries always come from the archive (a self build-dependency is no cycle): remove this entry")
		}
		if cb.Package == "" || (cb.Binary == "") == (cb.Source == "") {
			continue
		}
		key := [3]string{cb.Package, cb.Binary, cb.Source}
		if j, dup := first[key]; dup {
			d.errorf(field, "duplicate of cycle-breaks[%d] on line %d", j, p.CycleBreaks[j].Line)
			continue
		}
		first[key] = i
	}
}

// checkAllowOutside checks the allow-outside entries: relative paths of
// existing directories, none of them the root directory.
func checkAllowOutside(p *Project, d *document) {
	for i, rel := range p.AllowOutside {
		field := indexPath("allow-outside", i)
		if d.bad[field] {
			continue
		}
		if filepath.IsAbs(rel) {
			d.errorf(field, "must be a path relative to the project directory")
			continue
		}
		real, err := filepath.EvalSymlinks(filepath.Join(p.Dir, rel))
		fi, statErr := os.Stat(real)
		switch {
		case err != nil && os.IsNotExist(err):
			d.errorf(field, "directory %s does not exist", quoteShort(rel))
		case err != nil || statErr != nil:
			d.errorf(field, "cannot read %s", quoteShort(rel))
		case !fi.IsDir():
			d.errorf(field, "%s is not a directory", quoteShort(rel))
		case real == string(filepath.Separator):
			d.errorf(field, "%s is the root directory: name the directories the project needs", quoteShort(rel))
		}
	}
}

// validatePackage checks one package.yaml, including that the files it names
// exist in its directory.
func validatePackage(pkg *Package, d *document, t *tree) {
	if pkg.Name != "" && !packageName.MatchString(pkg.Name) {
		d.errorf("name", "invalid source package name %s: %s", quoteShort(pkg.Name), packageNameRule)
	}
	if d.given("source") {
		validateSource(pkg, d, t)
	}
	seen := map[string]int{}
	for i, patch := range pkg.Patches {
		field := indexPath("patches", i)
		if d.bad[field] {
			continue
		}
		if j, dup := seen[patch]; dup {
			d.errorf(field, "duplicate of patches[%d]", j)
			continue
		}
		seen[patch] = i
		checkPath(d, t, field, pkg.Dir, patch, false, MaxPatchSize)
	}
	if d.given("architectures") && len(pkg.Architectures) == 0 {
		d.errorf("architectures", "must not be empty (leave it out to build for every architecture)")
	}
	checkArchitectures(d, "architectures", pkg.Architectures)
	validateBuild(&pkg.Build, d)
}

func validateSource(pkg *Package, d *document, t *tree) {
	src := &pkg.Source
	var set []string
	if d.set["source.local"] {
		set = append(set, "local")
	}
	if d.set["source.debian"] {
		set = append(set, "debian")
	}
	if d.set["source.dsc"] {
		set = append(set, "dsc")
	}
	if d.set["source.kernel"] {
		set = append(set, "kernel")
	}
	switch len(set) {
	case 0:
		d.errorf("source", "set one of local, debian or dsc")
		return
	case 1:
	default:
		d.errorf("source", "set only one of local, debian or dsc (found %s)", strings.Join(set, " and "))
		return
	}
	switch {
	case src.Local != "":
		if checkPath(d, t, "source.local", pkg.Dir, src.Local, true, 0) {
			control := filepath.Join(pkg.Dir, src.Local, "debian", "control")
			_, fi, err := t.stat(control)
			msg, refused := isRefusal(err)
			switch {
			case refused:
				d.errorf("source.local", "%s: debian/control %s", quoteShort(src.Local), msg)
			case err != nil && os.IsNotExist(err):
				d.errorf("source.local", "%s has no debian/control", quoteShort(src.Local))
			case err != nil:
				d.errorf("source.local", "%s: cannot read debian/control: %v", quoteShort(src.Local), err)
			case !fi.Mode().IsRegular():
				d.errorf("source.local", "%s: debian/control is %s, not a regular file", quoteShort(src.Local), describeMode(fi.Mode()))
			}
		}
	case src.Debian != "":
		validateDebianSource(pkg, d)
	case src.DSC != nil:
		if src.DSC.URL != "" && !isDSCURL(src.DSC.URL) {
			d.errorf("source.dsc.url", "invalid URL %s: use an http or https URL of a .dsc file", quoteShort(src.DSC.URL))
		}
		if src.DSC.SHA256 != "" && !sha256Hex.MatchString(src.DSC.SHA256) {
			d.errorf("source.dsc.sha256", "must be 64 lowercase hexadecimal digits")
		}
	case src.Kernel != nil:
		validateKernelSource(pkg, d, t)
	default:
		// Present but empty, such as local: "".
		if d.given("source." + set[0]) {
			d.errorf("source."+set[0], "must not be empty")
		}
	}
}

func validateDebianSource(pkg *Package, d *document) {
	const field = "source.debian"
	name, ver, ok := strings.Cut(pkg.Source.Debian, "=")
	if !ok {
		d.errorf(field, "invalid %s: use name=version, such as hello=2.10-3", quoteShort(pkg.Source.Debian))
		return
	}
	switch {
	case pkg.Name != "" && name != pkg.Name:
		d.errorf(field, "source package %q does not match name %q", name, pkg.Name)
	case pkg.Name == "" && !packageName.MatchString(name):
		// When it matches name, a bad name was reported on name.
		d.errorf(field, "invalid source package name %s: %s", quoteShort(name), packageNameRule)
	}
	if _, err := version.Parse(ver); err != nil || strings.TrimSpace(ver) != ver {
		if err == nil {
			err = fmt.Errorf("version string has surrounding spaces")
		}
		d.errorf(field, "invalid version %s: %v", quoteShort(ver), err)
	}
}

func validateBuild(b *BuildOptions, d *document) {
	if b.Jobs < 0 {
		d.errorf("build.jobs", "must not be negative")
	}
	if b.Serial && b.Jobs > 1 {
		d.errorf("build.serial", "serial: true conflicts with jobs: %d", b.Jobs)
	}
	checkProfiles(d, "build.profiles", b.Profiles)
	if b.Tmpfs != "" && b.Tmpfs != tmpfsDisk {
		n, err := ParseSize(b.Tmpfs)
		switch {
		case err != nil:
			d.errorf("build.tmpfs", "invalid value %s: use %q or a size such as 512MiB or 2GiB", quoteShort(b.Tmpfs), tmpfsDisk)
		case n <= 0:
			d.errorf("build.tmpfs", "size must be greater than zero")
		}
	} else if b.Tmpfs == "" && d.given("build.tmpfs") {
		d.errorf("build.tmpfs", "must not be empty")
	}
	if b.Pids < 0 {
		d.errorf("build.pids", "must not be negative")
	}
	if b.Memory != "" {
		n, err := ParseSize(b.Memory)
		switch {
		case err != nil:
			d.errorf("build.memory", "invalid value %s: use a size such as 4GiB", quoteShort(b.Memory))
		case n < 64<<20:
			d.errorf("build.memory", "%s is less than 64MiB, too little for any build", quoteShort(b.Memory))
		}
	} else if d.given("build.memory") {
		d.errorf("build.memory", "must not be empty")
	}
	if b.Estimate != "" {
		dur, err := time.ParseDuration(b.Estimate)
		switch {
		case err != nil:
			d.errorf("build.estimate", "invalid duration %s: use a duration such as 90s or 20m", quoteShort(b.Estimate))
		case dur <= 0:
			d.errorf("build.estimate", "must be greater than zero")
		}
	} else if d.given("build.estimate") {
		d.errorf("build.estimate", "must not be empty")
	}
}

// checkProject runs the checks that need stx.yaml and every package.yaml.
// decodedAll says whether every package manifest could be decoded; when one
// could not, its name is unknown and missing-package errors would mislead.
func checkProject(p *Project, d *document, pkgs []*Package, docs []*document, decodedAll bool) {
	built := map[string]bool{}
	for _, a := range p.Architectures {
		built[a] = true
	}
	definedIn := map[string]string{}
	var names []string
	for i, pkg := range pkgs {
		pd := docs[i]
		if pkg.Name != "" {
			if first, dup := definedIn[pkg.Name]; dup {
				pd.errorf("name", "package %q is also defined in %s", pkg.Name, first)
			} else {
				definedIn[pkg.Name] = pd.file
				names = append(names, pkg.Name)
			}
		}
		for j, a := range pkg.Architectures {
			// Unknown architectures were reported already.
			if isArchitecture(a) && len(built) > 0 && !built[a] {
				pd.errorf(indexPath("architectures", j), "architecture %q is not built by the project (%s architectures: %s)",
					a, ProjectFile, strings.Join(p.Architectures, ", "))
			}
		}
	}
	if !decodedAll || p.StarlingX != nil {
		// A StarlingX tree's packages are read later (workspace).
		return
	}
	for i, cb := range p.CycleBreaks {
		for _, f := range []struct{ name, value string }{{"package", cb.Package}, {"source", cb.Source}} {
			if f.value == "" || definedIn[f.value] != "" || (f.name == "source" && !packageName.MatchString(f.value)) {
				continue
			}
			msg := fmt.Sprintf("no package named %q in this project", f.value)
			if s := suggest(f.value, names); s != "" {
				msg += fmt.Sprintf("; did you mean %q?", s)
			}
			d.errorf(indexPath("cycle-breaks", i)+"."+f.name, "%s", msg)
		}
	}
}

func checkArchitectures(d *document, field string, archs []string) {
	seen := map[string]bool{}
	for i, a := range archs {
		f := indexPath(field, i)
		switch {
		case d.bad[f]:
		case !isArchitecture(a):
			msg := fmt.Sprintf("unknown architecture %s (supported: %s)", quoteShort(a), strings.Join(architectures, ", "))
			if s := suggest(a, architectures); s != "" {
				msg = fmt.Sprintf("unknown architecture %s; did you mean %q?", quoteShort(a), s)
			}
			d.errorf(f, "%s", msg)
		case seen[a]:
			d.errorf(f, "duplicate architecture %q", a)
		}
		seen[a] = true
	}
}

func isArchitecture(a string) bool {
	for _, known := range architectures {
		if a == known {
			return true
		}
	}
	return false
}

func checkProfiles(d *document, field string, profiles []string) {
	checkNames(d, field, profiles, "build profile", profileName, `use lowercase letters, digits, ".", "+" or "-"`)
}

// checkNames checks a list of names against a pattern and for duplicates.
func checkNames(d *document, field string, names []string, what string, pattern *regexp.Regexp, rule string) {
	seen := map[string]bool{}
	for i, n := range names {
		f := indexPath(field, i)
		switch {
		case d.bad[f]:
		case !pattern.MatchString(n):
			d.errorf(f, "invalid %s %s: %s", what, quoteShort(n), rule)
		case seen[n]:
			d.errorf(f, "duplicate %s %q", what, n)
		}
		seen[n] = true
	}
}

// checkPath checks that rel, relative to dir, exists inside t (symlinks
// resolved) and is a directory (wantDir) or a regular file of at most limit
// bytes (0: any size), reporting whether it does.
func checkPath(d *document, t *tree, field, dir, rel string, wantDir bool, limit int64) bool {
	if rel == "" {
		d.errorf(field, "must not be empty")
		return false
	}
	if filepath.IsAbs(rel) {
		d.errorf(field, "must be a path relative to the package directory")
		return false
	}
	kind := "file"
	if wantDir {
		kind = "directory"
	}
	_, fi, err := t.stat(filepath.Join(dir, rel))
	msg, refused := isRefusal(err)
	switch {
	case refused:
		d.errorf(field, "%s %s", quoteShort(rel), msg)
		return false
	case err != nil && os.IsNotExist(err):
		d.errorf(field, "%s %s does not exist", kind, quoteShort(rel))
		return false
	case err != nil:
		d.errorf(field, "cannot read %s: %v", quoteShort(rel), err)
		return false
	case wantDir && !fi.IsDir():
		d.errorf(field, "%s is not a directory", quoteShort(rel))
		return false
	case !wantDir && fi.IsDir():
		d.errorf(field, "%s is not a file", quoteShort(rel))
		return false
	case wantDir:
		return true
	}
	if limit <= 0 {
		limit = math.MaxInt64
	}
	if err := regularfile.Check(fi, limit); err != nil {
		d.errorf(field, "%s %v", quoteShort(rel), err)
		return false
	}
	return true
}

// isMirrorURL accepts http(s) URLs with a host and file URLs with a path.
func isMirrorURL(s string) bool {
	u, err := url.Parse(s)
	if err != nil {
		return false
	}
	switch u.Scheme {
	case "http", "https":
		return u.Host != ""
	case "file":
		return u.Opaque == "" && u.Path != "" && (u.Host == "" || u.Host == "localhost")
	}
	return false
}

// isDSCURL accepts http(s) URLs whose path ends in .dsc.
func isDSCURL(s string) bool {
	u, err := url.Parse(s)
	if err != nil {
		return false
	}
	return (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" && strings.HasSuffix(u.Path, ".dsc")
}

// checkStarlingX checks the starlingx field: its root must be a directory
// holding cgcs-root/stx (it may be outside the project: naming it is the
// permission), its build type one StarlingX knows.
func checkStarlingX(p *Project, d *document) {
	s := p.StarlingX
	if s == nil {
		return
	}
	if s.BuildType == "" {
		s.BuildType = "std"
	}
	if !slices.Contains(starlingXBuildTypes, s.BuildType) {
		d.errorf("starlingx.build-type", "unknown build type %s (one of: %s)", quoteShort(s.BuildType), strings.Join(starlingXBuildTypes, ", "))
	}
	if s.Root == "" || d.bad["starlingx.root"] {
		return
	}
	root := s.Root
	if !filepath.IsAbs(root) {
		root = filepath.Join(p.Dir, root)
	}
	fi, err := os.Stat(filepath.Join(root, "cgcs-root", "stx"))
	if err != nil || !fi.IsDir() {
		d.errorf("starlingx.root", "%s is no StarlingX tree (MY_REPO_ROOT_DIR): it has no cgcs-root/stx directory", quoteShort(s.Root))
		return
	}
	s.Root = root
}
