package buildrun_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/stx-build/stx-build/builders/deb"
	"github.com/stx-build/stx-build/buildrun"
	"github.com/stx-build/stx-build/cache"
	"github.com/stx-build/stx-build/cache/filehash"
	"github.com/stx-build/stx-build/cache/oci"
	"github.com/stx-build/stx-build/internal/registrytest"
	"github.com/stx-build/stx-build/runner"
	"github.com/stx-build/stx-build/scheduler"
	"github.com/stx-build/stx-build/scheduler/history"
	"github.com/stx-build/stx-build/workspace"
)

// cacheDir is shared by the tests of one run so the base root is made once.
var cacheDir string

func TestMain(m *testing.M) {
	runner.MaybeChild() // the sandbox re-executes this test binary
	if os.Getenv("STX_TEST_CACHE") != "" {
		cacheDir = os.Getenv("STX_TEST_CACHE")
	} else {
		d, err := os.MkdirTemp("/var/tmp", "stx-buildrun-test-")
		if err != nil {
			panic(err)
		}
		cacheDir = d
	}
	code := m.Run()
	if os.Getenv("STX_TEST_CACHE") == "" {
		os.RemoveAll(cacheDir)
	}
	os.Exit(code)
}

func needBuildHost(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds real packages (mmdebstrap, apt, dpkg-buildpackage)")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root for namespaces, overlayfs and tmpfs")
	}
	if _, err := exec.LookPath("mmdebstrap"); err != nil {
		t.Skip("mmdebstrap not installed (make deps)")
	}
	if err := runner.NewLocal().Usable(context.Background()); err != nil {
		t.Skipf("sandbox unusable: %v", err)
	}
}

// copyProject copies the example project (optionally with extra test
// packages) to a new directory under parent.
func copyProject(t *testing.T, parent string, withHello bool, extra ...string) string {
	t.Helper()
	dst := filepath.Join(parent, "project")
	src := filepath.Join("..", "examples")
	if err := copyDir(src, dst, func(rel string) bool {
		return !withHello && strings.HasPrefix(rel, filepath.Join("packages", "hello"))
	}); err != nil {
		t.Fatal(err)
	}
	for _, e := range extra {
		if err := copyDir(filepath.Join("testdata", "extra", e), filepath.Join(dst, "packages", e), nil); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

func copyDir(src, dst string, skip func(string) bool) error {
	return filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if skip != nil && skip(rel) {
			if info.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if info.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), data, info.Mode().Perm())
	})
}

func build(t *testing.T, dir string, opts buildrun.Options) (*buildrun.Result, string, error) {
	t.Helper()
	ws, err := workspace.Open(workspace.Options{Dir: dir, CacheDir: cacheDir})
	if err != nil {
		t.Fatal(err)
	}
	var status bytes.Buffer
	opts.Status = io.MultiWriter(&status, testWriter{t})
	if opts.OutDir == "" {
		opts.OutDir = filepath.Join(dir, "out")
	}
	res, err := buildrun.Run(context.Background(), ws, opts)
	return res, status.String(), err
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// debDigests maps "<arch>/<file>" of every .deb under out/*/debs to its sha256.
func debDigests(t *testing.T, out string) map[string]string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(out, "*", "debs", "*", "*.deb"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no debs under %s (%v)", out, err)
	}
	m := map[string]string{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(data)
		rel, _ := filepath.Rel(out, f)
		m[rel] = hex.EncodeToString(sum[:])
	}
	return m
}

func debField(t *testing.T, deb, field string) string {
	t.Helper()
	out, err := exec.Command("dpkg-deb", "-f", deb, field).Output()
	if err != nil {
		t.Fatalf("dpkg-deb -f %s %s: %v", deb, field, err)
	}
	return strings.TrimSpace(string(out))
}

// TestBuildExampleReproducible builds the example for amd64 and arm64 from
// two checkouts at different paths and checks the packages: architectures,
// the program linked against the locally built library, and bit-identical
// .deb files across the two builds.
func TestBuildExampleReproducible(t *testing.T) {
	needBuildHost(t)
	a := copyProject(t, filepath.Join(t.TempDir(), "checkout-one"), true)
	b := copyProject(t, filepath.Join(t.TempDir(), "a", "much", "longer", "checkout-two"), true)

	res, _, err := build(t, a, buildrun.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Builds) != 10 { // 6 packages on amd64, 4 arch-specific ones on arm64
		t.Errorf("built %d packages, want 10", len(res.Builds))
	}
	out := filepath.Join(a, "out")
	for _, tc := range []struct{ deb, arch string }{
		{"amd64/debs/libstx_1.0/libstx1_1.0_amd64.deb", "amd64"},
		{"arm64/debs/libstx_1.0/libstx1_1.0_arm64.deb", "arm64"},
		{"arm64/debs/stx-hello_1.0/stx-hello_1.0_arm64.deb", "arm64"},
		{"arm64/debs/hello_2.10-3/hello_2.10-3_arm64.deb", "arm64"},
		{"amd64/debs/stx-docs_1.0/stx-docs_1.0_all.deb", "all"},
	} {
		if got := debField(t, filepath.Join(out, tc.deb), "Architecture"); got != tc.arch {
			t.Errorf("%s: Architecture %q, want %q", tc.deb, got, tc.arch)
		}
	}
	// stx-hello links the libstx we built: its Depends come from libstx1's
	// symbols file, and the build log shows apt installing our libstx-dev.
	for _, arch := range []string{"amd64", "arm64"} {
		deb := filepath.Join(out, arch, "debs", "stx-hello_1.0", "stx-hello_1.0_"+arch+".deb")
		if dep := debField(t, deb, "Depends"); !strings.Contains(dep, "libstx1 (>= 1.0)") {
			t.Errorf("%s: Depends %q lacks libstx1", deb, dep)
		}
		log, err := os.ReadFile(filepath.Join(out, arch, "logs", "stx-hello_1.0.log"))
		if err != nil {
			t.Fatal(err)
		}
		q := ""
		if arch == "arm64" {
			q = ":arm64"
		}
		if want := "Inst libstx-dev" + q + " (1.0 stx-build local:stx"; !bytes.Contains(log, []byte(want)) {
			t.Errorf("%s build log does not show %q", arch, want)
		}
	}
	// The arm64 repository serves the arch:all packages built on amd64.
	if _, err := os.Stat(filepath.Join(out, "arm64", "repo", "pool", "main", "s", "stx-docs", "stx-docs_1.0_all.deb")); err != nil {
		t.Errorf("arm64 repo lacks stx-docs: %v", err)
	}

	if _, _, err := build(t, b, buildrun.Options{}); err != nil {
		t.Fatal(err)
	}
	da, db := debDigests(t, out), debDigests(t, filepath.Join(b, "out"))
	var diff []string
	for k, v := range da {
		if db[k] != v {
			diff = append(diff, fmt.Sprintf("%s: %s vs %s", k, v[:12], short(db[k])))
		}
	}
	for k := range db {
		if _, ok := da[k]; !ok {
			diff = append(diff, k+": only in the second build")
		}
	}
	sort.Strings(diff)
	if len(diff) > 0 {
		t.Errorf("builds from two checkouts differ:\n%s", strings.Join(diff, "\n"))
	}
	t.Logf("%d .deb files bit-identical across checkouts", len(da))
}

func short(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}

// TestBuildHasNoNetwork builds a package whose debian/rules connects to a
// listener on the host's loopback: in the sandbox that must fail, and with
// it the build.
func TestBuildHasNoNetwork(t *testing.T) {
	needBuildHost(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	// The same probe outside the sandbox reaches the listener, so the
	// failure below is the sandbox's doing.
	if c, err := net.Dial("tcp", ln.Addr().String()); err != nil {
		t.Fatalf("probe listener unreachable from the host: %v", err)
	} else {
		c.Close()
	}
	dir := copyProject(t, t.TempDir(), false, "stx-netprobe")
	probe := filepath.Join(dir, "packages", "stx-netprobe", "src", "debian", "probe-address")
	if err := os.WriteFile(probe, []byte(ln.Addr().String()+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, err = build(t, dir, buildrun.Options{Archs: []string{"amd64"}, Packages: []string{"stx-netprobe"}})
	var be *deb.Error
	if !errors.As(err, &be) || be.Step != "dpkg-buildpackage" {
		t.Fatalf("want the build to fail in dpkg-buildpackage, got %v", err)
	}
	log, _ := os.ReadFile(be.Log)
	if !bytes.Contains(log, []byte("\nstx-netprobe: cannot reach "+ln.Addr().String())) || bytes.Contains(log, []byte("\nstx-netprobe: NETWORK REACHABLE")) {
		t.Errorf("log does not show the failed connection:\n%s", lastLines(log, 15))
	}
}

// TestBuildTmpfsAndDiskFallback: a small package builds on tmpfs; a package
// whose build tree outgrows its tmpfs slice is retried on disk and succeeds.
func TestBuildTmpfsAndDiskFallback(t *testing.T) {
	needBuildHost(t)
	// History from an earlier run would size the slice right.
	if err := (&history.Store{Dir: filepath.Join(cacheDir, "history")}).Remove("stx-bigtree"); err != nil {
		t.Fatal(err)
	}
	dir := copyProject(t, t.TempDir(), false, "stx-bigtree")
	res, _, err := build(t, dir, buildrun.Options{Archs: []string{"amd64"}, Packages: []string{"stx-bigtree", "libstx"}})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]*deb.Result{}
	for _, r := range res.Builds {
		got[r.Package] = r
	}
	if r := got["libstx"]; r == nil || !r.OnTmpfs || r.Retried {
		t.Errorf("libstx should build on tmpfs: %+v", r)
	}
	if r := got["stx-bigtree"]; r == nil || r.OnTmpfs || !r.Retried {
		t.Errorf("stx-bigtree should run out of tmpfs and finish on disk: %+v", r)
	} else if r.PeakBytes < 256<<20 {
		t.Errorf("stx-bigtree peak %d bytes, want at least the 256 MiB slice", r.PeakBytes)
	}
}

func lastLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// TestBuildKeepGoingParallel builds the example's local packages with a
// package that fails and one that needs it, two at a time, with
// --keep-going: the failure and the skip are reported, everything else is
// built, builds overlap, the report and the history are written.
func TestBuildKeepGoingParallel(t *testing.T) {
	needBuildHost(t)
	dir := copyProject(t, t.TempDir(), false, "stx-broken", "stx-after-broken")
	res, status, err := build(t, dir, buildrun.Options{Archs: []string{"amd64"}, Jobs: 2, KeepGoing: true})
	var be *buildrun.BuildError
	if !errors.As(err, &be) || len(be.Failed) != 1 || be.Failed[0] != "stx-broken:amd64" || be.Skipped != 1 {
		t.Fatalf("want stx-broken failed and one skipped, got %v", err)
	}
	var de *deb.Error
	if !errors.As(err, &de) || de.Step != "dpkg-buildpackage" {
		t.Errorf("the build error does not unwrap to the deb.Error: %v", err)
	}
	got := map[string]scheduler.Status{}
	for _, r := range res.Outcome.Results {
		got[r.ID] = r.Status
	}
	for id, want := range map[string]scheduler.Status{
		"stx-broken:amd64": scheduler.Failed, "stx-after-broken:amd64": scheduler.Skipped,
		"libstx:amd64": scheduler.Built, "stx-hello:amd64": scheduler.Built, "stx-tools:amd64": scheduler.Built,
		"stx-docs:amd64": scheduler.Built, "stx-bootmarker:amd64": scheduler.Built,
	} {
		if got[id] != want {
			t.Errorf("%s: %v, want %v", id, got[id], want)
		}
	}
	for _, want := range []string{"amd64 stx-after-broken 1.0: skipped: needs failed stx-broken:amd64", "stx-broken: failing on purpose", "summary: 5 built, 1 failed, 1 skipped"} {
		if !strings.Contains(status, want) {
			t.Errorf("status lacks %q", want)
		}
	}
	// Two builds ran at the same time.
	overlap := false
	rs := res.Outcome.Results
	for i := range rs {
		for j := i + 1; j < len(rs); j++ {
			a, b := rs[i], rs[j]
			if a.Assignment.Slot > 0 && b.Assignment.Slot > 0 && a.Assignment.Start < b.End && b.Assignment.Start < a.End {
				overlap = true
			}
		}
	}
	if !overlap {
		t.Error("no two builds overlapped with -j 2")
	}
	page, err := os.ReadFile(res.Report)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<td>stx-broken:amd64</td></tr>", `href="../amd64/logs/stx-broken_1.0.log"`, `class="failed"`} {
		if !bytes.Contains(page, []byte(want)) {
			t.Errorf("report lacks %s", want)
		}
	}
	hist := &history.Store{Dir: filepath.Join(cacheDir, "history")}
	if r, exact, ok := hist.Lookup("libstx", "1.0", "amd64"); !ok || !exact || r.Seconds <= 0 || r.PeakBytes <= 0 {
		t.Errorf("history of libstx: %+v %v %v", r, exact, ok)
	}
	if _, exact, _ := hist.Lookup("stx-broken", "1.0", "amd64"); exact {
		t.Error("a failed build was recorded in the history")
	}
	left, _ := filepath.Glob(filepath.Join(dir, "out", ".stx-snapshots", "*"))
	if len(left) > 0 {
		t.Errorf("snapshots left: %v", left)
	}
}

// openCache opens an artifact cache in dir with optional registry remotes.
func openCache(t *testing.T, dir, from, to string) *cache.Cache {
	t.Helper()
	var fromList []string
	if from != "" {
		fromList = []string{from}
	}
	f, tt, err := oci.Remotes(fromList, to, oci.Options{})
	if err != nil {
		t.Fatal(err)
	}
	c, err := cache.Open(cache.Options{
		Dir: filepath.Join(dir, cache.ArtifactsDir), From: f, To: tt,
		Hasher: filehash.New(filepath.Join(dir, cache.StatCacheDir)), Log: testWriter{t},
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func builtNames(res *buildrun.Result) []string {
	var names []string
	for _, b := range res.Builds {
		names = append(names, b.Package)
	}
	sort.Strings(names)
	return names
}

// TestIncrementalAndSharedCache: a second run with nothing changed builds
// nothing; a change to libstx rebuilds exactly libstx and what needs it;
// a fresh machine (empty artifact store) pulls everything from a registry
// and compiles nothing, with bit-identical outputs; a corrupted blob in the
// registry is refused and that package rebuilt.
func TestIncrementalAndSharedCache(t *testing.T) {
	needBuildHost(t)
	reg := registrytest.Start(t)
	ref := reg.Addr + "/stx/cache"
	dir := copyProject(t, t.TempDir(), false)
	artifacts := t.TempDir()
	opts := func(out string, c *cache.Cache) buildrun.Options {
		return buildrun.Options{Archs: []string{"amd64"}, OutDir: out, Cache: c}
	}

	res, _, err := build(t, dir, opts(filepath.Join(dir, "out1"), openCache(t, artifacts, "", ref)))
	if err != nil {
		t.Fatal(err)
	}
	all := []string{"libstx", "stx-bootmarker", "stx-docs", "stx-hello", "stx-tools"}
	if got := builtNames(res); !reflect.DeepEqual(got, all) {
		t.Fatalf("first run built %q", got)
	}

	res, status, err := build(t, dir, opts(filepath.Join(dir, "out2"), openCache(t, artifacts, "", "")))
	if err != nil {
		t.Fatal(err)
	}
	if got := builtNames(res); len(got) != 0 {
		t.Errorf("no-op run built %q", got)
	}
	if want := "summary: 5 built (5 of them restored from the cache)"; !strings.Contains(status, want) {
		t.Errorf("no-op run's summary lacks %q:\n%s", want, lastLines([]byte(status), 8))
	}

	// A new machine: empty local store, the registry as --cache-from.
	fresh := t.TempDir()
	out3 := filepath.Join(dir, "out3")
	res, _, err = build(t, dir, opts(out3, openCache(t, fresh, ref, "")))
	if err != nil {
		t.Fatal(err)
	}
	if got := builtNames(res); len(got) != 0 {
		t.Errorf("run with --cache-from compiled %q", got)
	}
	if a, b := debDigests(t, filepath.Join(dir, "out1")), debDigests(t, out3); !reflect.DeepEqual(a, b) {
		t.Errorf("restored debs differ from the built ones:\n%v\n%v", a, b)
	}

	// Change libstx: it and its transitive dependents are rebuilt.
	src := filepath.Join(dir, "packages", "libstx", "src", "stx.c")
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(src, append(data, []byte("\n/* changed */\n")...), 0o644); err != nil {
		t.Fatal(err)
	}
	res, _, err = build(t, dir, opts(filepath.Join(dir, "out4"), openCache(t, artifacts, "", "")))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := builtNames(res), []string{"libstx", "stx-docs", "stx-hello", "stx-tools"}; !reflect.DeepEqual(got, want) {
		t.Errorf("after changing libstx built %q, want %q", got, want)
	}

	// Tamper with every blob of stx-bootmarker's entry in the registry: a
	// fresh machine refuses it and builds the package.
	if err := os.WriteFile(src, data, 0o644); err != nil {
		t.Fatal(err)
	}
	debs, _ := filepath.Glob(filepath.Join(dir, "out1", "amd64", "debs", "stx-bootmarker_1.0", "*.deb"))
	if len(debs) != 1 {
		t.Fatalf("stx-bootmarker debs: %q", debs)
	}
	sum := sha256File(t, debs[0])
	blob := reg.BlobFile(sum)
	if err := os.WriteFile(blob, []byte("tampered"), 0o644); err != nil {
		t.Fatalf("corrupt %s: %v", blob, err)
	}
	res, _, err = build(t, dir, opts(filepath.Join(dir, "out5"), openCache(t, t.TempDir(), ref, "")))
	if err != nil {
		t.Fatal(err)
	}
	if got := builtNames(res); !reflect.DeepEqual(got, []string{"stx-bootmarker"}) {
		t.Errorf("with a tampered registry entry built %q, want only stx-bootmarker", got)
	}
}

func sha256File(t *testing.T, p string) string {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(data)
	return hex.EncodeToString(s[:])
}

// A project package older than the base root's (sensible-utils 0.0.17-stx1
// against the archive's 0.0.17+nmu1) is what builds that need it get: the
// local repositories are pinned above the archive and the environment may
// downgrade. stx-old-dep's rules fail unless the project's one is there.
func TestProjectVersionOlderThanBase(t *testing.T) {
	needBuildHost(t)
	dir := copyProject(t, t.TempDir(), false, "sensible-utils", "stx-old-dep")
	res, status, err := build(t, dir, buildrun.Options{Archs: []string{"amd64"}, Packages: []string{"stx-old-dep"}})
	if err != nil {
		t.Fatalf("%v\n%s", err, lastLines([]byte(status), 20))
	}
	if got := builtNames(res); !reflect.DeepEqual(got, []string{"sensible-utils", "stx-old-dep"}) {
		t.Errorf("built %q", got)
	}
	log, err := os.ReadFile(filepath.Join(dir, "out", "amd64", "logs", "stx-old-dep_1.0.log"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(log, []byte("sensible-utils")) || !bytes.Contains(log, []byte("0.0.17-stx1")) {
		t.Errorf("stx-old-dep's log does not show the project's sensible-utils installed:\n%s", lastLines(log, 40))
	}
}

// A build-dependency failure says why, in apt's words and with what to do:
// stx-nocross names gobject-introspection (not Multi-Arch: foreign) without
// :native, so its arm64 cross build wants gobject-introspection:arm64, as
// many real Debian sources do.
func TestBuildDepsFailureSaysWhy(t *testing.T) {
	needBuildHost(t)
	dir := copyProject(t, t.TempDir(), false, "stx-nocross")
	_, status, err := build(t, dir, buildrun.Options{Archs: []string{"arm64"}, Packages: []string{"stx-nocross"}})
	if err == nil {
		t.Fatal("stx-nocross cross-built for arm64")
	}
	var be *buildrun.BuildError
	if !errors.As(err, &be) || len(be.Errs) != 1 {
		t.Fatalf("error %v, want one failed build", err)
	}
	for _, want := range []string{"gobject-introspection:arm64", "stx-nocross is not cross-buildable as written: it needs gobject-introspection for the target architecture arm64"} {
		if !strings.Contains(be.Errs[0].Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, be.Errs[0])
		}
		if !strings.Contains(status, want) {
			t.Errorf("the run's summary lacks %q:\n%s", want, lastLines([]byte(status), 12))
		}
	}
}
