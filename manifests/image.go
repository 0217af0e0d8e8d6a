package manifests

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// ImagesDir is the directory of a project that holds its image manifests,
// one images/<name>.yaml per container image.
const ImagesDir = "images"

// Image variants: what mmdebstrap starts from before the packages are added.
const (
	VariantApt     = "apt"     // Essential: yes packages and apt (the default)
	VariantMinbase = "minbase" // also every Priority: required package
)

var imageVariants = []string{VariantApt, VariantMinbase}

// Image is one images/<name>.yaml: a container image made of Debian
// packages from the project's local repository and the archive.
type Image struct {
	// Name comes from the file name (images/<name>.yaml).
	Name string `yaml:"-"`
	// File is the absolute path of the manifest; Display its path relative
	// to the project directory, as used in messages.
	File    string `yaml:"-"`
	Display string `yaml:"-"`

	// Packages are installed with apt, from the local repository and the
	// archive, with their dependencies: "name" or "name=version".
	Packages []string `yaml:"packages" required:"true"`
	// Base names another image of the project; this image is that one plus
	// Packages, as one more layer.
	Base string `yaml:"base"`
	// Variant is mmdebstrap's starting set: apt (default) or minbase. An
	// image with a base takes the base's.
	Variant string `yaml:"variant"`
	// Architectures restricts the image to some of the project's
	// architectures (default: all of them; a base must cover them).
	Architectures []string `yaml:"architectures"`

	// The container configuration.
	Entrypoint []string          `yaml:"entrypoint"`
	Cmd        []string          `yaml:"cmd"`
	Env        map[string]string `yaml:"env"`
	User       string            `yaml:"user"`
	Workdir    string            `yaml:"workdir"`
	Labels     map[string]string `yaml:"labels"`
	// Ports are exposed ports: "8080", "8080/tcp", "53/udp".
	Ports []string `yaml:"ports"`

	// Cleanup lists absolute paths or glob patterns (*, ?, [...]) removed
	// from the root after the packages are installed, such as
	// /usr/share/man.
	Cleanup []string `yaml:"cleanup"`
}

// EffectiveVariant is the image's variant with the default applied.
func (img *Image) EffectiveVariant() string {
	if img.Variant == "" {
		return VariantApt
	}
	return img.Variant
}

// NormalizedPorts returns the exposed ports as "port/proto" (tcp by
// default), sorted and without duplicates.
func (img *Image) NormalizedPorts() []string {
	var out []string
	seen := map[string]bool{}
	for _, p := range img.Ports {
		n := normalizePort(p)
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

func normalizePort(p string) string {
	if !strings.Contains(p, "/") {
		return p + "/tcp"
	}
	return p
}

var (
	// The path component rule of OCI distribution for repository names.
	imageName = regexp.MustCompile(`^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$`)
	// name or name=version, as apt-get install takes them.
	imagePackage = regexp.MustCompile(`^[a-z0-9][a-z0-9+.-]+(=[A-Za-z0-9.+~:-]+)?$`)
	envName      = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	portSpec     = regexp.MustCompile(`^([0-9]+)(/(tcp|udp|sctp))?$`)
)

// LoadImages reads every images/*.yaml of the loaded project p, in file
// name order. A project without an images directory has no images. Every
// problem in every image manifest is returned together as Errors (file
// names relative to the project directory).
func LoadImages(p *Project) ([]*Image, error) {
	dir := filepath.Join(p.Dir, ImagesDir)
	if _, err := os.Lstat(dir); os.IsNotExist(err) {
		return nil, nil
	}
	t, err := projectTree(p)
	if err != nil {
		return nil, fmt.Errorf("load images: %w", err)
	}
	if _, _, err := t.stat(dir); err != nil {
		if msg, refused := isRefusal(err); refused {
			return nil, Errors{{File: ImagesDir, Msg: msg}}.asError()
		}
		return nil, fmt.Errorf("load images: %w", err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("load images: %w", err)
	}
	var errs Errors
	var images []*Image
	var docs []*document
	for _, e := range entries {
		// A directory named *.yaml is refused with the other non-files.
		if strings.HasPrefix(e.Name(), ".") || !strings.HasSuffix(e.Name(), ".yaml") {
			continue
		}
		file := filepath.Join(dir, e.Name())
		display := displayPath(p.Dir, file)
		data, err := t.readFile(file, MaxManifestSize)
		if err != nil {
			errs = append(errs, &Error{File: display, Msg: fileProblem(err)})
			continue
		}
		img := &Image{Name: strings.TrimSuffix(e.Name(), ".yaml"), File: file, Display: display}
		d, ok := decodeFile(data, display, img, &errs)
		if !imageName.MatchString(img.Name) {
			d.add(position{}, "", fmt.Sprintf("invalid image name %s (from the file name): use lowercase letters and digits, separated by \".\", \"_\" or \"-\"", quoteShort(img.Name)))
		}
		if !ok {
			continue
		}
		validateImage(img, d)
		images = append(images, img)
		docs = append(docs, d)
	}
	checkImages(p, images, docs)
	if err := errs.asError(); err != nil {
		return nil, err
	}
	return images, nil
}

// ImageByName returns the image named name, or nil.
func ImageByName(images []*Image, name string) *Image {
	for _, img := range images {
		if img.Name == name {
			return img
		}
	}
	return nil
}

// validateImage checks one image manifest on its own.
func validateImage(img *Image, d *document) {
	seen := map[string]int{}
	for i, pk := range img.Packages {
		f := indexPath("packages", i)
		if d.bad[f] {
			continue
		}
		name, _, _ := strings.Cut(pk, "=")
		switch {
		case !imagePackage.MatchString(pk):
			d.errorf(f, "invalid package %s: use a binary package name, or name=version", quoteShort(pk))
		default:
			if j, dup := seen[name]; dup {
				d.errorf(f, "duplicate of packages[%d]", j)
			}
			seen[name] = i
		}
	}
	if img.Base != "" && !imageName.MatchString(img.Base) {
		d.errorf("base", "invalid image name %s", quoteShort(img.Base))
	}
	switch {
	case img.Variant == "":
		if d.given("variant") {
			d.errorf("variant", "must not be empty")
		}
	case img.Base != "":
		d.errorf("variant", "an image with a base takes the base's variant; leave variant out")
	case !imageHas(imageVariants, img.Variant):
		msg := fmt.Sprintf("unknown variant %s (use %s)", quoteShort(img.Variant), strings.Join(imageVariants, " or "))
		if s := suggest(img.Variant, imageVariants); s != "" {
			msg = fmt.Sprintf("unknown variant %s; did you mean %q?", quoteShort(img.Variant), s)
		}
		d.errorf("variant", "%s", msg)
	}
	if d.given("architectures") && len(img.Architectures) == 0 {
		d.errorf("architectures", "must not be empty (leave it out to build for every architecture)")
	}
	checkArchitectures(d, "architectures", img.Architectures)
	for _, k := range imageKeys(img.Env) {
		if !envName.MatchString(k) {
			d.errorf(childPath("env", k), "invalid variable name %s: use letters, digits and \"_\", not starting with a digit", quoteShort(k))
		}
	}
	if img.User == "" && d.given("user") {
		d.errorf("user", "must not be empty")
	} else if strings.ContainsAny(img.User, " \t\r\n") {
		d.errorf("user", "invalid user %s: use a name or uid, optionally with :group", quoteShort(img.User))
	}
	switch {
	case img.Workdir == "":
		if d.given("workdir") {
			d.errorf("workdir", "must not be empty")
		}
	case !path.IsAbs(img.Workdir):
		d.errorf("workdir", "must be an absolute path")
	}
	for _, k := range imageKeys(img.Labels) {
		if strings.TrimSpace(k) == "" {
			d.errorf("labels", "label names must not be empty")
		}
	}
	ports := map[string]int{}
	for i, p := range img.Ports {
		f := indexPath("ports", i)
		if d.bad[f] {
			continue
		}
		m := portSpec.FindStringSubmatch(p)
		if m == nil {
			d.errorf(f, "invalid port %s: use a port number with an optional /tcp, /udp or /sctp, such as 8080 or 53/udp", quoteShort(p))
			continue
		}
		if n, err := strconv.Atoi(m[1]); err != nil || n < 1 || n > 65535 {
			d.errorf(f, "port %s is out of range (1-65535)", m[1])
			continue
		}
		n := normalizePort(p)
		if j, dup := ports[n]; dup {
			d.errorf(f, "duplicate of ports[%d]", j)
			continue
		}
		ports[n] = i
	}
	cleanup := map[string]int{}
	for i, c := range img.Cleanup {
		f := indexPath("cleanup", i)
		if d.bad[f] {
			continue
		}
		clean := path.Clean(c)
		switch {
		case !path.IsAbs(c):
			d.errorf(f, "must be an absolute path in the image, such as /usr/share/man")
		case clean == "/":
			d.errorf(f, "cannot remove the whole root")
		case clean != c || strings.Contains(c, "/../") || strings.HasSuffix(c, "/.."):
			d.errorf(f, "write the path in clean form (%s)", quoteShort(clean))
		default:
			if _, err := path.Match(c, ""); err != nil {
				d.errorf(f, "invalid pattern %s: %v", quoteShort(c), err)
			} else if j, dup := cleanup[c]; dup {
				d.errorf(f, "duplicate of cleanup[%d]", j)
			} else {
				cleanup[c] = i
			}
		}
	}
}

// checkImages runs the checks that need the project and every image:
// architectures the project builds, bases that exist, and no base cycles.
func checkImages(p *Project, images []*Image, docs []*document) {
	built := map[string]bool{}
	for _, a := range p.Architectures {
		built[a] = true
	}
	byName := map[string]*Image{}
	var names []string
	for _, img := range images {
		byName[img.Name] = img
		names = append(names, img.Name)
	}
	for i, img := range images {
		d := docs[i]
		for j, a := range img.Architectures {
			if isArchitecture(a) && len(built) > 0 && !built[a] {
				d.errorf(indexPath("architectures", j), "architecture %q is not built by the project (%s architectures: %s)",
					a, ProjectFile, strings.Join(p.Architectures, ", "))
			}
		}
		if img.Base == "" || d.bad["base"] {
			continue
		}
		base := byName[img.Base]
		switch {
		case img.Base == img.Name:
			d.errorf("base", "an image cannot be its own base")
			continue
		case base == nil:
			msg := fmt.Sprintf("no image named %q in %s/", img.Base, ImagesDir)
			if s := suggest(img.Base, names); s != "" {
				msg += fmt.Sprintf("; did you mean %q?", s)
			}
			d.errorf("base", "%s", msg)
			continue
		}
		// A cycle through bases is reported on every image in it.
		chain := []string{img.Name}
		for b := base; b != nil; b = byName[b.Base] {
			chain = append(chain, b.Name)
			if b.Name == img.Name {
				d.errorf("base", "base images form a cycle: %s", strings.Join(chain, " -> "))
				break
			}
			if len(chain) > len(images) {
				break // a cycle not through img: reported on its members
			}
		}
		for j, a := range img.ImageArchitectures(p) {
			switch {
			case imageHas(base.ImageArchitectures(p), a):
			case len(img.Architectures) > 0:
				d.errorf(indexPath("architectures", j), "architecture %q is not built by the base image %q", a, base.Name)
			default:
				d.errorf("base", "the base image %q is not built for %s: list this image's architectures", base.Name, a)
			}
		}
	}
}

// ImageArchitectures returns the architectures img is built for: its own
// list, or the project's.
func (img *Image) ImageArchitectures(p *Project) []string {
	if len(img.Architectures) > 0 {
		return img.Architectures
	}
	return p.Architectures
}

// BaseChain returns img's bases from the bottom one up, followed by img:
// [root base, ..., base, img]. images must hold every image of the project
// (as LoadImages returns them, so without cycles).
func BaseChain(images []*Image, img *Image) []*Image {
	chain := []*Image{img}
	for b := ImageByName(images, img.Base); b != nil && len(chain) <= len(images); b = ImageByName(images, b.Base) {
		chain = append([]*Image{b}, chain...)
	}
	return chain
}

func imageHas(xs []string, x string) bool {
	for _, y := range xs {
		if x == y {
			return true
		}
	}
	return false
}

func imageKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
