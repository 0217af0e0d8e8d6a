package iso_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stx-build/stx-build/builders/iso"
	"github.com/stx-build/stx-build/builders/iso/bootcheck"
	"github.com/stx-build/stx-build/buildrun"
	"github.com/stx-build/stx-build/internal/netns"
	"github.com/stx-build/stx-build/manifests"
	"github.com/stx-build/stx-build/runner"
	"github.com/stx-build/stx-build/workspace"
)

var update = flag.Bool("update", false, "rewrite testdata/golden.json from this run")

// The marker line stx-bootmarker writes to the console at boot.
const marker = "STX-BOOT-MARKER: stx-build example booted"

const goldenFile = "testdata/golden.json"

// examplesDir is the repository's examples/, found before anything can
// change the working directory.
var examplesDir string

func TestMain(m *testing.M) {
	runner.MaybeChild() // the build sandbox re-executes this test binary
	flag.Parse()
	var err error
	if examplesDir, err = filepath.Abs("../../examples"); err != nil {
		panic(err)
	}
	os.Exit(m.Run())
}

// e2e says whether the slow extra runs too (make e2e): the arm64 ISO from
// the second checkout (its root takes minutes under qemu-user).
func e2e() bool { return os.Getenv("STX_ISO_E2E") != "" }

func needISOHost(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds packages, live roots and ISOs, and boots them in qemu")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root (mmdebstrap, the build sandbox)")
	}
	for _, tool := range []string{"mmdebstrap", "mksquashfs", "xorriso", "grub-mkimage", "mkfs.fat", "mcopy", "qemu-system-x86_64", "qemu-system-aarch64", "update-binfmts"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed (scripts/install-deps.sh)", tool)
		}
	}
	if err := runner.NewLocal().Usable(context.Background()); err != nil {
		t.Skipf("sandbox unusable: %v", err)
	}
}

// cacheDir is STX_TEST_CACHE/iso-test, so the base root and the apt state
// are made once per machine, or a temporary directory. It is a cache of its
// own: a build holds a lock on its cache's work directory, and go test runs
// this package alongside others whose tests build packages too.
func cacheDir(t *testing.T) string {
	if d := os.Getenv("STX_TEST_CACHE"); d != "" {
		return filepath.Join(d, "iso-test")
	}
	d, err := os.MkdirTemp("/var/tmp", "stx-iso-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

// checkout copies examples/ to dir, as a second checkout would be.
func checkout(t *testing.T, dir string) string {
	t.Helper()
	if out, err := exec.Command("cp", "-a", examplesDir, dir).CombinedOutput(); err != nil {
		t.Fatalf("copy examples: %v %s", err, out)
	}
	return dir
}

type logWriter struct {
	t      *testing.T
	prefix string
}

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Log(w.prefix + strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// buildISOs builds the packages the example's ISO needs and the ISO for
// each of archs from the project in dir.
// With offline, the project must have a lock: the packages come from
// the package store only (the locked archive published from it).
func buildISOs(t *testing.T, ctx context.Context, cache, dir string, archs []string, offline bool) map[string]*iso.Result {
	t.Helper()
	ws, err := workspace.Open(workspace.Options{Dir: dir, CacheDir: cache})
	if err != nil {
		t.Fatal(err)
	}
	// examples/stx.lock: the live root installs the locked packages only
	// (from the package store when the archive dropped one); a locked
	// version nobody has any more fails here, saying how to refresh it.
	lock, err := ws.ReadLock()
	if err == nil && lock != nil {
		err = ws.UseLock(ctx, lock, offline)
	} else if err == nil && offline {
		err = fmt.Errorf("offline without a lock")
	}
	if err != nil {
		t.Fatal(err)
	}
	lockedBuild = lock != nil
	p := ws.RootsProject()
	out := filepath.Join(dir, "out")
	status := logWriter{t, "checkout " + filepath.Base(dir) + ": "}
	// stx-bootmarker (Architecture: all) is built on amd64, the project's
	// first architecture, and taken by arm64.
	if _, err := buildrun.Run(ctx, ws, buildrun.Options{
		Archs: []string{"amd64", "arm64"}, Packages: []string{"stx-bootmarker", "stx-hello"},
		OutDir: out, Status: status, Lock: lock,
	}); err != nil {
		t.Fatal(err)
	}
	m, err := manifests.LoadISO(p)
	if err != nil || m == nil {
		t.Fatalf("example iso.yaml: %v", err)
	}
	// The boot packages: the archive's, or with the lock the locked files
	// from the package store, as stx-build iso takes them.
	var boot iso.Downloader
	if lock != nil {
		st, err := ws.PackageStore()
		if err != nil {
			t.Fatal(err)
		}
		boot = iso.LockedDownloader{Lock: lock, Suite: ws.Project.Suite, Store: st}
	} else {
		env, err := ws.AptEnv(ctx)
		if err != nil {
			t.Fatal(err)
		}
		boot = iso.AptDownloader{Env: env}
	}
	epoch, err := iso.ProjectEpoch(p)
	if err != nil {
		t.Fatal(err)
	}
	res := map[string]*iso.Result{}
	for _, a := range archs {
		r, err := iso.Build(ctx, iso.Options{
			Project: p, Manifest: m, Arch: a,
			LocalRepo: filepath.Join(out, a, "repo"),
			Output:    filepath.Join(out, "iso", fmt.Sprintf("example-%s.iso", a)),
			WorkDir:   filepath.Join(cache, "iso-work"), Epoch: epoch,
			Boot: boot, Status: status,
		})
		if err != nil {
			t.Fatal(err)
		}
		var steps []string
		for _, s := range r.Steps {
			steps = append(steps, fmt.Sprintf("%s %s", strings.SplitN(s.Name, " ", 2)[0], s.Duration.Round(100*time.Millisecond)))
		}
		t.Logf("%s: %s %.1f MiB sha256 %s in %s (%s)", a, r.ISO, float64(r.Size)/(1<<20), r.SHA256, r.Total().Round(time.Second), strings.Join(steps, ", "))
		res[a] = r
	}
	return res
}

// golden is testdata/golden.json: per architecture, the ISO's sha256 and
// the package versions it was built from. When the archive's versions
// change, the digest cannot match; the test then says so and asks for
// make golden, still checking that two builds agree.
type golden struct {
	Comment string                  `json:"comment"`
	Arch    map[string]goldenResult `json:"arch"`
}

type goldenResult struct {
	SHA256       string   `json:"sha256"`
	Size         int64    `json:"size"`
	Packages     []string `json:"packages"`
	BootPackages []string `json:"boot_packages"`
}

func toGolden(r *iso.Result) goldenResult {
	g := goldenResult{SHA256: r.SHA256, Size: r.Size}
	for _, p := range r.Packages {
		g.Packages = append(g.Packages, p.String())
	}
	for _, p := range r.BootPackages {
		g.BootPackages = append(g.BootPackages, p.String())
	}
	return g
}

// TestExampleISO builds the example's ISO for amd64 and arm64 from one
// checkout and for amd64 (with make e2e also arm64) from a second checkout
// at another path, checks that the two agree bit for bit and match the
// golden digests, reads them back, and boots them in qemu: amd64 with
// BIOS and with UEFI, arm64 with UEFI, each from a CD-ROM and from a USB
// stick (the hybrid image as dd writes it). Each boot must reach the line
// stx-bootmarker prints, which proves the project's own packages are in
// the live system.
//
// With examples/stx.lock (issue 17's done-when) the second checkout is
// built offline: the packages and the ISO, by this test binary run again
// in a network namespace with no network at all (only lo), with
// --offline's store-only locked archive, and its ISO must be the first
// checkout's bit for bit (and so the golden one).
func TestExampleISO(t *testing.T) {
	needISOHost(t)
	if spec := os.Getenv(offlineEnv); spec != "" {
		offlineChild(t, spec)
		return
	}
	ctx := context.Background()
	cache := cacheDir(t)
	base := t.TempDir()
	first := buildISOs(t, ctx, cache, checkout(t, filepath.Join(base, "a")), []string{"amd64", "arm64"}, false)
	secondArchs := []string{"amd64"}
	if e2e() {
		secondArchs = append(secondArchs, "arm64")
	}
	if err := os.MkdirAll(filepath.Join(base, "second", "checkout"), 0o755); err != nil {
		t.Fatal(err)
	}
	secondDir := checkout(t, filepath.Join(base, "second", "checkout", "b"))
	second := map[string]string{}
	if lockedBuild {
		second = buildOffline(t, cache, secondDir, secondArchs)
	} else {
		for a, r := range buildISOs(t, ctx, cache, secondDir, secondArchs, false) {
			second[a] = r.SHA256
		}
	}
	for _, a := range secondArchs {
		if first[a].SHA256 != second[a] {
			t.Errorf("%s: two checkouts give different ISOs: %s and %s", a, first[a].SHA256, second[a])
		}
	}

	t.Run("golden", func(t *testing.T) { checkGolden(t, first) })

	for _, a := range []string{"amd64", "arm64"} {
		info, err := iso.Inspect(first[a].ISO)
		if err != nil {
			t.Fatal(err)
		}
		efi := map[string]string{"amd64": "/EFI/BOOT/BOOTX64.EFI", "arm64": "/EFI/BOOT/BOOTAA64.EFI"}[a]
		if info.Label != "STX_EXAMPLE" || !info.HasFile(efi) || !info.HasFile("/live/filesystem.squashfs") || !info.HasFile("/README.txt") {
			t.Errorf("%s: label %q, files %v", a, info.Label, info.Files)
		}
		var platforms []string
		for _, e := range info.Boot {
			platforms = append(platforms, e.Platform)
		}
		want := map[string][]string{"amd64": {"bios", "uefi"}, "arm64": {"uefi"}}[a]
		if !reflect.DeepEqual(platforms, want) {
			t.Errorf("%s: boot catalogue %v, want %v", a, platforms, want)
		}
		var pkgs []string
		for _, p := range first[a].Packages {
			pkgs = append(pkgs, p.Name)
		}
		for _, p := range []string{"stx-bootmarker", "stx-hello", "libstx1", "systemd-sysv", "stx-live-initramfs"} {
			if !strings.Contains(" "+strings.Join(pkgs, " ")+" ", " "+p+" ") {
				t.Errorf("%s: live root lacks %s", a, p)
			}
		}
		if strings.Contains(" "+strings.Join(pkgs, " ")+" ", " initramfs-tools ") {
			t.Errorf("%s: initramfs-tools was installed", a)
		}
	}

	boots := []struct{ arch, firmware, media string }{
		{"amd64", "bios", "cdrom"}, {"amd64", "uefi", "cdrom"}, {"arm64", "uefi", "cdrom"},
		{"amd64", "bios", "usb"}, {"amd64", "uefi", "usb"}, {"arm64", "uefi", "usb"},
	}
	logDir := os.Getenv("STX_BOOT_LOGS")
	for _, b := range boots {
		t.Run(fmt.Sprintf("boot-%s-%s-%s", b.arch, b.firmware, b.media), func(t *testing.T) {
			prof, _ := iso.Profile(b.arch)
			var console strings.Builder
			res, err := bootcheck.Run(ctx, bootcheck.Options{
				ISO: first[b.arch].ISO, Profile: prof, Firmware: b.firmware, Media: b.media,
				Expect: marker, Timeout: 10 * time.Minute, Console: &console,
			})
			if logDir != "" {
				os.MkdirAll(logDir, 0o755)
				os.WriteFile(filepath.Join(logDir, fmt.Sprintf("boot-%s-%s-%s.log", b.arch, b.firmware, b.media)), []byte(console.String()), 0o644)
			}
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s %s %s (%s): %q after %s", b.arch, b.firmware, b.media, res.Accel, res.Line, res.Elapsed.Round(100*time.Millisecond))
		})
	}
}

// offlineEnv makes TestExampleISO the offline build of a checkout: its
// value is an offlineSpec as JSON.
const offlineEnv = "STX_TEST_ISO_OFFLINE"

type offlineSpec struct {
	Cache, Dir string
	Archs      []string
}

// buildOffline builds the packages and ISOs of the checkout in dir with
// no network, from the lock and the package store in cache (which the
// first checkout's build filled), by this test binary in an empty
// network namespace; it returns each ISO's sha256.
func buildOffline(t *testing.T, cache, dir string, archs []string) map[string]string {
	t.Helper()
	spec, err := json.Marshal(offlineSpec{Cache: cache, Dir: dir, Archs: archs})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := netns.Rerun("TestExampleISO", offlineEnv+"="+string(spec)); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, "offline.json"))
	if err != nil {
		t.Fatal(err)
	}
	sums := map[string]string{}
	if err := json.Unmarshal(data, &sums); err != nil {
		t.Fatal(err)
	}
	t.Logf("second checkout built with no network (packages and %v ISOs) in %s: %v", archs, time.Since(start).Round(time.Second), sums)
	return sums
}

// offlineChild is buildOffline's side in the network namespace.
func offlineChild(t *testing.T, specJSON string) {
	var spec offlineSpec
	if err := json.Unmarshal([]byte(specJSON), &spec); err != nil {
		t.Fatal(err)
	}
	if err := netns.OnlyLoopback(); err != nil {
		t.Fatal(err)
	}
	sums := map[string]string{}
	for a, r := range buildISOs(t, context.Background(), spec.Cache, spec.Dir, spec.Archs, true) {
		sums[a] = r.SHA256
	}
	data, err := json.Marshal(sums)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(spec.Dir, "offline.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// lockedBuild says the ISOs were built from examples/stx.lock: their
// root's packages are the lock's, so a golden file with other versions is
// stale, not the archive's drift.
var lockedBuild bool

func checkGolden(t *testing.T, results map[string]*iso.Result) {
	got := golden{
		Comment: "ISO digests of examples/iso.yaml and the package versions they were built from; regenerate with make golden",
		Arch:    map[string]goldenResult{},
	}
	for a, r := range results {
		got.Arch[a] = toGolden(r)
	}
	if *update {
		data, _ := json.MarshalIndent(got, "", "  ")
		if err := os.WriteFile(goldenFile, append(data, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s", goldenFile)
		return
	}
	data, err := os.ReadFile(goldenFile)
	if err != nil {
		t.Fatalf("%v (make golden writes it)", err)
	}
	var want golden
	if err := json.Unmarshal(data, &want); err != nil {
		t.Fatal(err)
	}
	for a, g := range got.Arch {
		w, ok := want.Arch[a]
		switch {
		case !ok:
			t.Errorf("%s: not in %s (make golden)", a, goldenFile)
		case lockedBuild && !reflect.DeepEqual(g.Packages, w.Packages):
			t.Errorf("%s: the live root was built from examples/stx.lock, but its packages are not the ones of %s (%s): make golden after changing the lock", a, goldenFile, diffPackages(w, g))
		case !reflect.DeepEqual(g.Packages, w.Packages) || !reflect.DeepEqual(g.BootPackages, w.BootPackages):
			t.Logf("%s: the archive's package versions changed since %s was written (%s); the digest cannot match, so it is not compared: run make golden to regenerate it", a, goldenFile, diffPackages(w, g))
		case g.SHA256 != w.SHA256:
			t.Errorf("%s: ISO sha256 %s, golden %s, with the same package versions: the build is not reproducible (or an intended change needs make golden)", a, g.SHA256, w.SHA256)
		}
	}
}

// diffPackages names the first few package versions that differ.
func diffPackages(old, cur goldenResult) string {
	was := map[string]bool{}
	for _, p := range append(old.Packages, old.BootPackages...) {
		was[p] = true
	}
	var changed []string
	for _, p := range append(cur.Packages, cur.BootPackages...) {
		if !was[p] {
			changed = append(changed, p)
		}
	}
	if len(changed) > 5 {
		changed = append(changed[:5], "...")
	}
	return "now " + strings.Join(changed, ", ")
}
