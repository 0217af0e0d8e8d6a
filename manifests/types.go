// Package manifests defines the stx-build project format (stx.yaml and one
// package.yaml per source package) and loads it strictly: unknown fields,
// missing fields and bad values are reported together, each with the file,
// line and field that is wrong.
package manifests

// ProjectFile is the name of the project manifest at the root of a project.
const ProjectFile = "stx.yaml"

// PackageFile is the name of a source package manifest.
const PackageFile = "package.yaml"

// Project is a loaded stx.yaml together with every package manifest it names.
type Project struct {
	// Dir is the absolute path of the directory holding stx.yaml.
	Dir string `yaml:"-"`
	// File is the absolute path of stx.yaml.
	File string `yaml:"-"`

	// Name names the distribution; used in reports and repository metadata.
	Name string `yaml:"name" required:"true"`
	// Suite is the Debian suite the build environment is made from (e.g. bookworm).
	Suite string `yaml:"suite" required:"true"`
	// Architectures lists the Debian architectures built (amd64, arm64).
	Architectures []string `yaml:"architectures" required:"true"`
	// Mirror overrides the Debian mirror URL. Empty means the host's apt sources.
	Mirror string `yaml:"mirror"`
	// Components are the archive components used with Mirror (default: main).
	Components []string `yaml:"components"`
	// Packages lists directories, relative to Dir, searched for */package.yaml.
	// Default: ["packages"].
	Packages []string `yaml:"packages"`
	// AllowOutside lists directories outside Dir, relative to it, that the
	// paths in the project's manifests may lead into (symlinks resolved).
	// By default every path must stay inside Dir.
	AllowOutside []string `yaml:"allow-outside"`
	// Profiles are build profiles active for every package (e.g. nocheck).
	Profiles []string `yaml:"profiles"`
	// CycleBreaks resolve build-dependency cycles by taking one binary, or
	// every binary of one source, for one package from the archive instead
	// of from the local build.
	CycleBreaks []CycleBreak `yaml:"cycle-breaks"`
	// Cycles is the cycle policy: "strict" (the default, also when empty)
	// makes a cycle an error; "archive" resolves the edges of the computed
	// set of breaks from the archive without their being listed.
	Cycles string `yaml:"cycles"`
	// StarlingX takes packages from a StarlingX source tree, read on every
	// run (docs/starlingx.md). The packages directories are then optional.
	StarlingX *StarlingX `yaml:"starlingx"`

	// PackageList holds the loaded package manifests, sorted by name.
	PackageList []*Package `yaml:"-"`
}

// StarlingX names a StarlingX tree and what to build from it. The suite is
// the codename whose package lists and meta_data.yaml apply.
type StarlingX struct {
	// Root is MY_REPO_ROOT_DIR (holding cgcs-root/ and stx-tools/),
	// relative to stx.yaml.
	Root string `yaml:"root" required:"true"`
	// BuildType is std (the default), rt or sign.
	BuildType string `yaml:"build-type"`
	// Layer, when set, reads only the repos of that layer (distro, flock, ...).
	Layer string `yaml:"layer"`
	// Exclude lists source packages of the tree not to build (for example
	// those whose sources cannot be fetched here).
	Exclude []string `yaml:"exclude"`
}

// StarlingX build types.
var starlingXBuildTypes = []string{"std", "rt", "sign"}

// CycleBreak says: when building Package, satisfy build-dependencies on
// Binary, or on any binary of the project's source package Source, from the
// archive, not from the local tree. Exactly one of Binary and Source is set.
type CycleBreak struct {
	Package string `yaml:"package" required:"true"`
	Binary  string `yaml:"binary"`
	Source  string `yaml:"source"`
	Reason  string `yaml:"reason"`
	// Line is where the entry starts in stx.yaml (for messages).
	Line int `yaml:"-"`
}

// Package is one package.yaml: a Debian source package to build.
type Package struct {
	// Dir is the absolute directory holding package.yaml.
	Dir string `yaml:"-"`
	// File is the absolute path of package.yaml.
	File string `yaml:"-"`

	// Name is the source package name (must equal Source: in debian/control).
	Name string `yaml:"name" required:"true"`
	// Source says where the source comes from: exactly one of its fields is set.
	Source Source `yaml:"source" required:"true"`
	// Patches are patch files (relative to Dir) applied in order, as a quilt series.
	Patches []string `yaml:"patches"`
	// Architectures restricts the package to some of the project's architectures.
	// Empty means all of them.
	Architectures []string `yaml:"architectures"`
	// Build holds build options.
	Build BuildOptions `yaml:"build"`
}

// Source is where a source package comes from. Exactly one field is set.
type Source struct {
	// Local is a directory (relative to the package directory) containing debian/.
	Local string `yaml:"local"`
	// Debian is "name=version" of a source package fetched through apt's
	// deb-src indexes (apt verifies the hashes).
	Debian string `yaml:"debian"`
	// DSC is a .dsc URL with its sha256; the files it lists are fetched from
	// the same directory and verified against the .dsc checksums.
	DSC *DSCSource `yaml:"dsc"`
	// Kernel is a Linux kernel from an upstream tarball, built with the
	// kernel's own Debian packaging (see kernel.go).
	Kernel *KernelSource `yaml:"kernel"`
}

// DSCSource names a .dsc by URL and expected sha256.
type DSCSource struct {
	URL    string `yaml:"url" required:"true"`
	SHA256 string `yaml:"sha256" required:"true"`
}

// BuildOptions tune how one package is built.
type BuildOptions struct {
	// Jobs is the make parallelism (DEB_BUILD_OPTIONS parallel=N); 0 means decided by the scheduler.
	Jobs int `yaml:"jobs"`
	// Serial forces parallel=1 (for packages whose build breaks with -j).
	Serial bool `yaml:"serial"`
	// Nocheck skips the test suite (nocheck option and profile).
	Nocheck bool `yaml:"nocheck"`
	// Profiles are extra build profiles for this package.
	Profiles []string `yaml:"profiles"`
	// Tmpfs is a size hint for the build tree on tmpfs (e.g. "2GiB"), or
	// "disk" to always build on disk. Empty: predicted from history.
	Tmpfs string `yaml:"tmpfs"`
	// Pids is the build's process and thread limit (0: the sandbox's
	// default, 4096).
	Pids int `yaml:"pids"`
	// Memory is the build's memory limit, a size (empty: the sandbox's
	// default, three quarters of RAM).
	Memory string `yaml:"memory"`
	// Cross says whether the package can be cross-built (default true); when
	// false, foreign-arch builds run under qemu-user emulation.
	Cross *bool `yaml:"cross"`
	// Estimate is an expected build duration (e.g. "90s", "20m") used for
	// scheduling until the package has a build history.
	Estimate string `yaml:"estimate"`
}
