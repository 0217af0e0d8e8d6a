package starlingx

import (
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/stx-build/stx-build/internal/regularfile"
)

// ISOPackages returns the binary packages StarlingX's build-image installs
// into the ISO for the tree's codename and build type, sorted and without
// duplicates: build-tools/stx/debian-<codename>-image.inc plus the ISO
// list of every repo whose layer feeds the ISO (build-tools/stx/
// image-layers.conf: compiler, distro, flock). A repo's list is chosen as
// discovery.py package_iso_list does. Entries ("name" or "name # note")
// are package names; missing files are skipped silently, as there.
func (t *Tree) ISOPackages() []string {
	layers := map[string]bool{}
	stxDir := filepath.Join(t.MyRepo, "build-tools", "stx")
	if data, err := regularfile.Read(filepath.Join(stxDir, "image-layers.conf"), maxListFile); err == nil {
		for _, l := range listLines(data) {
			layers[l.text] = true
		}
	}
	seen := map[string]bool{}
	add := func(file string) {
		data, err := regularfile.Read(file, maxListFile)
		if err != nil {
			return
		}
		for _, l := range listLines(data) {
			seen[strings.Fields(l.text)[0]] = true
		}
	}
	add(filepath.Join(stxDir, "debian-"+t.Codename+"-image.inc"))
	for _, r := range t.Repos {
		if len(layers) > 0 && !layers[r.Layer] {
			continue
		}
		if f := t.isoList(r); f != "" {
			add(f)
		}
	}
	out := make([]string, 0, len(seen))
	for p := range seen {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// isoList is the ISO package list of repo that applies (package_iso_list).
func (t *Tree) isoList(r *Repo) string {
	var candidates []string
	if t.Codename == "bullseye" {
		candidates = []string{"debian_iso_image_" + t.BuildType + ".inc", "debian_bullseye_iso_image_" + t.BuildType + ".inc"}
		if t.BuildType == BuildStd {
			candidates = append(candidates, "debian_iso_image.inc")
		}
	} else {
		candidates = []string{"debian_" + t.Codename + "_iso_image_" + t.BuildType + ".inc"}
	}
	for _, c := range candidates {
		f := filepath.Join(r.Dir, c)
		if fi, err := os.Stat(f); err == nil && fi.Mode().IsRegular() {
			return f
		}
	}
	return ""
}

// Image is one container image a repo defines for build-stx-images.sh:
// a directory listed in debian_stable_docker_images.inc holding
// *.stable_docker_image, a file of shell variables, in the first of
// debian/<codename>/ and debian/all/ (bullseye: debian/ first) that has one.
type Image struct {
	Repo string
	// Dir is the listed directory, relative to the root; File the
	// definition, "" when the tree does not hold one.
	Dir  string
	File string
	// List and Line say where the directory is listed.
	List string
	Line int
	// Vars are the definition's variables (BUILDER, LABEL,
	// DIST_PACKAGES, PIP_PACKAGES, ...).
	Vars map[string]string
	// DockerDir is the docker/ directory (Dockerfile and its context)
	// beside the definition, "" when there is none.
	DockerDir string
}

// Builder is BUILDER (loci, docker or script).
func (im *Image) Builder() string { return im.Vars["BUILDER"] }

// Label is LABEL, the image's name.
func (im *Image) Label() string { return im.Vars["LABEL"] }

// Words splits a list variable (DIST_PACKAGES, PIP_PACKAGES).
func (im *Image) Words(name string) []string { return strings.Fields(im.Vars[name]) }

// Mapping says how an image definition maps onto an stx-build
// images/<name>.yaml: what carries over, and what has no equivalent.
func (im *Image) Mapping() (maps bool, carries, lost []string) {
	if im.File == "" {
		return false, nil, []string{"the definition is not in the tree"}
	}
	if n := len(im.Words("PIP_PACKAGES")); n > 0 {
		lost = append(lost, "PIP_PACKAGES ("+strconv.Itoa(n)+" Python packages from pip: stx-build images hold .debs only)")
	}
	switch im.Builder() {
	case "docker":
		carries = append(carries, "LABEL -> images/"+im.Label()+".yaml")
		if n := len(im.Words("DIST_PACKAGES")); n > 0 {
			carries = append(carries, "DIST_PACKAGES -> packages ("+strconv.Itoa(n)+")")
		}
		if im.DockerDir != "" {
			lost = append(lost, im.DockerDir+"/ (its Dockerfile steps are not replayed: images are made of packages, env, entrypoint)")
		}
		for _, v := range []string{"DOCKER_CONTEXT", "DOCKER_FILE", "CUSTOMIZATION"} {
			if im.Vars[v] != "" {
				lost = append(lost, v+" (Dockerfile steps are not replayed: images are made of packages, env, entrypoint)")
			}
		}
		return true, carries, lost
	case "loci":
		lost = append(lost, "BUILDER=loci (OpenStack LOCI builds from a wheels tarball: no stx-build equivalent)")
	case "script":
		lost = append(lost, "BUILDER=script (an arbitrary build script: no stx-build equivalent)")
	default:
		lost = append(lost, "BUILDER="+im.Builder()+" (unknown)")
	}
	return false, carries, lost
}

// Images reads every repo's debian_stable_docker_images.inc and the image
// definitions it names, in list order repo by repo.
func (t *Tree) Images() []*Image {
	var out []*Image
	for _, r := range t.Repos {
		inc := filepath.Join(r.Dir, "debian_stable_docker_images.inc")
		data, err := regularfile.Read(inc, maxListFile)
		if err != nil {
			continue
		}
		for _, l := range listLines(data) {
			dir := filepath.Join(r.Dir, l.text)
			im := &Image{Repo: r.Name, Dir: t.rel(dir), List: t.rel(inc), Line: l.line, Vars: map[string]string{}}
			var matches []string
			for _, d := range t.debianDirs(dir) {
				if matches, _ = filepath.Glob(filepath.Join(d, "*.stable_docker_image")); len(matches) > 0 {
					break
				}
			}
			sort.Strings(matches)
			for _, m := range matches {
				if !within(t.Root, m) {
					continue
				}
				if data, err := regularfile.Read(m, maxListFile); err == nil {
					im.File, im.Vars = t.rel(m), parseShellVars(string(data))
					if fi, err := os.Stat(filepath.Join(filepath.Dir(m), "docker")); err == nil && fi.IsDir() {
						im.DockerDir = t.rel(filepath.Join(filepath.Dir(m), "docker"))
					}
					break
				}
			}
			out = append(out, im)
		}
	}
	return out
}

// parseShellVars reads KEY=VALUE lines as build-stx-images.sh sources
// them: values may be double- or single-quoted across lines, a backslash
// before a newline joins lines, "#" starts a comment line. No expansion.
func parseShellVars(s string) map[string]string {
	vars := map[string]string{}
	i := 0
	for i < len(s) {
		// Skip blank space and comment lines.
		for i < len(s) && strings.ContainsRune(" \t\n", rune(s[i])) {
			i++
		}
		if i < len(s) && s[i] == '#' {
			for i < len(s) && s[i] != '\n' {
				i++
			}
			continue
		}
		eq := strings.IndexAny(s[i:], "=\n")
		if eq < 0 || s[i+eq] != '=' {
			for i < len(s) && s[i] != '\n' {
				i++
			}
			continue
		}
		key := strings.TrimSpace(s[i : i+eq])
		i += eq + 1
		var val strings.Builder
		for i < len(s) && s[i] != '\n' {
			switch c := s[i]; {
			case c == '"' || c == '\'':
				end := strings.IndexByte(s[i+1:], c)
				if end < 0 {
					end = len(s) - i - 1
				}
				val.WriteString(strings.ReplaceAll(s[i+1:i+1+end], "\\\n", " "))
				i += end + 2
			case c == '\\' && i+1 < len(s) && s[i+1] == '\n':
				val.WriteByte(' ')
				i += 2
			default:
				val.WriteByte(c)
				i++
			}
		}
		vars[key] = strings.Join(strings.Fields(val.String()), " ")
	}
	return vars
}
