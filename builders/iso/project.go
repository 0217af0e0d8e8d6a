package iso

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"time"

	"github.com/stx-build/stx-build/manifests"
	"github.com/stx-build/stx-build/rootfs"
	"github.com/stx-build/stx-build/store"
	"github.com/stx-build/stx-build/workspace"
)

// ErrNoManifest is the error (wrapped) of a project without iso.yaml.
var ErrNoManifest = errors.New("no " + manifests.ISOFile)

// Selection is the ISO a project builds and the architectures to build
// it for.
type Selection struct {
	Manifest *manifests.ISO
	// Archs are the architectures to build, in order.
	Archs []string
	indep string // the project's Architecture: all builder
}

// Select loads the project's iso.yaml and chooses archs: each must be one
// the manifest builds (else a *workspace.ArchError); empty selects all of
// the manifest's. Without iso.yaml the error wraps ErrNoManifest. A
// malformed SOURCE_DATE_EPOCH is refused here, before anything is built.
func Select(ws *workspace.Workspace, archs []string) (*Selection, error) {
	if _, _, err := ws.SourceDateEpoch(); err != nil {
		return nil, err
	}
	p := ws.Project
	m, err := manifests.LoadISO(p)
	if err != nil {
		return nil, err
	}
	if m == nil {
		return nil, fmt.Errorf("%s has %w", p.Dir, ErrNoManifest)
	}
	if m.PackagesFrom == manifests.PackagesFromStarlingX {
		m.Packages = ws.StarlingXISOPackages(m.Packages)
	}
	sel, err := workspace.CheckArchs(archs, m.EffectiveArchitectures(p), m.Display)
	if err != nil {
		return nil, err
	}
	return &Selection{Manifest: m, Archs: sel, indep: ws.IndepArch()}, nil
}

// Only returns the selection narrowed to the architectures among archs
// (stx-build all builds the ISO for those it built packages for); its
// Archs may be empty.
func (s *Selection) Only(archs []string) *Selection {
	out := &Selection{Manifest: s.Manifest, indep: s.indep}
	for _, a := range s.Archs {
		if slices.Contains(archs, a) {
			out.Archs = append(out.Archs, a)
		}
	}
	return out
}

// PackageArchs are the architectures whose packages the selected ISOs
// need built: the project's first, which builds the Architecture: all
// packages the others take, then the selected ones.
func (s *Selection) PackageArchs() []string {
	archs := []string{s.indep}
	for _, a := range s.Archs {
		if !slices.Contains(archs, a) {
			archs = append(archs, a)
		}
	}
	return archs
}

// ProjectOptions configure BuildProject.
type ProjectOptions struct {
	// OutDir holds the project's repositories (OUT/<arch>/repo, as the
	// package build leaves them); the ISOs go to OUT/iso/. Default: the
	// workspace's (Workspace.OutDir).
	OutDir string
	// Output is the ISO file to write when one architecture is selected.
	// Default: OUT/iso/<name>-<arch>.iso.
	Output string
	// WorkDir is where the live roots are made. Default: iso-work in the
	// workspace's cache directory.
	WorkDir string
	// RootCache is the directory of cached archive roots (Options).
	// Default: rootfs.ArchiveRootsDir in the workspace's cache directory.
	RootCache string
	// NoRootCache makes every live root from nothing (RootCache unused).
	NoRootCache bool
	// SignKey is the gpg key that signs SHA256SUMS (Sign); empty: unsigned.
	SignKey string
	// KeepWork leaves the working directories in place (for debugging).
	KeepWork bool
	// RecordRoot and RecordBoot are Options.RecordRoot and RecordBoot.
	RecordRoot func(arch, root string) error
	RecordBoot func(arch string, pkgs []store.LockedPackage) error
	// Status gets one line per step, ISO, checksum file and signature;
	// Log gets the tools' output. Both default to discard.
	Status, Log io.Writer
}

// BuildProject builds the selected ISO for each selected architecture, in
// order, from the project's repositories, then records the ISOs' sums in
// SHA256SUMS beside them (UpdateSums) and signs that with SignKey. Every
// date is the workspace's SOURCE_DATE_EPOCH, else ProjectEpoch's. It
// returns the ISOs built, also those built before an error.
func BuildProject(ctx context.Context, ws *workspace.Workspace, sel *Selection, opts ProjectOptions) ([]*Result, error) {
	opts, err := projectDefaults(ws, sel, opts)
	if err != nil {
		return nil, err
	}
	epoch, err := isoEpoch(ws)
	if err != nil {
		return nil, err
	}
	env, err := ws.AptEnv(ctx)
	if err != nil {
		return nil, err
	}
	signer, err := ws.RepoSigner(ctx)
	if err != nil {
		return nil, err
	}
	repos := map[string]string{}
	for _, a := range sel.Archs {
		repos[a] = workspace.RepoDir(opts.OutDir, a)
	}
	keyring, err := ws.SignRepos(ctx, repos)
	if err != nil {
		return nil, err
	}
	// The boot packages: the archive's, or with a lock in use the locked
	// ones from the package store.
	var boot Downloader = AptDownloader{Env: env}
	if la := ws.Locked(); la != nil {
		st, err := ws.PackageStore()
		if err != nil {
			return nil, err
		}
		boot = LockedDownloader{Lock: la.Lock, Suite: ws.Project.Suite, Store: st, Dir: ws.DirFlag()}
	}
	var results []*Result
	for _, a := range sel.Archs {
		res, err := Build(ctx, Options{
			Project: ws.RootsProject(), Manifest: sel.Manifest, Arch: a,
			LocalRepo: workspace.RepoDir(opts.OutDir, a),
			Output:    isoPath(ws.Project, sel.Manifest, opts, a),
			WorkDir:   opts.WorkDir, Epoch: epoch, RootCache: opts.RootCache,
			RepoSigner: signer, RepoKeyring: keyring, RecordRoot: opts.RecordRoot,
			Boot: boot, RecordBoot: opts.RecordBoot,
			Status: opts.Status, Log: opts.Log, KeepWork: opts.KeepWork,
		})
		if err != nil {
			return results, err
		}
		results = append(results, res)
		fmt.Fprintf(opts.Status, "iso %s: %s (%s, %s) sha256 %s in %s\n", a, res.ISO, mib(res.Size), res.KernelPackage+" "+res.KernelVersion, res.SHA256, res.Total().Round(time.Second))
	}
	return results, writeSums(ctx, results, opts)
}

// projectDefaults checks opts and fills in its defaults.
func projectDefaults(ws *workspace.Workspace, sel *Selection, opts ProjectOptions) (ProjectOptions, error) {
	if sel == nil || sel.Manifest == nil {
		return opts, errors.New("iso: no selection (Select)")
	}
	if opts.Output != "" && len(sel.Archs) != 1 {
		return opts, fmt.Errorf("one output file for %d architectures %v", len(sel.Archs), sel.Archs)
	}
	var err error
	if opts.OutDir, err = ws.OutDir(opts.OutDir); err != nil {
		return opts, err
	}
	if opts.Output != "" {
		if opts.Output, err = filepath.Abs(opts.Output); err != nil {
			return opts, err
		}
	}
	if opts.WorkDir == "" {
		opts.WorkDir = filepath.Join(ws.CacheDir(), "iso-work")
	}
	if opts.NoRootCache {
		opts.RootCache = ""
	} else if opts.RootCache == "" {
		opts.RootCache = filepath.Join(ws.CacheDir(), rootfs.ArchiveRootsDir)
	}
	if opts.Status == nil {
		opts.Status = io.Discard
	}
	return opts, nil
}

// isoEpoch is the workspace's SOURCE_DATE_EPOCH, else the project's.
func isoEpoch(ws *workspace.Workspace) (int64, error) {
	t, ok, err := ws.SourceDateEpoch()
	if err != nil {
		return 0, err
	}
	if ok {
		return t.Unix(), nil
	}
	return ProjectEpoch(ws.Project)
}

// isoPath is where the ISO for arch is written.
func isoPath(p *manifests.Project, m *manifests.ISO, opts ProjectOptions, arch string) string {
	if opts.Output != "" {
		return opts.Output
	}
	return filepath.Join(opts.OutDir, "iso", m.EffectiveName(p)+"-"+arch+".iso")
}

// writeSums updates SHA256SUMS in each directory that received an ISO,
// in sorted order, and signs it when opts.SignKey is set.
func writeSums(ctx context.Context, results []*Result, opts ProjectOptions) error {
	sums := map[string]map[string]string{} // dir -> name -> sum
	for _, res := range results {
		dir := filepath.Dir(res.ISO)
		if sums[dir] == nil {
			sums[dir] = map[string]string{}
		}
		sums[dir][filepath.Base(res.ISO)] = res.SHA256
	}
	dirs := make([]string, 0, len(sums))
	for d := range sums {
		dirs = append(dirs, d)
	}
	slices.Sort(dirs)
	for _, d := range dirs {
		file, err := UpdateSums(d, sums[d])
		if err != nil {
			return err
		}
		fmt.Fprintf(opts.Status, "checksums: %s\n", file)
		if opts.SignKey == "" {
			continue
		}
		sig, err := Sign(ctx, file, opts.SignKey)
		if err != nil {
			return err
		}
		fmt.Fprintf(opts.Status, "signature: %s\n", sig)
	}
	return nil
}

func mib(n int64) string {
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}
