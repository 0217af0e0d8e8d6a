package starlingx

import (
	"bytes"
	"errors"
	"io"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/stx-build/stx-build/manifests"
)

// MetaFile is the name of StarlingX's per-package description.
const MetaFile = "meta_data.yaml"

// SourceKind says where a package's source comes from. StarlingX takes the
// first key present, in this order: dl_hook, dl_path, src_path, archive,
// none (debrepack.py package()).
type SourceKind string

const (
	// KindDLHook: a script beside meta_data.yaml makes the tree.
	KindDLHook SourceKind = "dl_hook"
	// KindDLPath: a tarball by URL and checksum.
	KindDLPath SourceKind = "dl_path"
	// KindSrcPath: a directory of the repo (deb_folder gives debian/).
	KindSrcPath SourceKind = "src_path"
	// KindArchive: <debname>_<debver>.dsc from a Debian pool URL.
	KindArchive SourceKind = "archive"
	// KindApt: apt-get source debname=debver from the build mirror.
	KindApt SourceKind = "apt"
)

// Meta is one decoded meta_data.yaml. Keys StarlingX reads but stx-build
// does not need (tarball_size, compile_priority_boost, ...) are accepted
// and dropped.
type Meta struct {
	// DebName is the source name; empty when the file does not set it.
	DebName string
	// DebVer is the version, with a trailing "@" stripped as StarlingX does.
	DebVer string
	// Archive is the URL of the Debian pool directory holding the .dsc.
	Archive string
	// DSCSHA256 pins the .dsc of an archive source.
	DSCSHA256 string
	// DLHook is the name of the script beside meta_data.yaml.
	DLHook string
	// DLPath is the tarball of a dl_path source.
	DLPath *Download
	// DLFiles are extra downloads, sorted by name.
	DLFiles []Download
	// SrcPath is the in-repo source directory as written ("" for null);
	// HasSrcPath says the key is there (null included).
	SrcPath    string
	HasSrcPath bool
	// SrcFiles are files or directories copied into the source root.
	SrcFiles []string
	// Revision holds the version-suffix rules.
	Revision Revision
	// Serial asks for a build with one make job.
	Serial bool

	// keys maps the keys present at the top level to where they sit.
	keys map[string]position
}

// Download is one file fetched by URL: the dl_path tarball or a dl_files
// entry.
type Download struct {
	// Name is the file name (dl_path name, or the dl_files key).
	Name   string
	URL    string
	SHA256 string
	MD5    string
	// Topdir (dl_files only): "" copies the file into the source root;
	// otherwise it is unpacked into that directory.
	Topdir string
	// Line is where the entry sits in meta_data.yaml.
	Line int
}

// Revision is meta_data.yaml's revision: the rules for the <dist>.<N>
// suffix of the version.
type Revision struct {
	// Dist is the distribution suffix as written ($STX_DIST: ".stx").
	Dist string
	// PkgGitRevCount counts the commits of the package directory, from
	// PkgBaseSrcRev when set.
	PkgGitRevCount bool
	PkgBaseSrcRev  string
	// SrcGitRevCount counts the commits of src_path from SrcBaseSrcRev.
	SrcGitRevCount bool
	SrcBaseSrcRev  string
	// FilesGitRevCount lists a base revision per src_files directory.
	FilesGitRevCount []string
	// GitRevCount counts the commits of SrcDir from BaseSrcRev.
	GitRevCount bool
	BaseSrcRev  string
	SrcDir      string
	// STXPatch is added to the count.
	STXPatch int
}

// Kind returns where the source comes from, by StarlingX's order of keys.
func (m *Meta) Kind() SourceKind {
	switch {
	case m.has("dl_hook"):
		return KindDLHook
	case m.has("dl_path"):
		return KindDLPath
	case m.has("src_path"):
		return KindSrcPath
	case m.has("archive"):
		return KindArchive
	}
	return KindApt
}

func (m *Meta) has(key string) bool { _, ok := m.keys[key]; return ok }

// UpstreamVersion is debver without epoch and Debian revision: the work
// directory is <debname>-<upstream>.
func (m *Meta) UpstreamVersion() string {
	v := m.DebVer
	if i := strings.Index(v, ":"); i >= 0 {
		v = v[i+1:]
	}
	if i := strings.LastIndex(v, "-"); i >= 0 {
		v = v[:i]
	}
	return v
}

// position is a 1-based line and column.
type position struct{ line, col int }

// topKeys are the top-level keys StarlingX's tools read, in the order
// suggestions prefer them.
var topKeys = []string{
	"debname", "debver", "archive", "dsc_sha256", "dl_hook", "dl_path", "dl_files",
	"src_path", "src_files", "revision", "serial",
	// Read by package_metadata.py / debian_checksum.py (2026); not by build-pkgs.
	"tarball_size", "compile_time", "compile_priority_boost", "always_build", "rebuild_triggers", "content_depends",
}

var revisionKeys = []string{
	"dist", "PKG_GITREVCOUNT", "PKG_BASE_SRCREV", "SRC_GITREVCOUNT", "FILES_GITREVCOUNT", "GITREVCOUNT", "stx_patch",
}

var downloadKeys = []string{"name", "url", "sha256sum", "md5sum"}
var dlFileKeys = []string{"url", "sha256sum", "md5sum", "topdir"}

// metaDecoder walks one meta_data.yaml node tree.
type metaDecoder struct {
	r reporter
	m *Meta
}

// parseMeta decodes data, the meta_data.yaml named file (relative to the
// root) in diagnostics. It reports whether the file was usable: a file that
// is no YAML mapping, or has no debver, is not.
func parseMeta(data []byte, file string, out *Diagnostics) (*Meta, bool) {
	md := &metaDecoder{r: reporter{file: file, out: out}, m: &Meta{keys: map[string]position{}}}
	var root yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			md.r.add(Error, 0, 0, "", "file is empty")
		} else {
			md.r.add(Error, 0, 0, "", "invalid YAML: %s", strings.TrimPrefix(err.Error(), "yaml: "))
		}
		return nil, false
	}
	n := &root
	if n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		n = n.Content[0]
	}
	if n.Kind != yaml.MappingNode {
		md.r.add(Error, n.Line, n.Column, "", "expected a mapping of keys")
		return nil, false
	}
	md.top(n)
	if md.m.DebVer == "" {
		if !md.m.has("debver") {
			md.r.add(Error, n.Line, n.Column, "debver", "missing (StarlingX requires it)")
		}
		return md.m, false
	}
	return md.m, true
}

// top decodes the top-level mapping.
func (md *metaDecoder) top(n *yaml.Node) {
	m := md.m
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		key := k.Value
		if _, dup := m.keys[key]; dup {
			md.r.add(Warning, k.Line, k.Column, key, "given twice; StarlingX's YAML reader keeps the last")
		}
		m.keys[key] = position{k.Line, k.Column}
		switch key {
		case "debname":
			m.DebName = md.scalar(v, key)
		case "debver":
			m.DebVer = strings.TrimSuffix(md.scalar(v, key), "@")
			if m.DebVer == "" {
				md.r.add(Error, v.Line, v.Column, key, "empty")
			}
		case "archive":
			m.Archive = md.scalar(v, key)
		case "dsc_sha256":
			m.DSCSHA256 = md.scalar(v, key)
		case "dl_hook":
			m.DLHook = md.scalar(v, key)
		case "dl_path":
			d := md.download(v, key, downloadKeys)
			m.DLPath = &d
		case "dl_files":
			md.dlFiles(v)
		case "src_path":
			m.HasSrcPath = true
			if !isNull(v) {
				m.SrcPath = md.scalar(v, key)
			}
		case "src_files":
			m.SrcFiles = md.strings(v, key)
		case "revision":
			md.revision(v)
		case "serial":
			m.Serial = md.boolean(v, key)
		case "tarball_size", "compile_time", "compile_priority_boost", "always_build", "rebuild_triggers", "content_depends":
			// Known to StarlingX's newer scripts; nothing here uses them.
		default:
			md.unknown(k, "", topKeys)
		}
	}
}

// unknown reports a key StarlingX's tools do not read, with what they do
// instead: nothing.
func (md *metaDecoder) unknown(k *yaml.Node, parent string, known []string) {
	field := k.Value
	if parent != "" {
		field = parent + "." + k.Value
	}
	msg := "unknown key; StarlingX's tools ignore it"
	if parent == "" {
		for _, rk := range revisionKeys {
			if rk == k.Value {
				md.r.add(Warning, k.Line, k.Column, field, "belongs under revision:; StarlingX's tools ignore it here")
				return
			}
		}
	}
	if s := suggestKey(k.Value, known); s != "" {
		msg += " (did you mean " + strconv.Quote(s) + "?)"
		switch s {
		case "archive":
			msg += ": without archive the source is fetched by name=version from the build mirror"
		case "debname":
			msg += ": without debname the source name is the directory's name"
		}
	}
	md.r.add(Warning, k.Line, k.Column, field, "%s", msg)
}

// suggestKey is manifests.Suggest over keys of either case.
func suggestKey(word string, known []string) string {
	lower := make([]string, len(known))
	for i, k := range known {
		lower[i] = strings.ToLower(k)
	}
	s := manifests.Suggest(word, lower)
	for i, l := range lower {
		if l == s && s != "" {
			return known[i]
		}
	}
	return ""
}

func (md *metaDecoder) scalar(v *yaml.Node, field string) string {
	if isNull(v) {
		return ""
	}
	if v.Kind != yaml.ScalarNode {
		md.r.add(Error, v.Line, v.Column, field, "expected a string")
		return ""
	}
	return v.Value
}

func (md *metaDecoder) boolean(v *yaml.Node, field string) bool {
	if isNull(v) {
		return false
	}
	b, err := strconv.ParseBool(strings.ToLower(v.Value))
	if v.Kind != yaml.ScalarNode || err != nil {
		md.r.add(Error, v.Line, v.Column, field, "expected true or false")
		return false
	}
	return b
}

func (md *metaDecoder) strings(v *yaml.Node, field string) []string {
	if isNull(v) {
		return nil
	}
	if v.Kind != yaml.SequenceNode {
		md.r.add(Error, v.Line, v.Column, field, "expected a list")
		return nil
	}
	var out []string
	for i, e := range v.Content {
		if s := md.scalar(e, field+"["+strconv.Itoa(i)+"]"); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// download decodes a {name, url, sha256sum, md5sum[, topdir]} mapping.
func (md *metaDecoder) download(v *yaml.Node, field string, known []string) Download {
	d := Download{Line: v.Line}
	if v.Kind != yaml.MappingNode {
		md.r.add(Error, v.Line, v.Column, field, "expected a mapping (name, url, sha256sum)")
		return d
	}
	for i := 0; i+1 < len(v.Content); i += 2 {
		k, val := v.Content[i], v.Content[i+1]
		f := field + "." + k.Value
		switch {
		case k.Value == "name" && contains(known, "name"):
			d.Name = md.scalar(val, f)
		case k.Value == "url":
			d.URL = md.scalar(val, f)
		case k.Value == "sha256sum":
			d.SHA256 = md.scalar(val, f)
		case k.Value == "md5sum":
			d.MD5 = md.scalar(val, f)
		case k.Value == "topdir" && contains(known, "topdir"):
			d.Topdir = md.scalar(val, f)
		default:
			md.unknown(k, field, known)
		}
	}
	md.checkDownload(d, v, field)
	return d
}

// checkDownload reports a download without a URL or a usable checksum.
func (md *metaDecoder) checkDownload(d Download, v *yaml.Node, field string) {
	switch {
	case d.URL == "":
		md.r.add(Error, v.Line, v.Column, field, "no url")
	case d.SHA256 == "" && d.MD5 == "":
		md.r.add(Error, v.Line, v.Column, field, "no sha256sum (nor md5sum): the download cannot be verified")
	case d.SHA256 == "":
		md.r.add(Warning, v.Line, v.Column, field, "md5sum only: verified by MD5, which does not protect against a changed file; add sha256sum")
	case !isHex(d.SHA256, 64):
		md.r.add(Error, v.Line, v.Column, field+".sha256sum", "not a sha256 (64 hex digits)")
	}
}

func (md *metaDecoder) dlFiles(v *yaml.Node) {
	if isNull(v) {
		return
	}
	if v.Kind != yaml.MappingNode {
		md.r.add(Error, v.Line, v.Column, "dl_files", "expected a mapping of file names")
		return
	}
	for i := 0; i+1 < len(v.Content); i += 2 {
		k, val := v.Content[i], v.Content[i+1]
		d := md.download(val, "dl_files."+k.Value, dlFileKeys)
		d.Name = k.Value
		md.m.DLFiles = append(md.m.DLFiles, d)
	}
	sort.SliceStable(md.m.DLFiles, func(i, j int) bool { return md.m.DLFiles[i].Name < md.m.DLFiles[j].Name })
}

func (md *metaDecoder) revision(v *yaml.Node) {
	if isNull(v) {
		return
	}
	if v.Kind != yaml.MappingNode {
		md.r.add(Error, v.Line, v.Column, "revision", "expected a mapping")
		return
	}
	r := &md.m.Revision
	for i := 0; i+1 < len(v.Content); i += 2 {
		k, val := v.Content[i], v.Content[i+1]
		f := "revision." + k.Value
		switch k.Value {
		case "dist":
			r.Dist = md.scalar(val, f)
		case "PKG_GITREVCOUNT":
			r.PkgGitRevCount = md.boolean(val, f)
		case "PKG_BASE_SRCREV":
			r.PkgBaseSrcRev = md.scalar(val, f)
		case "SRC_GITREVCOUNT":
			r.SrcGitRevCount = true
			r.SrcBaseSrcRev = md.subMap(val, f, "SRC_BASE_SRCREV")["SRC_BASE_SRCREV"]
		case "FILES_GITREVCOUNT":
			r.FilesGitRevCount = md.strings(val, f)
		case "GITREVCOUNT":
			r.GitRevCount = true
			sub := md.subMap(val, f, "BASE_SRCREV", "SRC_DIR")
			r.BaseSrcRev, r.SrcDir = sub["BASE_SRCREV"], sub["SRC_DIR"]
		case "stx_patch":
			n, err := strconv.Atoi(val.Value)
			if val.Kind != yaml.ScalarNode || err != nil || n < 0 {
				md.r.add(Error, val.Line, val.Column, f, "expected a whole number >= 0")
			}
			r.STXPatch = n
		default:
			md.unknown(k, "revision", revisionKeys)
		}
	}
}

// subMap decodes a mapping of strings with the keys known, reporting
// others as unknown.
func (md *metaDecoder) subMap(v *yaml.Node, field string, known ...string) map[string]string {
	out := map[string]string{}
	if isNull(v) {
		return out
	}
	if v.Kind != yaml.MappingNode {
		md.r.add(Error, v.Line, v.Column, field, "expected a mapping")
		return out
	}
	for i := 0; i+1 < len(v.Content); i += 2 {
		k, val := v.Content[i], v.Content[i+1]
		if contains(known, k.Value) {
			out[k.Value] = md.scalar(val, field+"."+k.Value)
		} else {
			md.unknown(k, field, known)
		}
	}
	return out
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

func isHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for _, c := range s {
		if !strings.ContainsRune("0123456789abcdefABCDEF", c) {
			return false
		}
	}
	return true
}

func contains(xs []string, x string) bool {
	for _, s := range xs {
		if s == x {
			return true
		}
	}
	return false
}
