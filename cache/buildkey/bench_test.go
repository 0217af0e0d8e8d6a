package buildkey_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stx-build/stx-build/cache"
	"github.com/stx-build/stx-build/cache/buildkey"
	"github.com/stx-build/stx-build/cache/filehash"
	"github.com/stx-build/stx-build/workspace"
)

// Benchmarks (make bench; or go test -run '^$' -bench . ./cache/buildkey/):
//
//	Keys/<project>/cold   open the project, read every control file, compile
//	                      the graphs, hash every source file (empty stat cache)
//	Keys/<project>/warm   the same with the stat cache filled
//	NoOp/<project>        a no-op run's cache work: warm keys, then Restore of
//	                      every build into its unchanged output directory
//
// <project> is the example (without the archive package) or gen300: 300
// generated local source packages for amd64 and arm64, ~20 files (~60 KiB)
// each, build-depending on up to three earlier ones.

const genPackages = 300

var (
	genOnce sync.Once
	genDir  string
	genErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if genDir != "" {
		os.RemoveAll(genDir)
	}
	os.Exit(code)
}

// generated returns the 300-package project, made once per test binary and
// aged past filehash.RacyWindow so its digests can be remembered.
func generated(b *testing.B) string {
	genOnce.Do(func() {
		genDir, genErr = os.MkdirTemp("", "stx-buildkey-bench-")
		if genErr == nil {
			genErr = generate(filepath.Join(genDir, "project"), genPackages)
		}
		time.Sleep(filehash.RacyWindow + 100*time.Millisecond)
	})
	if genErr != nil {
		b.Fatal(genErr)
	}
	return filepath.Join(genDir, "project")
}

func generate(dir string, n int) error {
	r := rand.New(rand.NewPCG(1, 2))
	write := func(p, content string, mode os.FileMode) error {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		return os.WriteFile(p, []byte(content), mode)
	}
	if err := write(filepath.Join(dir, "stx.yaml"), "name: gen\nsuite: bookworm\narchitectures: [amd64, arm64]\n", 0o644); err != nil {
		return err
	}
	for i := range n {
		name := fmt.Sprintf("gen%03d", i)
		pdir := filepath.Join(dir, "packages", name)
		deps := []string{"debhelper-compat (= 13)"}
		for range min(i, 3) {
			deps = append(deps, fmt.Sprintf("libgen%03d-dev", r.IntN(i)))
		}
		files := map[string]string{
			"package.yaml":             fmt.Sprintf("name: %s\nsource:\n  local: src\n", name),
			"src/debian/control":       fmt.Sprintf("Source: %s\nBuild-Depends: %s\n\nPackage: lib%s-dev\nArchitecture: any\nMulti-Arch: same\nDescription: x\n x\n", name, strings.Join(deps, ", "), name),
			"src/debian/changelog":     fmt.Sprintf("%s (1.0) bookworm; urgency=medium\n\n  * x\n\n -- x <x@stx-build.invalid>  Mon, 01 Jan 2024 00:00:00 +0000\n", name),
			"src/debian/copyright":     "x\n",
			"src/debian/source/format": "3.0 (native)\n",
		}
		for j := range 15 {
			files[fmt.Sprintf("src/src/file%02d.c", j)] = strings.Repeat(fmt.Sprintf("int %s_%d_%d;\n", name, j, r.IntN(1000)), 200+r.IntN(200))
		}
		for rel, content := range files {
			if err := write(filepath.Join(pdir, rel), content, 0o644); err != nil {
				return err
			}
		}
		if err := write(filepath.Join(pdir, "src/debian/rules"), "#!/usr/bin/make -f\n%:\n\tdh $@\n", 0o755); err != nil {
			return err
		}
	}
	return nil
}

func benchPlan(b *testing.B, dir string, h *filehash.Hasher) *buildkey.Plan {
	// Local sources only: the cache directory is never written.
	ws, err := workspace.Open(workspace.Options{Dir: dir, CacheDir: filepath.Join(dir, ".cache-unused"), HostArch: "amd64"})
	if err != nil {
		b.Fatal(err)
	}
	p, err := buildkey.New(context.Background(), ws, buildkey.Options{Builder: "1", BuildArch: "amd64", Base: testBase, Hasher: h})
	if err != nil {
		b.Fatal(err)
	}
	return p
}

func projects(b *testing.B) map[string]string {
	ex := copyExample(b)
	time.Sleep(filehash.RacyWindow + 100*time.Millisecond)
	return map[string]string{"example": ex, "gen300": generated(b)}
}

func BenchmarkKeys(b *testing.B) {
	for _, name := range []string{"example", "gen300"} {
		dir := projects(b)[name]
		b.Run(name+"/cold", func(b *testing.B) {
			stat := b.TempDir()
			for b.Loop() {
				b.StopTimer()
				os.RemoveAll(stat)
				b.StartTimer()
				benchPlan(b, dir, filehash.New(stat))
			}
			b.ReportMetric(float64(len(benchPlan(b, dir, nil).Builds())), "builds")
		})
		b.Run(name+"/warm", func(b *testing.B) {
			h := filehash.New(b.TempDir())
			benchPlan(b, dir, h)
			before := h.Stats()
			for b.Loop() {
				benchPlan(b, dir, h)
			}
			st := h.Stats()
			b.ReportMetric(float64(st.Reused-before.Reused)/float64(b.N), "files-reused/op")
			b.ReportMetric(float64(st.Hashed-before.Hashed)/float64(b.N), "files-hashed/op")
		})
	}
}

func BenchmarkNoOp(b *testing.B) {
	for _, name := range []string{"example", "gen300"} {
		dir := projects(b)[name]
		b.Run(name, func(b *testing.B) {
			ctx := context.Background()
			state := b.TempDir()
			h := filehash.New(filepath.Join(state, "filehash"))
			c, err := cache.Open(cache.Options{Dir: filepath.Join(state, "artifacts"), Hasher: h})
			if err != nil {
				b.Fatal(err)
			}
			out := filepath.Join(state, "out")
			dest := func(bl cache.Build) string {
				return filepath.Join(out, bl.Arch, "debs", bl.Package+"_"+bl.Version)
			}
			// One build's worth of artifacts per package, stored and restored.
			p := benchPlan(b, dir, h)
			art := b.TempDir()
			for _, bl := range p.Builds() {
				f := filepath.Join(art, bl.Package+"_"+bl.Version+"_"+bl.Arch+".deb")
				if err := os.WriteFile(f, []byte(strings.Repeat(string(bl.Key), 1000)), 0o644); err != nil {
					b.Fatal(err)
				}
				if _, err := c.Store(ctx, bl, []string{f}); err != nil {
					b.Fatal(err)
				}
				if _, ok, err := c.Restore(ctx, bl.Key, dest(bl)); !ok || err != nil {
					b.Fatal(ok, err)
				}
			}
			time.Sleep(filehash.RacyWindow + 100*time.Millisecond)
			run := func() {
				p := benchPlan(b, dir, h)
				for _, bl := range p.Builds() {
					r, ok, err := c.Restore(ctx, bl.Key, dest(bl))
					if !ok || err != nil || !r.Unchanged {
						b.Fatalf("%s: not a no-op: %v %v", bl, ok, err)
					}
				}
			}
			run()
			for b.Loop() {
				run()
			}
		})
	}
}
