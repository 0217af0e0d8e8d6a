// Command benchbuild prepares the whole-command build benchmark
// (scripts/bench-build.sh, docs/performance.md): it writes a generated
// project of N small local source packages and fills an artifact cache with
// a build of each, so that `stx-build build` restores all of them without
// building 300 packages first (a real first build takes a quarter of an
// hour on two cores and measures nothing this benchmark is about).
//
//	go run ./scripts/benchbuild gen  -dir DIR [-n 300]
//	go run ./scripts/benchbuild fill -dir DIR -cache CACHE
//	go run ./scripts/benchbuild gen-real -dir DIR -sources FILE [-n 60]
//
// gen writes DIR/stx.yaml and DIR/packages/genNNN/ (one binary package
// libgenNNN-dev each, build-depending on one or two earlier ones: about 400
// internal edges for 300 packages; the same project every time). fill makes
// the base root if the cache lacks it, computes every build key exactly as
// `stx-build build` does, and stores for each key a small real .deb made
// with dpkg-deb, as a build of that package would give. gen-real writes a
// project of the first N of realSources the archive's Sources index
// (FILE) has, each a local tree whose debian/control declares what the
// archive's source does (its Build-Depends* and binary packages), for
// the lock benchmark (scripts/bench-lock.sh): real build-dependency sets
// and real edges between the project's packages, nothing built.
package main

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"github.com/stx-build/stx-build/builders/deb"
	"github.com/stx-build/stx-build/cache"
	"github.com/stx-build/stx-build/cache/buildkey"
	"github.com/stx-build/stx-build/cache/filehash"
	"github.com/stx-build/stx-build/workspace"
)

func main() {
	if len(os.Args) < 2 {
		fail(fmt.Errorf("usage: benchbuild gen|fill|gen-real -dir DIR [-n N] [-cache CACHE]"))
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	dir := fs.String("dir", "", "project directory (required)")
	n := fs.Int("n", 300, "packages to generate")
	cacheDir := fs.String("cache", "", "stx-build cache directory (fill)")
	sourcesFile := fs.String("sources", "", "the archive's Sources index (gen-real)")
	fs.Parse(os.Args[2:])
	if *dir == "" {
		fail(fmt.Errorf("-dir is required"))
	}
	switch os.Args[1] {
	case "gen":
		fail(generate(*dir, *n))
	case "gen-real":
		if *sourcesFile == "" {
			fail(fmt.Errorf("gen-real: -sources is required"))
		}
		fail(generateReal(*dir, *sourcesFile, *n))
	case "fill":
		if *cacheDir == "" {
			fail(fmt.Errorf("fill: -cache is required"))
		}
		fail(fill(context.Background(), *dir, *cacheDir))
	default:
		fail(fmt.Errorf("unknown mode %q: want gen, fill or gen-real", os.Args[1]))
	}
}

func fail(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchbuild:", err)
		os.Exit(1)
	}
}

// generate writes the project; files that exist with the same content are
// left alone, so their stat-cached digests stay valid across invocations.
func generate(dir string, n int) error {
	r := rand.New(rand.NewPCG(22, 0))
	write := func(p, content string, mode os.FileMode) error {
		if old, err := os.ReadFile(p); err == nil && string(old) == content {
			return nil
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		return os.WriteFile(p, []byte(content), mode)
	}
	if err := write(filepath.Join(dir, "stx.yaml"), "name: gen\nsuite: bookworm\narchitectures: [amd64]\n", 0o644); err != nil {
		return err
	}
	for i := range n {
		name := fmt.Sprintf("gen%03d", i)
		var deps []string
		if i > 0 {
			picks := 1
			if i%3 == 0 && i > 2 {
				picks = 2
			}
			for range picks {
				d := fmt.Sprintf("libgen%03d-dev", r.IntN(i))
				if !slices.Contains(deps, d) {
					deps = append(deps, d)
				}
			}
		}
		bd := ""
		if len(deps) > 0 {
			bd = "Build-Depends: " + strings.Join(deps, ", ") + "\n"
		}
		files := map[string]string{
			"package.yaml":             fmt.Sprintf("name: %s\nsource:\n  local: src\n", name),
			"src/debian/control":       fmt.Sprintf("Source: %s\nMaintainer: x <x@stx-build.invalid>\n%s\nPackage: lib%s-dev\nArchitecture: any\nMulti-Arch: same\nDescription: x\n x\n", name, bd, name),
			"src/debian/changelog":     fmt.Sprintf("%s (1.0) bookworm; urgency=medium\n\n  * x\n\n -- x <x@stx-build.invalid>  Mon, 01 Jan 2024 00:00:00 +0000\n", name),
			"src/debian/source/format": "3.0 (native)\n",
			"src/src/data.txt":         fmt.Sprintf("%s\n", name),
		}
		for rel, content := range files {
			if err := write(filepath.Join(dir, "packages", name, rel), content, 0o644); err != nil {
				return err
			}
		}
		// Without debhelper: the smallest build dpkg-buildpackage accepts.
		rules := "#!/usr/bin/make -f\n" +
			"build build-arch build-indep:\n" +
			"clean:\n\trm -rf debian/tmp debian/files\n" +
			"binary binary-indep:\n" +
			"binary-arch:\n" +
			"\tinstall -d debian/tmp/DEBIAN debian/tmp/usr/share/gen\n" +
			"\tinstall -m 644 src/data.txt debian/tmp/usr/share/gen/$(shell dpkg-parsechangelog -S Source).txt\n" +
			"\tdpkg-gencontrol -plib$(shell dpkg-parsechangelog -S Source)-dev -Pdebian/tmp\n" +
			"\tdpkg-deb --build debian/tmp ..\n"
		if err := write(filepath.Join(dir, "packages", name, "src/debian/rules"), rules, 0o755); err != nil {
			return err
		}
	}
	return nil
}

// fill stores a build of every package whose key the cache lacks.
func fill(ctx context.Context, dir, cacheDir string) error {
	ws, err := workspace.Open(workspace.Options{Dir: dir, CacheDir: cacheDir, Log: os.Stderr})
	if err != nil {
		return err
	}
	spec, err := ws.BaseSpec()
	if err != nil {
		return err
	}
	st := ws.BaseStore()
	st.Log = os.Stderr
	base, err := st.Ensure(ctx, spec, false)
	if err != nil {
		return err
	}
	bi, err := buildkey.ReadBase(base)
	if err != nil {
		return err
	}
	h := filehash.New(filepath.Join(cacheDir, cache.StatCacheDir))
	plan, err := buildkey.New(ctx, ws, buildkey.Options{Builder: deb.Version, BuildArch: workspace.HostArch(), Base: bi, Hasher: h})
	if err != nil {
		return err
	}
	c, err := cache.Open(cache.Options{Dir: filepath.Join(cacheDir, cache.ArtifactsDir), Hasher: h})
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "benchbuild-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	stored := 0
	for _, b := range plan.Builds() {
		if c.Where(ctx, b.Key) != "" {
			continue
		}
		f, err := makeDeb(tmp, "lib"+b.Package+"-dev", b.Package, b.Version, b.Arch)
		if err != nil {
			return err
		}
		if _, err := c.Store(ctx, b, []string{f}); err != nil {
			return err
		}
		stored++
	}
	fmt.Fprintf(os.Stderr, "benchbuild: %d builds stored, %d were cached\n", stored, len(plan.Builds())-stored)
	return nil
}

// makeDeb builds name_version_arch.deb in dir with dpkg-deb, holding one
// small file as the generated package's build would.
func makeDeb(dir, name, source, version, arch string) (string, error) {
	root := filepath.Join(dir, name+"-"+arch)
	if err := os.MkdirAll(filepath.Join(root, "DEBIAN"), 0o755); err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Join(root, "usr/share/gen"), 0o755); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(root, "usr/share/gen", source+".txt"), []byte(source+"\n"), 0o644); err != nil {
		return "", err
	}
	control := fmt.Sprintf("Package: %s\nSource: %s\nVersion: %s\nArchitecture: %s\nMaintainer: x <x@stx-build.invalid>\nInstalled-Size: 1\nMulti-Arch: same\nDescription: x\n x\n", name, source, version, arch)
	if err := os.WriteFile(filepath.Join(root, "DEBIAN/control"), []byte(control), 0o644); err != nil {
		return "", err
	}
	out := filepath.Join(dir, fmt.Sprintf("%s_%s_%s.deb", name, version, arch))
	cmd := exec.Command("dpkg-deb", "--root-owner-group", "-Zgzip", "--build", root, out)
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("dpkg-deb: %v: %s", err, msg)
	}
	return out, nil
}
