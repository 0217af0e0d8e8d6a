// Package hostdeps is the one description of what stx-build needs from the
// machine it runs on: every external program and host feature each command
// uses, the Debian package that provides it, and how to check it. `stx-build
// doctor` prints the checks, every command runs the ones it needs before it
// starts work, and scripts/install-deps.sh is checked against the table by
// a test, so the three cannot drift apart.
package hostdeps

import (
	"slices"
	"sort"
	"strings"

	"github.com/stx-build/stx-build/arch"
	"github.com/stx-build/stx-build/arch/amd64"
	"github.com/stx-build/stx-build/arch/arm64"
	"github.com/stx-build/stx-build/runner"
)

// Commands that have requirements. "dev" is not an stx-build command: it
// names what `make test` and `make demo` need beyond the commands (test
// servers, the tools the tests inspect results with).
const (
	CmdBuild = "build"
	CmdImage = "image"
	CmdISO   = "iso"
	CmdBoot  = "boot"
	CmdDev   = "dev"
)

// Commands lists the commands with requirements, in the order doctor
// prints them.
var Commands = []string{CmdBuild, CmdImage, CmdISO, CmdBoot, CmdDev}

// Requirement is one program, file or host feature.
type Requirement struct {
	// Name is what is checked: a program name, a file, or a feature
	// ("overlayfs", "cgroup v2").
	Name string
	// Package is the Debian package that provides it ("" for kernel and
	// machine features).
	Package string
	// Why says what stx-build uses it for.
	Why string
	// Commands are the commands that need it.
	Commands []string
	// Archs, when set, limits the requirement to runs that involve one of
	// these architectures (the arm64 firmware only for arm64 boots).
	Archs []string
	// Foreign limits the requirement to runs that involve an architecture
	// other than the host's (arch-test, qemu-user).
	Foreign bool
	// Optional requirements degrade a command when missing (slower, or a
	// limit not enforced) instead of stopping it.
	Optional bool
	// Fix is the remedy when no package install fixes it.
	Fix string

	check func(Env, *Requirement) (Status, string)
}

// Status is the outcome of one check.
type Status string

// Statuses.
const (
	OK       Status = "ok"
	Missing  Status = "missing"
	Degraded Status = "degraded"
)

// Env is what the checks look at: the machine, or a fake one in tests.
type Env interface {
	// LookPath finds a program the way exec.LookPath does, also in the
	// sbin directories a non-root PATH may lack.
	LookPath(name string) (string, error)
	// Stat says whether a file exists.
	Exists(path string) bool
	// ReadFile reads a small file (/proc, /sys).
	ReadFile(path string) ([]byte, error)
	// Euid is the effective user id.
	Euid() int
	// HostArch is the machine's Debian architecture.
	HostArch() string
	// FSType returns the file system magic of path (statfs).
	FSType(path string) (int64, error)
	// FreeBytes is the free space where path lives.
	FreeBytes(path string) (int64, error)
	// KVM says why KVM cannot be used, or nil.
	KVM() error
	// TmpfsBudget is the RAM budget for tmpfs build trees.
	TmpfsBudget() (int64, error)
	// Cgroups says how sandbox resource limits are enforced here.
	Cgroups() runner.CgroupSupport
}

// Options say which checks apply.
type Options struct {
	// Commands to check for; nil: every command (doctor).
	Commands []string
	// Archs involved (the project's, or those asked for); nil: amd64 and
	// arm64.
	Archs []string
	// CacheDir is where builds put their trees (for free disk).
	CacheDir string
}

// Result is one checked requirement.
type Result struct {
	Requirement *Requirement `json:"-"`
	Name        string       `json:"name"`
	Package     string       `json:"package,omitempty"`
	Why         string       `json:"why"`
	Commands    []string     `json:"commands"`
	Optional    bool         `json:"optional,omitempty"`
	Status      Status       `json:"status"`
	// Detail says what was found: a path, a version, a reason.
	Detail string `json:"detail,omitempty"`
	// Fix is what to run to fix a missing or degraded requirement.
	Fix string `json:"fix,omitempty"`
}

// Table returns every requirement, in a fixed order.
func Table() []*Requirement {
	reqs := slices.Clone(table)
	for _, p := range []*arch.Profile{amd64.Profile(), arm64.Profile()} {
		reqs = append(reqs, bootRequirements(p)...)
	}
	return reqs
}

// Packages returns the Debian packages of every requirement, sorted and
// unique: what scripts/install-deps.sh installs.
func Packages() []string {
	var pkgs []string
	for _, r := range Table() {
		if r.Package != "" {
			pkgs = append(pkgs, strings.Fields(r.Package)...)
		}
	}
	sort.Strings(pkgs)
	return slices.Compact(pkgs)
}

// Check runs the requirements that apply to opts against env.
func Check(env Env, opts Options) []Result {
	archs := opts.Archs
	if len(archs) == 0 {
		archs = []string{"amd64", "arm64"}
	}
	foreign := slices.ContainsFunc(archs, func(a string) bool { return a != env.HostArch() })
	var out []Result
	for _, r := range Table() {
		if !r.applies(opts.Commands, archs, foreign) {
			continue
		}
		st, detail := OK, ""
		if r.check != nil {
			st, detail = r.check(checkEnv{env, opts}, r)
		}
		res := Result{
			Requirement: r, Name: r.Name, Package: r.Package, Why: r.Why,
			Commands: r.Commands, Optional: r.Optional, Status: st, Detail: detail,
		}
		if st == Missing && r.Optional {
			res.Status = Degraded
		}
		if res.Status != OK {
			res.Fix = r.fix()
		}
		out = append(out, res)
	}
	return out
}

func (r *Requirement) applies(cmds, archs []string, foreign bool) bool {
	if cmds != nil && !slices.ContainsFunc(r.Commands, func(c string) bool { return slices.Contains(cmds, c) }) {
		return false
	}
	if r.Foreign && !foreign {
		return false
	}
	if len(r.Archs) > 0 && !slices.ContainsFunc(r.Archs, func(a string) bool { return slices.Contains(archs, a) }) {
		return false
	}
	return true
}

func (r *Requirement) fix() string {
	if r.Fix != "" {
		return r.Fix
	}
	if r.Package != "" {
		return "apt-get install " + r.Package
	}
	return ""
}

// Failed returns the results that stop a command: required and missing.
func Failed(results []Result) []Result {
	var out []Result
	for _, r := range results {
		if r.Status == Missing {
			out = append(out, r)
		}
	}
	return out
}

// InstallLine is one `apt-get install` line for the packages of results
// that an install fixes ("" when none does).
func InstallLine(results []Result) string {
	var pkgs []string
	for _, r := range results {
		if r.Status != OK && r.Package != "" && r.Requirement.Fix == "" {
			pkgs = append(pkgs, strings.Fields(r.Package)...)
		}
	}
	if len(pkgs) == 0 {
		return ""
	}
	sort.Strings(pkgs)
	return "apt-get install --no-install-recommends " + strings.Join(slices.Compact(pkgs), " ")
}

// checkEnv gives checks the options along with the environment.
type checkEnv struct {
	Env
	opts Options
}
