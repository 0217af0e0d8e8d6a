package manifests

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
)

// ISOFile is the name of the ISO manifest at the root of a project.
const ISOFile = "iso.yaml"

// Where an extra file of an ISO goes.
const (
	ISOTargetMedium = "medium" // the ISO 9660 file system (the default)
	ISOTargetRootfs = "rootfs" // the live system's root file system
)

// Squashfs compressors the kernel's squashfs reads (Debian's kernels have
// all of them).
var isoCompressions = []string{"gzip", "lz4", "lzo", "xz", "zstd"}

// isoVariants are the mmdebstrap variants a live root may start from.
var isoVariants = []string{"essential", "apt", "required", "important", "standard"}

// isoReserved are the medium's paths stx-build writes; extra files may not
// go there.
var isoReserved = []string{"/boot", "/EFI", "/live", "/.disk"}

// DefaultISOTimeout is how long the boot menu waits, in seconds, when the
// manifest does not say.
const DefaultISOTimeout = 3

// ISO is the project's iso.yaml: a live system booted from a hybrid ISO
// (CD or USB stick; BIOS and UEFI on amd64, UEFI on arm64).
type ISO struct {
	// File is the absolute path of iso.yaml; Display its path relative to
	// the project directory, as used in messages.
	File    string `yaml:"-"`
	Display string `yaml:"-"`

	// Name is the ISO's file name stem: <name>-<arch>.iso. Default: the
	// project's name.
	Name string `yaml:"name"`
	// Label is the ISO 9660 volume identifier; the live system finds its
	// medium by it.
	Label string `yaml:"label" required:"true"`
	// Architectures restricts the ISO to some of the project's
	// architectures (default: all of them).
	Architectures []string `yaml:"architectures"`
	// Variant is mmdebstrap's starting set (default apt).
	Variant string `yaml:"variant"`
	// Packages are installed into the live root from the local repository
	// and the archive: "name" or "name=version". The live root must have an
	// init (systemd-sysv).
	Packages []string `yaml:"packages"`
	// PackagesFrom "starlingx" adds the ISO package lists of the project's
	// StarlingX tree (debian-<codename>-image.inc and every repo's
	// *_iso_image*.inc) to Packages; Packages may then be empty.
	PackagesFrom string `yaml:"packages-from"`
	// Kernel selects the kernel package.
	Kernel ISOKernel `yaml:"kernel"`
	// Cmdline holds extra kernel arguments for every menu entry.
	Cmdline string `yaml:"cmdline"`
	// Timeout is how long the boot menu waits, in seconds (default 3).
	Timeout *int `yaml:"timeout"`
	// Menu lists the boot menu entries; the first is the default. Default:
	// one entry named after the ISO.
	Menu []ISOMenuEntry `yaml:"menu"`
	// Files are extra files or directories put on the medium or into the
	// live root.
	Files []ISOExtraFile `yaml:"files"`
	// Squashfs tunes the live root's image.
	Squashfs ISOSquashfs `yaml:"squashfs"`
}

// PackagesFromStarlingX is the packages-from value that takes the ISO
// package lists of the project's StarlingX tree.
const PackagesFromStarlingX = "starlingx"

// ISOKernel selects the kernel.
type ISOKernel struct {
	// Package is the kernel's binary package; "{arch}" in it is replaced by
	// the architecture. Default: a linux-image-* package the project
	// builds, else the archive's linux-image-<arch>.
	Package string `yaml:"package"`
}

// ISOMenuEntry is one boot menu entry.
type ISOMenuEntry struct {
	Title string `yaml:"title" required:"true"`
	// Cmdline holds kernel arguments added for this entry.
	Cmdline string `yaml:"cmdline"`
}

// ISOExtraFile copies a file or directory of the project into the ISO.
type ISOExtraFile struct {
	// Src is relative to the project directory.
	Src string `yaml:"src" required:"true"`
	// Dest is the absolute path it gets.
	Dest string `yaml:"dest" required:"true"`
	// Target is medium (default) or rootfs.
	Target string `yaml:"target"`
}

// ISOSquashfs tunes the squashfs image of the live root.
type ISOSquashfs struct {
	// Compression is one of gzip, lz4, lzo, xz, zstd (default zstd).
	Compression string `yaml:"compression"`
	// Level is the compression level for gzip (1-9, default 9) and zstd
	// (1-22, default 9: zstd's own default of 15 takes about 20 times as
	// long for 5 % less).
	Level int `yaml:"level"`
}

// isoLevels are the compression levels mksquashfs takes, and the default.
var isoLevels = map[string]struct{ min, max, def int }{
	"gzip": {1, 9, 9},
	"zstd": {1, 22, 9},
}

// EffectiveName is the name with the default applied.
func (m *ISO) EffectiveName(p *Project) string {
	if m.Name != "" {
		return m.Name
	}
	return isoFileStem(p.Name)
}

// EffectiveArchitectures are the architectures the ISO is built for, in
// the project's order.
func (m *ISO) EffectiveArchitectures(p *Project) []string {
	if len(m.Architectures) == 0 {
		return append([]string(nil), p.Architectures...)
	}
	var out []string
	for _, a := range p.Architectures {
		for _, b := range m.Architectures {
			if a == b {
				out = append(out, a)
			}
		}
	}
	return out
}

// EffectiveVariant is the variant with the default applied.
func (m *ISO) EffectiveVariant() string {
	if m.Variant == "" {
		return "apt"
	}
	return m.Variant
}

// EffectiveTimeout is the menu timeout with the default applied.
func (m *ISO) EffectiveTimeout() int {
	if m.Timeout == nil {
		return DefaultISOTimeout
	}
	return *m.Timeout
}

// EffectiveCompression is the squashfs compressor with the default applied.
func (m *ISO) EffectiveCompression() string {
	if m.Squashfs.Compression == "" {
		return "zstd"
	}
	return m.Squashfs.Compression
}

// EffectiveLevel is the compression level with the default applied; 0
// for compressors without levels.
func (m *ISO) EffectiveLevel() int {
	l, ok := isoLevels[m.EffectiveCompression()]
	switch {
	case !ok:
		return 0
	case m.Squashfs.Level != 0:
		return m.Squashfs.Level
	}
	return l.def
}

// KernelPackage is kernel.package for arch, or "" when unset.
func (m *ISO) KernelPackage(arch string) string {
	return strings.ReplaceAll(m.Kernel.Package, "{arch}", arch)
}

// EffectiveTarget is the file's target with the default applied.
func (f ISOExtraFile) EffectiveTarget() string {
	if f.Target == "" {
		return ISOTargetMedium
	}
	return f.Target
}

var (
	// ISO 9660 d-characters; GRUB and the live initramfs match it exactly.
	isoLabel = regexp.MustCompile(`^[A-Z0-9_]{1,32}$`)
	isoName  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._+-]*$`)
	// name or name=version, as apt-get install takes them.
	isoPackage = regexp.MustCompile(`^[a-z0-9][a-z0-9+.-]+(=[A-Za-z0-9.+~:-]+)?$`)
	// A kernel package name, possibly with {arch}.
	isoKernelPackage = regexp.MustCompile(`^[a-z0-9][a-z0-9+.{}-]+$`)
	// One kernel argument: what GRUB passes through unquoted.
	isoKernelArg = regexp.MustCompile(`^[A-Za-z0-9_.,:=/+@%-]+$`)
)

// isoFileStem makes a file name stem from a project name.
func isoFileStem(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_', r == '+', r == '-':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	out := strings.Trim(b.String(), "-.")
	if out == "" {
		return "live"
	}
	return out
}

// LoadISO reads the iso.yaml of the loaded project p. A project without
// one has no ISO: LoadISO returns nil and no error. Problems are returned
// together as Errors, with the file name relative to the project directory.
func LoadISO(p *Project) (*ISO, error) {
	file := filepath.Join(p.Dir, ISOFile)
	if _, err := os.Lstat(file); os.IsNotExist(err) {
		return nil, nil
	}
	return LoadISOFile(p, file)
}

// LoadISOFile reads an ISO manifest of the loaded project p from file,
// which must be a regular file inside the project (or allow-outside), as
// must the files it names.
func LoadISOFile(p *Project, file string) (*ISO, error) {
	abs, err := filepath.Abs(file)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", file, err)
	}
	t, err := projectTree(p)
	if err != nil {
		return nil, fmt.Errorf("load ISO manifest: %w", err)
	}
	display := displayPath(p.Dir, abs)
	data, err := t.readFile(abs, MaxManifestSize)
	if msg, refused := isRefusal(err); refused {
		return nil, Errors{{File: display, Msg: msg}}.asError()
	}
	if err != nil {
		return nil, fmt.Errorf("load ISO manifest: %w", err)
	}
	var errs Errors
	m := &ISO{File: abs, Display: display}
	d, ok := decodeFile(data, display, m, &errs)
	if ok {
		validateISO(p, m, d, t)
	}
	if err := errs.asError(); err != nil {
		return nil, err
	}
	return m, nil
}

func validateISO(p *Project, m *ISO, d *document, t *tree) {
	if m.Name != "" && !isoName.MatchString(m.Name) {
		d.errorf("name", "invalid name %s: use letters, digits, \".\", \"_\", \"+\" or \"-\" (it names the ISO file)", quoteShort(m.Name))
	}
	if m.Label != "" && !isoLabel.MatchString(m.Label) {
		msg := fmt.Sprintf("invalid volume label %s: use 1 to 32 of A-Z, 0-9 and _", quoteShort(m.Label))
		if up := strings.ToUpper(m.Label); isoLabel.MatchString(up) {
			msg += fmt.Sprintf("; did you mean %q?", up)
		}
		d.errorf("label", "%s", msg)
	}
	if d.given("architectures") && len(m.Architectures) == 0 {
		d.errorf("architectures", "must not be empty (leave it out to build for every architecture)")
	}
	checkArchitectures(d, "architectures", m.Architectures)
	for i, a := range m.Architectures {
		f := indexPath("architectures", i)
		if !d.bad[f] && !isoContains(p.Architectures, a) {
			d.errorf(f, "architecture %q is not built by the project (%s architectures: %s)", a, ProjectFile, strings.Join(p.Architectures, ", "))
		}
	}
	if m.Variant != "" && !isoContains(isoVariants, m.Variant) {
		msg := fmt.Sprintf("unknown variant %s (use one of %s)", quoteShort(m.Variant), strings.Join(isoVariants, ", "))
		if s := suggest(m.Variant, isoVariants); s != "" {
			msg = fmt.Sprintf("unknown variant %s; did you mean %q?", quoteShort(m.Variant), s)
		}
		d.errorf("variant", "%s", msg)
	}
	switch {
	case m.PackagesFrom == "" && len(m.Packages) == 0 && !d.bad["packages"]:
		d.errorf("packages", "missing required field")
	case m.PackagesFrom != "" && m.PackagesFrom != PackagesFromStarlingX:
		d.errorf("packages-from", "unknown list %s (the one known is %q)", quoteShort(m.PackagesFrom), PackagesFromStarlingX)
	case m.PackagesFrom != "" && p.StarlingX == nil:
		d.errorf("packages-from", "%s names no StarlingX tree (starlingx: root)", ProjectFile)
	}
	seen := map[string]int{}
	for i, pkg := range m.Packages {
		f := indexPath("packages", i)
		if d.bad[f] {
			continue
		}
		if !isoPackage.MatchString(pkg) {
			d.errorf(f, "invalid package %s: use name or name=version (%s)", quoteShort(pkg), packageNameRule)
			continue
		}
		name, _, _ := strings.Cut(pkg, "=")
		if j, dup := seen[name]; dup {
			d.errorf(f, "package %q is already listed in packages[%d]", name, j)
			continue
		}
		seen[name] = i
	}
	if k := m.Kernel.Package; k != "" {
		if !isoKernelPackage.MatchString(k) || strings.Count(k, "{") != strings.Count(k, "{arch}") || strings.Count(k, "}") != strings.Count(k, "{arch}") {
			d.errorf("kernel.package", "invalid package name %s: %s; {arch} stands for the architecture", quoteShort(k), packageNameRule)
		}
	}
	isoCheckKernelArgs(d, "cmdline", m.Cmdline)
	if m.Timeout != nil && (*m.Timeout < 0 || *m.Timeout > 3600) {
		d.errorf("timeout", "must be between 0 and 3600 seconds")
	}
	titles := map[string]int{}
	for i, e := range m.Menu {
		f := indexPath("menu", i)
		if strings.ContainsAny(e.Title, "\r\n") {
			d.errorf(f+".title", "must be a single line")
		} else if j, dup := titles[e.Title]; dup && e.Title != "" {
			d.errorf(f+".title", "same title as menu[%d]", j)
		} else {
			titles[e.Title] = i
		}
		isoCheckKernelArgs(d, f+".cmdline", e.Cmdline)
	}
	dests := map[string]int{}
	for i, fl := range m.Files {
		f := indexPath("files", i)
		if fl.Target != "" && fl.Target != ISOTargetMedium && fl.Target != ISOTargetRootfs {
			d.errorf(f+".target", "unknown target %s: use %s or %s", quoteShort(fl.Target), ISOTargetMedium, ISOTargetRootfs)
		}
		if fl.Src != "" {
			switch {
			case filepath.IsAbs(fl.Src):
				d.errorf(f+".src", "must be a path relative to the project directory")
			default:
				isoCheckSrc(d, t, f+".src", p.Dir, fl.Src)
			}
		}
		if fl.Dest == "" {
			continue
		}
		clean := path.Clean(fl.Dest)
		switch {
		case !strings.HasPrefix(fl.Dest, "/"):
			d.errorf(f+".dest", "must be an absolute path such as /README.txt")
			continue
		case clean != fl.Dest || clean == "/":
			d.errorf(f+".dest", "must be a clean path to a file or directory (not %s)", quoteShort(fl.Dest))
			continue
		}
		if fl.EffectiveTarget() == ISOTargetMedium {
			for _, r := range isoReserved {
				if clean == r || strings.HasPrefix(clean, r+"/") || strings.EqualFold(clean, r) {
					d.errorf(f+".dest", "%s is written by stx-build; choose another path", r)
				}
			}
		}
		key := fl.EffectiveTarget() + ":" + clean
		if j, dup := dests[key]; dup {
			d.errorf(f+".dest", "same destination as files[%d]", j)
		}
		dests[key] = i
	}
	if c := m.Squashfs.Compression; c != "" && !isoContains(isoCompressions, c) {
		d.errorf("squashfs.compression", "unknown compression %s (use one of %s)", quoteShort(c), strings.Join(isoCompressions, ", "))
	} else if d.given("squashfs.level") {
		c := m.EffectiveCompression()
		l, ok := isoLevels[c]
		switch {
		case !ok:
			d.errorf("squashfs.level", "%s has no compression levels (gzip and zstd have)", c)
		case m.Squashfs.Level < l.min || m.Squashfs.Level > l.max:
			d.errorf("squashfs.level", "%s levels are %d to %d", c, l.min, l.max)
		}
	}
}

// isoCheckSrc checks a file to copy into the ISO: inside the project
// (symlinks resolved), and a regular file or a directory.
func isoCheckSrc(d *document, t *tree, field, dir, src string) {
	_, fi, err := t.stat(filepath.Join(dir, src))
	msg, refused := isRefusal(err)
	switch {
	case refused:
		d.errorf(field, "%s %s", quoteShort(src), msg)
	case err != nil && os.IsNotExist(err):
		d.errorf(field, "%s does not exist", quoteShort(src))
	case err != nil:
		d.errorf(field, "cannot read %s: %v", quoteShort(src), err)
	case !fi.IsDir() && !fi.Mode().IsRegular():
		d.errorf(field, "%s is %s, not a file or directory", quoteShort(src), describeMode(fi.Mode()))
	}
}

// isoCheckKernelArgs checks a kernel command line fragment: words GRUB passes
// through unquoted, and none that stx-build sets itself.
func isoCheckKernelArgs(d *document, field, cmdline string) {
	for _, arg := range strings.Fields(cmdline) {
		switch {
		case !isoKernelArg.MatchString(arg):
			d.errorf(field, "kernel argument %s: use letters, digits and _ . , : = / + @ %% -", quoteShort(arg))
			return
		case strings.HasPrefix(arg, "stx.live="):
			d.errorf(field, "stx.live= is set by stx-build (from label)")
			return
		}
	}
}

func isoContains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}
