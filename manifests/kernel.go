package manifests

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"pault.ag/go/debian/version"
)

// KernelSource is a Linux kernel built from an upstream tarball with the
// kernel's own Debian packaging (make bindeb-pkg), not from a debian/ tree.
type KernelSource struct {
	// Version is the Debian version of the produced packages
	// (KDEB_PKGVERSION), such as 6.1.192-1stx1.
	Version string `yaml:"version" required:"true"`
	// Tarball is the upstream source tarball: a file in the package
	// directory or a URL, always with its sha256.
	Tarball KernelTarball `yaml:"tarball" required:"true"`
	// LocalVersion is appended to the kernel release (CONFIG_LOCALVERSION),
	// so linux-image-<release><localversion> names the package.
	LocalVersion string `yaml:"localversion"`
	// Config is the configuration per architecture: a base plus fragments.
	Config map[string]KernelConfig `yaml:"config" required:"true"`
}

// KernelTarball names the kernel source tarball. Exactly one of File and URL.
type KernelTarball struct {
	// File is a path relative to the package directory.
	File string `yaml:"file"`
	// URL is an http(s) URL, fetched into the cache.
	URL string `yaml:"url"`
	// SHA256 is the tarball's digest: 64 lowercase hexadecimal digits.
	SHA256 string `yaml:"sha256" required:"true"`
}

// KernelConfig is one architecture's kernel configuration.
type KernelConfig struct {
	// Base is tinyconfig, defconfig, allnoconfig, or a config file relative
	// to the package directory.
	Base string `yaml:"base" required:"true"`
	// Fragments are config fragments (relative to the package directory)
	// merged in order with scripts/kconfig/merge_config.sh.
	Fragments []string `yaml:"fragments"`
}

// KernelBuildDepends are the tools make bindeb-pkg needs, all for the build
// machine: the cross compiler comes with the base root's
// crossbuild-essential-<arch>, and kbuild's host programs link against the
// build machine's libssl and libelf.
const KernelBuildDepends = "bc:native, bison:native, flex:native, cpio:native, kmod:native, rsync:native, libssl-dev:native, libelf-dev:native, python3:native"

// KernelRelease is the kernel release the package's build reports (make
// kernelrelease): the upstream part of Version plus LocalVersion. It names
// the linux-image and linux-headers packages.
func (k *KernelSource) KernelRelease() string {
	up := k.Version
	if _, rest, ok := strings.Cut(up, ":"); ok {
		up = rest
	}
	if i := strings.LastIndex(up, "-"); i >= 0 {
		up = up[:i]
	}
	return up + k.LocalVersion
}

// KernelBaseTargets are the make targets accepted as a config base.
var KernelBaseTargets = []string{"allnoconfig", "defconfig", "tinyconfig"}

// IsKernel reports whether the package is a kernel built with bindeb-pkg.
func (p *Package) IsKernel() bool { return p.Source.Kernel != nil }

// localVersionRe is what kbuild accepts in a release string, kept narrow
// because it ends up in package names.
var localVersionRe = regexp.MustCompile(`^[a-z0-9.+-]*$`)

func validateKernelSource(pkg *Package, d *document) {
	k := pkg.Source.Kernel
	if k.Version != "" {
		if _, err := version.Parse(k.Version); err != nil || !strings.Contains(k.Version, "-") {
			d.errorf("source.kernel.version", "invalid version %s: use upstream-revision, such as 6.1.192-1stx1", quoteShort(k.Version))
		}
	}
	t := &k.Tarball
	switch {
	case t.File != "" && t.URL != "":
		d.errorf("source.kernel.tarball", "set only one of file or url")
	case t.File == "" && t.URL == "":
		d.errorf("source.kernel.tarball", "set one of file or url")
	case t.File != "":
		checkPath(d, "source.kernel.tarball.file", pkg.Dir, t.File, false)
	case t.URL != "":
		if !isMirrorURL(t.URL) || strings.HasPrefix(t.URL, "file:") {
			d.errorf("source.kernel.tarball.url", "invalid URL %s: use an http or https URL", quoteShort(t.URL))
		}
	}
	if t.SHA256 != "" && !sha256Hex.MatchString(t.SHA256) {
		d.errorf("source.kernel.tarball.sha256", "must be 64 lowercase hexadecimal digits")
	}
	if !localVersionRe.MatchString(k.LocalVersion) {
		d.errorf("source.kernel.localversion", "invalid %s: use a-z, 0-9, '.', '+' and '-'", quoteShort(k.LocalVersion))
	}
	archs := make([]string, 0, len(k.Config))
	for a := range k.Config {
		archs = append(archs, a)
	}
	slices.Sort(archs)
	for _, a := range archs {
		field := "source.kernel.config." + a
		if !isArchitecture(a) {
			d.errorf(field, "unknown architecture %q", a)
			continue
		}
		c := k.Config[a]
		if c.Base != "" && !slices.Contains(KernelBaseTargets, c.Base) {
			checkPath(d, field+".base", pkg.Dir, c.Base, false)
		}
		for i, f := range c.Fragments {
			checkPath(d, fmt.Sprintf("%s.fragments[%d]", field, i), pkg.Dir, f, false)
		}
	}
}
