// Package aptenv keeps a private apt environment under a cache directory:
// its own sources (with deb-src and the project's architectures), lists,
// caches and dpkg status, so that stx-build never edits the host's apt
// configuration. Tools run with Environ() (APT_CONFIG=...) see it.
//
// The default archive is the host's: the host's sources for the project's
// suite are copied, with deb-src added. Network settings (proxies, auth,
// Check-Valid-Until) keep coming from the host's apt.conf.d.
package aptenv

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strings"

	"github.com/stx-build/stx-build/internal/atomicfile"
)

// Config describes a private apt environment.
type Config struct {
	// Dir holds everything the environment writes (etc/, var/).
	Dir string
	// Suite is the distribution suite (e.g. bookworm). Without Mirror, the
	// host's sources whose suite is Suite or Suite-* (bookworm-updates,
	// bookworm-security) are used.
	Suite string
	// Mirror is an archive URI used for Suite instead of the host's sources.
	// Empty: the host's.
	Mirror string
	// Components are the archive areas used with Mirror (default: main).
	Components []string
	// Architectures get binary indexes (default: the native one).
	Architectures []string
	// HostRoot is the root of the system whose apt sources and trusted
	// keys are used (default "/"; tests point it at a testdata tree).
	HostRoot string
	// NativeArch is APT::Architecture (default: the architecture this
	// binary runs on).
	NativeArch string
	// Log receives apt's standard output and warnings (nil: discarded).
	Log io.Writer
}

// Env is a private apt environment created by New.
type Env struct {
	dir         string
	aptConf     string
	sourcesFile string
	log         io.Writer
}

// Paths inside Config.Dir.
const (
	confFile    = "etc/apt.conf"
	sourcesFile = "etc/sources.list.d/stx.sources"
	listsDir    = "var/lib/apt/lists"
	stampFile   = "var/lib/apt/stx-update.stamp"
	statusFile  = "var/lib/dpkg/status"
)

// New writes the environment's apt.conf and sources file under cfg.Dir
// (creating the directories apt needs) and returns the environment. It
// does not touch the network; call Update for that.
func New(ctx context.Context, cfg Config) (*Env, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if cfg.Dir == "" {
		return nil, fmt.Errorf("aptenv: Config.Dir is empty")
	}
	dir, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("aptenv: %w", err)
	}
	cfg.Dir = dir
	if cfg.HostRoot == "" {
		cfg.HostRoot = "/"
	}
	if cfg.HostRoot, err = filepath.Abs(cfg.HostRoot); err != nil {
		return nil, fmt.Errorf("aptenv: %w", err)
	}

	var host []Source
	if cfg.Mirror == "" {
		if host, err = ParseHostSources(cfg.HostRoot); err != nil {
			return nil, fmt.Errorf("aptenv: host sources: %w", err)
		}
	}
	srcs, err := selectSources(cfg, host)
	if err != nil {
		return nil, fmt.Errorf("aptenv: %w", err)
	}
	sourcesData := renderSources(srcs)
	_, incErr := os.Stat(filepath.Join(cfg.HostRoot, "etc/apt/apt.conf"))
	confData, err := renderConf(cfg, incErr == nil)
	if err != nil {
		return nil, fmt.Errorf("aptenv: %w", err)
	}

	for _, d := range []string{
		"etc/sources.list.d", "etc/preferences.d",
		listsDir + "/partial", "var/cache/apt/archives/partial",
		"var/lib/dpkg", "var/log/apt",
	} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return nil, fmt.Errorf("aptenv: %w", err)
		}
	}
	// An empty dpkg status: this environment fetches sources and indexes,
	// it never installs, so the host's installed set must not leak in.
	status := filepath.Join(dir, statusFile)
	if _, err := os.Stat(status); err != nil {
		if err := writeIfChanged(status, nil); err != nil {
			return nil, fmt.Errorf("aptenv: %w", err)
		}
	}
	e := &Env{
		dir:         dir,
		aptConf:     filepath.Join(dir, confFile),
		sourcesFile: filepath.Join(dir, sourcesFile),
		log:         cfg.Log,
	}
	if err := writeIfChanged(e.sourcesFile, sourcesData); err != nil {
		return nil, fmt.Errorf("aptenv: %w", err)
	}
	if err := writeIfChanged(e.aptConf, confData); err != nil {
		return nil, fmt.Errorf("aptenv: %w", err)
	}
	return e, nil
}

// Dir is the environment's root directory (absolute).
func (e *Env) Dir() string { return e.dir }

// ConfigFile is the apt.conf that APT_CONFIG points at.
func (e *Env) ConfigFile() string { return e.aptConf }

// SourcesFile is the generated deb822 sources file.
func (e *Env) SourcesFile() string { return e.sourcesFile }

// ListsDir is where apt keeps the downloaded indexes.
func (e *Env) ListsDir() string { return filepath.Join(e.dir, listsDir) }

// Environ returns the variables that point apt tools at this environment,
// to be appended to a command's environment.
func (e *Env) Environ() []string {
	return []string{"APT_CONFIG=" + e.aptConf}
}

// selectSources is the pure core of New: which archive entries the private
// environment gets.
func selectSources(cfg Config, host []Source) ([]Source, error) {
	if cfg.Suite == "" {
		return nil, fmt.Errorf("Config.Suite is empty")
	}
	archs, err := architectures(cfg)
	if err != nil {
		return nil, err
	}
	types := []string{"deb", "deb-src"}

	if cfg.Mirror != "" {
		u, err := url.Parse(cfg.Mirror)
		if err != nil || u.Scheme == "" || strings.ContainsAny(cfg.Mirror, " \t\n") {
			return nil, fmt.Errorf("mirror %q is not an absolute URI", cfg.Mirror)
		}
		comps := sortedUnique(cfg.Components)
		if len(comps) == 0 {
			comps = []string{"main"}
		}
		return []Source{{Types: types, URIs: []string{cfg.Mirror}, Suites: []string{cfg.Suite},
			Components: comps, Arch: archs}}, nil
	}

	type key struct{ uris, comps, signedBy string }
	groups := map[key]*Source{}
	matching := func(h Source) []string {
		var suites []string
		for _, s := range h.Suites {
			if ofSuite(s, cfg.Suite) {
				suites = append(suites, s)
			}
		}
		return suites
	}
	derive := false
	if !hostHasSuite(host, cfg.Suite) {
		// A project on another Debian release than the host's (trixie on
		// a bookworm machine): the host's Debian mirrors serve it too.
		derive = debianRelease(cfg.Suite)
	}
	for _, h := range host {
		suites := matching(h)
		if derive {
			suites = derivedSuites(h.Suites, cfg.Suite)
		}
		if len(suites) == 0 {
			continue
		}
		comps := sortedUnique(h.Components)
		signedBy := rootSignedBy(cfg.HostRoot, h.SignedBy)
		k := key{strings.Join(h.URIs, " "), strings.Join(comps, " "), signedBy}
		g := groups[k]
		if g == nil {
			g = &Source{Types: types, URIs: h.URIs, Components: comps, SignedBy: signedBy, Arch: archs}
			groups[k] = g
		}
		g.Suites = sortedUnique(append(g.Suites, suites...))
	}
	if len(groups) == 0 {
		return nil, fmt.Errorf("no apt source under %s has suite %s or %s-*: set a mirror",
			filepath.Join(cfg.HostRoot, "etc/apt"), cfg.Suite, cfg.Suite)
	}
	keys := make([]key, 0, len(groups))
	for k := range groups {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		a, b := keys[i], keys[j]
		if a.uris != b.uris {
			return a.uris < b.uris
		}
		if a.comps != b.comps {
			return a.comps < b.comps
		}
		return a.signedBy < b.signedBy
	})
	out := make([]Source, 0, len(keys))
	for _, k := range keys {
		out = append(out, *groups[k])
	}
	return out, nil
}

// ofSuite reports whether the host suite s belongs to suite: suite
// itself, suite-updates and the like, or an exact path under suite/.
func ofSuite(s, suite string) bool {
	return s == suite || strings.HasPrefix(s, suite+"-") || strings.HasPrefix(s, suite+"/")
}

// hostHasSuite reports whether any host entry serves suite.
func hostHasSuite(host []Source, suite string) bool {
	return slices.ContainsFunc(host, func(h Source) bool {
		return slices.ContainsFunc(h.Suites, func(s string) bool { return ofSuite(s, suite) })
	})
}

// debianReleases are the Debian release names and aliases a host's
// sources of one release can be rewritten to.
var debianReleases = []string{"buster", "bullseye", "bookworm", "trixie", "forky", "duke", "sid",
	"oldoldstable", "oldstable", "stable", "testing", "unstable"}

func debianRelease(s string) bool { return slices.Contains(debianReleases, s) }

// derivedSuites rewrites a host entry's suites of a Debian release to
// suite: "bookworm" to "trixie", "bookworm-updates" to "trixie-updates",
// "bookworm-security" to "trixie-security" (unstable has neither of
// those; backports and proposed-updates are left out).
func derivedSuites(hostSuites []string, suite string) []string {
	var out []string
	for _, s := range hostSuites {
		base, suffix, _ := strings.Cut(s, "-")
		if !debianRelease(base) {
			continue
		}
		switch {
		case suffix == "":
			out = append(out, suite)
		case (suffix == "updates" || suffix == "security") && suite != "sid" && suite != "unstable":
			out = append(out, suite+"-"+suffix)
		}
	}
	return out
}

// rootSignedBy re-roots keyring paths of a Signed-By value under root, so
// that a host tree other than "/" uses its own keyrings. Fingerprints and
// inline keys are kept as they are.
func rootSignedBy(root, signedBy string) string {
	if root == "/" || signedBy == "" || strings.Contains(signedBy, "\n") {
		return signedBy
	}
	parts := strings.FieldsFunc(signedBy, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' })
	for i, p := range parts {
		if strings.HasPrefix(p, "/") {
			parts[i] = filepath.Join(root, p)
		}
	}
	return strings.Join(parts, ", ")
}

var archRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)

// architectures returns the configured architectures, sorted and checked.
func architectures(cfg Config) ([]string, error) {
	archs := sortedUnique(cfg.Architectures)
	if len(archs) == 0 {
		archs = []string{nativeArch(cfg)}
	}
	for _, a := range archs {
		if !archRE.MatchString(a) {
			return nil, fmt.Errorf("architecture %q is not a Debian architecture name", a)
		}
	}
	return archs, nil
}

// debianArch maps GOARCH to Debian architecture names.
var debianArch = map[string]string{
	"386": "i386", "amd64": "amd64", "arm": "armhf", "arm64": "arm64",
	"loong64": "loong64", "mips64le": "mips64el", "mipsle": "mipsel",
	"ppc64": "ppc64", "ppc64le": "ppc64el", "riscv64": "riscv64", "s390x": "s390x",
}

func nativeArch(cfg Config) string {
	if cfg.NativeArch != "" {
		return cfg.NativeArch
	}
	if a, ok := debianArch[runtime.GOARCH]; ok {
		return a
	}
	return runtime.GOARCH
}

// renderSources writes the entries as one deb822 file.
func renderSources(srcs []Source) []byte {
	var b bytes.Buffer
	b.WriteString("# Generated by stx-build; rewritten on every run. Do not edit.\n")
	for _, s := range srcs {
		b.WriteString("\n")
		fmt.Fprintf(&b, "Types: %s\n", strings.Join(s.Types, " "))
		fmt.Fprintf(&b, "URIs: %s\n", strings.Join(s.URIs, " "))
		fmt.Fprintf(&b, "Suites: %s\n", strings.Join(s.Suites, " "))
		if len(s.Components) > 0 {
			fmt.Fprintf(&b, "Components: %s\n", strings.Join(s.Components, " "))
		}
		if len(s.Arch) > 0 {
			fmt.Fprintf(&b, "Architectures: %s\n", strings.Join(s.Arch, " "))
		}
		if s.SignedBy != "" {
			lines := strings.Split(s.SignedBy, "\n")
			if len(lines) == 1 {
				fmt.Fprintf(&b, "Signed-By: %s\n", lines[0])
			} else {
				b.WriteString("Signed-By:\n")
				for _, l := range lines {
					if l == "" {
						l = "."
					}
					fmt.Fprintf(&b, " %s\n", l)
				}
			}
		}
	}
	return b.Bytes()
}

// clearedHooks are host hooks that must not run for the private
// environment (they refresh or clean the host's own caches).
var clearedHooks = []string{
	"APT::Update::Post-Invoke",
	"APT::Update::Post-Invoke-Success",
	"APT::Update::Pre-Invoke",
	"DPkg::Post-Invoke",
	"DPkg::Pre-Install-Pkgs",
	"DPkg::Pre-Invoke",
}

// renderConf writes the environment's apt.conf. apt reads APT_CONFIG
// first, then the host's apt.conf.d, then Dir::Etc::main; pointing
// Dir::Etc::main back at this file makes apt read it again last, so the
// host's network settings apply while our paths and lists always win.
// includeHostMain: the host has an etc/apt/apt.conf, which Dir::Etc::main
// would otherwise hide.
func renderConf(cfg Config, includeHostMain bool) ([]byte, error) {
	archs, err := architectures(cfg)
	if err != nil {
		return nil, err
	}
	native := nativeArch(cfg)
	all := []string{native}
	for _, a := range archs {
		if a != native {
			all = append(all, a)
		}
	}
	d := func(rel string) string { return filepath.Join(cfg.Dir, rel) }
	h := func(rel string) string { return filepath.Join(cfg.HostRoot, rel) }
	settings := [][2]string{
		{"APT::Architecture", native},
		{"Dir::Cache", d("var/cache/apt")},
		{"Dir::Cache::archives", d("var/cache/apt/archives")},
		{"Dir::Cache::pkgcache", d("var/cache/apt/pkgcache.bin")},
		{"Dir::Cache::srcpkgcache", d("var/cache/apt/srcpkgcache.bin")},
		{"Dir::Etc::Preferences", d("etc/preferences")},
		{"Dir::Etc::PreferencesParts", d("etc/preferences.d")},
		{"Dir::Etc::SourceList", d("etc/sources.list")},
		{"Dir::Etc::SourceParts", d("etc/sources.list.d")},
		{"Dir::Etc::Trusted", h("etc/apt/trusted.gpg")},
		{"Dir::Etc::TrustedParts", h("etc/apt/trusted.gpg.d")},
		{"Dir::Etc::main", d(confFile)},
		{"Dir::Log", d("var/log/apt")},
		{"Dir::State", d("var/lib/apt")},
		{"Dir::State::Lists", d(listsDir)},
		{"Dir::State::extended_states", d("var/lib/apt/extended_states")},
		{"Dir::State::status", d(statusFile)},
	}
	sort.Slice(settings, func(i, j int) bool { return settings[i][0] < settings[j][0] })

	var b bytes.Buffer
	b.WriteString("// Generated by stx-build; rewritten on every run. Do not edit.\n")
	b.WriteString("// apt reads this file first (APT_CONFIG) and again last (Dir::Etc::main),\n")
	b.WriteString("// so the host's apt.conf.d supplies network settings but not paths.\n")
	if includeHostMain {
		if err := checkQuotable(h("etc/apt/apt.conf")); err != nil {
			return nil, err
		}
		fmt.Fprintf(&b, "#include \"%s\";\n", h("etc/apt/apt.conf"))
	}
	for _, k := range clearedHooks {
		fmt.Fprintf(&b, "#clear %s;\n", k)
	}
	b.WriteString("#clear APT::Architectures;\n")
	b.WriteString("APT::Architectures {")
	for _, a := range all {
		fmt.Fprintf(&b, " \"%s\";", a)
	}
	b.WriteString(" };\n")
	for _, s := range settings {
		if err := checkQuotable(s[1]); err != nil {
			return nil, err
		}
		fmt.Fprintf(&b, "%s \"%s\";\n", s[0], s[1])
	}
	return b.Bytes(), nil
}

// checkQuotable rejects values apt.conf cannot hold in a quoted string.
func checkQuotable(v string) error {
	if strings.ContainsAny(v, "\"\n") {
		return fmt.Errorf("path %q cannot be written to apt.conf (quote or newline)", v)
	}
	return nil
}

// writeIfChanged replaces path with data (atomicfile.Write), leaving it
// untouched, mtime included, when the content is already the same.
func writeIfChanged(path string, data []byte) error {
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, data) {
		return nil
	}
	return atomicfile.Write(path, data, 0o644)
}

// ReleaseSources returns the one-line sources.list entries ("deb
// [signed-by=…] URI suite components") of suite made from the host's
// sources of another Debian release, as selectSources derives them, and
// whether any were derived: false when some host entry has suite itself
// (the host's own files then serve it as they are) or none is of a
// Debian release. mmdebstrap takes such lines as mirror arguments.
func ReleaseSources(hostRoot, suite string) ([]string, bool, error) {
	host, err := ParseHostSources(hostRoot)
	if err != nil {
		return nil, false, err
	}
	if hostHasSuite(host, suite) || !debianRelease(suite) {
		return nil, false, nil
	}
	var lines []string
	for _, h := range host {
		if !slices.Contains(h.Types, "deb") || strings.Contains(h.SignedBy, "\n") {
			continue
		}
		suites := derivedSuites(h.Suites, suite)
		if len(suites) == 0 {
			continue
		}
		opts := ""
		if h.SignedBy != "" {
			opts = " [signed-by=" + rootSignedBy(hostRoot, h.SignedBy) + "]"
		}
		for _, u := range h.URIs {
			for _, s := range suites {
				lines = append(lines, fmt.Sprintf("deb%s %s %s %s", opts, u, s, strings.Join(h.Components, " ")))
			}
		}
	}
	return lines, len(lines) > 0, nil
}
