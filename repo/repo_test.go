package repo

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func open(t *testing.T, arch string) *Repo {
	t.Helper()
	r, err := Open(filepath.Join(t.TempDir(), "repo"), arch)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func publish(t *testing.T, r *Repo, debs ...string) {
	t.Helper()
	if err := r.Publish(context.Background(), debs, Options{Date: testDate}); err != nil {
		t.Fatal(err)
	}
}

// scrub replaces what depends on dpkg-deb's exact output (checksums and
// sizes of the .debs, and through them of the indexes) so the golden files
// keep testing the format on any dpkg version. The tests that compare
// repositories with each other compare the raw bytes.
func scrub(b []byte) []byte {
	s := regexp.MustCompile(`(?m)^Size: \d+$`).ReplaceAllString(string(b), "Size: @SIZE@")
	s = regexp.MustCompile(`(?m)^ ([0-9a-f]+) +\d+ `).ReplaceAllString(s, " $1 @SIZE@ ")
	for _, h := range []struct {
		n    int
		name string
	}{{64, "@SHA256@"}, {40, "@SHA1@"}, {32, "@MD5@"}} {
		s = regexp.MustCompile(fmt.Sprintf(`\b[0-9a-f]{%d}\b`, h.n)).ReplaceAllString(s, h.name)
	}
	return []byte(s)
}

func TestOpenSkeletonGolden(t *testing.T) {
	r := open(t, "amd64")
	got := readDists(t, r)
	for _, f := range distsFiles {
		if strings.HasSuffix(f, "/Packages") && len(got[f]) != 0 {
			t.Errorf("%s of a new repository: %q, want empty", f, got[f])
		}
	}
	golden(t, "skeleton-Release", got["stx/Release"])
	if err := r.Verify(); err != nil {
		t.Error(err)
	}
	if es, err := r.Packages(); err != nil || len(es) != 0 {
		t.Errorf("Packages() = %v, %v; want none", es, err)
	}
	// Opening again changes nothing.
	if _, err := Open(r.Dir(), "amd64"); err != nil {
		t.Fatal(err)
	}
	if again := readDists(t, r); !bytes.Equal(again["stx/Release"], got["stx/Release"]) {
		t.Error("reopening rewrote the index")
	}
	if _, err := Open(r.Dir(), "arm64"); err == nil {
		t.Error("opening an amd64 repository as arm64 succeeded")
	}
	if _, err := Open(t.TempDir(), "all"); err == nil {
		t.Error(`Open(dir, "all") succeeded`)
	}
}

// TestPublishGolden publishes the same packages in different orders, in
// one call and in two, with different input mtimes: the indexes are
// byte-identical and match the golden files.
func TestPublishGolden(t *testing.T) {
	all := []pkg{libstx1, libstxDev, stxData, stxInstaller, stxToolArm64}
	debs := buildDebs(t, "none", all...)
	reversed := slices.Clone(debs)
	slices.Reverse(reversed)

	a := open(t, "amd64")
	publish(t, a, debs...)
	for i, d := range debs { // the inputs' mtimes must not matter
		tm := time.Unix(int64(1e9+i*1000), 0)
		if err := os.Chtimes(d, tm, tm); err != nil {
			t.Fatal(err)
		}
	}
	b := open(t, "amd64")
	publish(t, b, reversed...)
	c := open(t, "amd64")
	publish(t, c, debs[3], debs[1])
	publish(t, c, debs[0], debs[2], debs[4], debs[1])

	want := readDists(t, a)
	for name, r := range map[string]*Repo{"reversed": b, "two publishes": c} {
		got := readDists(t, r)
		for _, f := range distsFiles {
			if !bytes.Equal(got[f], want[f]) {
				t.Errorf("%s: %s differs:\n%s\n--- want\n%s", name, f, got[f], want[f])
			}
		}
	}

	golden(t, "Packages", scrub(want["stx/main/binary-amd64/Packages"]))
	golden(t, "Packages-udeb", scrub(want["stx/main/debian-installer/binary-amd64/Packages"]))
	golden(t, "Release", scrub(want["stx/Release"]))

	for _, f := range []string{"stx/main/binary-amd64/Packages", "stx/main/debian-installer/binary-amd64/Packages"} {
		zr, err := gzip.NewReader(bytes.NewReader(want[f+".gz"]))
		if err != nil {
			t.Fatal(err)
		}
		if zr.Name != "" || !zr.ModTime.IsZero() {
			t.Errorf("%s.gz: header has name %q, mtime %v; want neither", f, zr.Name, zr.ModTime)
		}
		unz, err := io.ReadAll(zr)
		if err != nil || !bytes.Equal(unz, want[f]) {
			t.Errorf("%s.gz does not decompress to %s (%v)", f, f, err)
		}
	}

	wantPool := []string{
		"pool/main/libs/libstx/libstx-dev_1.0-1_amd64.deb",
		"pool/main/libs/libstx/libstx1_1.0-1_amd64.deb",
		"pool/main/s/stx-tools/stx-data_1.2-1_all.deb",
		"pool/main/s/stx-tools/stx-installer_1.2-1_amd64.udeb",
	}
	if got := poolFiles(t, a); !slices.Equal(got, wantPool) {
		t.Errorf("pool holds %q, want %q", got, wantPool)
	}
	if err := a.Verify(); err != nil {
		t.Error(err)
	}

	entries, err := a.Packages()
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		pkg, ver, arch, src, file string
		udeb                      bool
	}
	wantRows := []row{
		{"libstx-dev", "1.0-1", "amd64", "libstx", wantPool[0], false},
		{"libstx1", "1.0-1", "amd64", "libstx", wantPool[1], false},
		{"stx-data", "1:1.2-1", "all", "stx-tools", wantPool[2], false},
		{"stx-installer", "1:1.2-1", "amd64", "stx-tools", wantPool[3], true},
	}
	var gotRows []row
	for _, e := range entries {
		gotRows = append(gotRows, row{e.Package, e.Version, e.Architecture, e.Source, e.Filename, e.Udeb})
		if len(e.SHA256) != 64 || e.Size <= 0 {
			t.Errorf("%s: SHA256 %q, Size %d", e.Package, e.SHA256, e.Size)
		}
	}
	if !slices.Equal(gotRows, wantRows) {
		t.Errorf("Packages() =\n%v\nwant\n%v", gotRows, wantRows)
	}

	// An arm64 repository fed the same files gets the arch-all package and
	// its own, nothing for amd64.
	arm := open(t, "arm64")
	publish(t, arm, debs...)
	wantArm := []string{
		"pool/main/s/stx-tools/stx-data_1.2-1_all.deb",
		"pool/main/s/stx-tools/stx-tool_1.2-1_arm64.deb",
	}
	if got := poolFiles(t, arm); !slices.Equal(got, wantArm) {
		t.Errorf("arm64 pool holds %q, want %q", got, wantArm)
	}
	armIdx := readDists(t, arm)
	if !bytes.Contains(armIdx["stx/Release"], []byte("\nArchitectures: arm64\n")) {
		t.Errorf("arm64 Release:\n%s", armIdx["stx/Release"])
	}
}

func TestPublishReplaces(t *testing.T) {
	v1 := buildDebs(t, "xz", libstx1, stxData)
	newer := libstx1
	newer.version = "1.1-1"
	v2 := buildDebs(t, "xz", newer)
	rebuilt := libstx1
	rebuilt.payload = "a rebuild with other bytes\n"
	v1b := buildDebs(t, "xz", rebuilt)

	r := open(t, "amd64")
	versions := func() map[string]string {
		t.Helper()
		es, err := r.Packages()
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for _, e := range es {
			out[e.Package] = e.Version + " " + e.SHA256
		}
		return out
	}
	sha := func(path string) string {
		t.Helper()
		b, err := readBinary(context.Background(), goControl, path)
		if err != nil {
			t.Fatal(err)
		}
		return b.SHA256
	}
	steps := []struct {
		name     string
		debs     []string
		wantVer  string // libstx1's
		wantSHA  string
		wantPool []string
	}{
		{"first", v1, "1.0-1", sha(v1[0]), []string{
			"pool/main/libs/libstx/libstx1_1.0-1_amd64.deb", "pool/main/s/stx-tools/stx-data_1.2-1_all.deb"}},
		{"newer version", v2, "1.1-1", sha(v2[0]), []string{
			"pool/main/libs/libstx/libstx1_1.1-1_amd64.deb", "pool/main/s/stx-tools/stx-data_1.2-1_all.deb"}},
		// The latest build wins, even at a lower version.
		{"older version again", v1[:1], "1.0-1", sha(v1[0]), []string{
			"pool/main/libs/libstx/libstx1_1.0-1_amd64.deb", "pool/main/s/stx-tools/stx-data_1.2-1_all.deb"}},
		{"same version, other bytes", v1b, "1.0-1", sha(v1b[0]), []string{
			"pool/main/libs/libstx/libstx1_1.0-1_amd64.deb", "pool/main/s/stx-tools/stx-data_1.2-1_all.deb"}},
		{"nothing new", nil, "1.0-1", sha(v1b[0]), []string{
			"pool/main/libs/libstx/libstx1_1.0-1_amd64.deb", "pool/main/s/stx-tools/stx-data_1.2-1_all.deb"}},
	}
	for i, s := range steps {
		publish(t, r, s.debs...)
		got := versions()
		if want := s.wantVer + " " + s.wantSHA; got["libstx1"] != want {
			t.Errorf("%s: libstx1 is %q, want %q", s.name, got["libstx1"], want)
		}
		if _, ok := got["stx-data"]; !ok {
			t.Errorf("%s: stx-data is gone", s.name)
		}
		if p := poolFiles(t, r); !slices.Equal(p, s.wantPool) {
			t.Errorf("%s: pool holds %q, want %q", s.name, p, s.wantPool)
		}
		if err := r.Verify(); err != nil {
			t.Errorf("%s: %v", s.name, err)
		}
		gen := 2 + i
		if s.debs == nil {
			gen-- // the same pool and indexes: no new generation
		}
		if tl := topLevel(t, r); !slices.Equal(tl, []string{".lock", ".pool-cache.json", "dists", fmt.Sprintf("dists.%d", gen), "pool"}) {
			t.Errorf("%s: repository holds %q", s.name, tl)
		}
	}

	// Two different builds of one package in one call are refused.
	if err := r.Publish(context.Background(), []string{v1[0], v2[0]}, Options{Date: testDate}); err == nil {
		t.Error("publishing two builds of libstx1 at once succeeded")
	}
}

func TestPublishErrors(t *testing.T) {
	debs := buildDebs(t, "none", libstx1)
	bad := filepath.Join(t.TempDir(), "bad.deb")
	if err := os.WriteFile(bad, []byte("not a deb"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		debs []string
		opts Options
		want string
	}{
		{"no date", debs, Options{}, "Options.Date is not set"},
		{"multi-line label", debs, Options{Date: testDate, Label: "a\nb"}, "spans lines"},
		{"not a deb", []string{bad}, Options{Date: testDate}, "bad.deb"},
		{"missing file", []string{filepath.Join(t.TempDir(), "missing.deb")}, Options{Date: testDate}, "missing.deb"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := open(t, "amd64")
			before := readDists(t, r)
			err := r.Publish(context.Background(), tt.debs, tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Publish: %v, want an error containing %q", err, tt.want)
			}
			if after := readDists(t, r); !bytes.Equal(after["stx/Release"], before["stx/Release"]) {
				t.Error("a failed Publish changed the index")
			}
		})
	}
}

func TestVerifyDetectsCorruption(t *testing.T) {
	debs := buildDebs(t, "none", libstx1, stxData, stxInstaller)
	const lib = "pool/main/libs/libstx/libstx1_1.0-1_amd64.deb"
	tests := []struct {
		name    string
		corrupt func(t *testing.T, dir string)
		want    string // in Verify's error
	}{
		{"flipped byte", func(t *testing.T, dir string) {
			p := filepath.Join(dir, lib)
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			data[len(data)-1] ^= 0xff
			if err := os.WriteFile(p, data, 0o644); err != nil {
				t.Fatal(err)
			}
		}, lib + ": MD5sum"},
		{"truncated", func(t *testing.T, dir string) {
			if err := os.Truncate(filepath.Join(dir, lib), 100); err != nil {
				t.Fatal(err)
			}
		}, lib + ": size 100"},
		{"missing udeb", func(t *testing.T, dir string) {
			if err := os.Remove(filepath.Join(dir, "pool/main/s/stx-tools/stx-installer_1.2-1_amd64.udeb")); err != nil {
				t.Fatal(err)
			}
		}, "stx-installer_1.2-1_amd64.udeb: open"},
		{"edited index", func(t *testing.T, dir string) {
			p := filepath.Join(dir, "dists/stx/main/binary-amd64/Packages")
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, bytes.Replace(data, []byte("Priority: optional"), []byte("Priority: required"), 1), 0o644); err != nil {
				t.Fatal(err)
			}
		}, "dists/stx/main/binary-amd64/Packages: SHA256"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := open(t, "amd64")
			publish(t, r, debs...)
			if err := r.Verify(); err != nil {
				t.Fatalf("before: %v", err)
			}
			tt.corrupt(t, r.Dir())
			err := r.Verify()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Verify: %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

// TestInterruptedPublish stops a Publish at each step as a crash would:
// the index readers see stays the old one, consistent with the pool, and
// the next Publish cleans up.
func TestInterruptedPublish(t *testing.T) {
	v1 := buildDebs(t, "none", libstx1, stxData)
	newer := libstx1
	newer.version = "1.1-1"
	v2 := buildDebs(t, "none", newer, libstxDev)
	tests := []struct {
		step string
		// what the next Publish (of nothing) indexes: a Publish that
		// fails (rather than dies) undoes what it did, so nothing of it
		// is left to index.
		afterRecovery []string
	}{
		{"stage", []string{"libstx1 1.0-1", "stx-data 1:1.2-1"}},
		{"index", []string{"libstx1 1.0-1", "stx-data 1:1.2-1"}},
		{"pool", []string{"libstx1 1.0-1", "stx-data 1:1.2-1"}},
	}
	for _, tt := range tests {
		t.Run(tt.step, func(t *testing.T) {
			r := open(t, "amd64")
			publish(t, r, v1...)
			before := readDists(t, r)
			beforeEntries, err := r.Packages()
			if err != nil {
				t.Fatal(err)
			}
			crash := errors.New("simulated crash")
			r.failAt = func(step string) error {
				if step == tt.step {
					return crash
				}
				return nil
			}
			if err := r.Publish(context.Background(), v2, Options{Date: testDate.Add(time.Hour)}); !errors.Is(err, crash) {
				t.Fatalf("Publish: %v, want the simulated crash", err)
			}
			after := readDists(t, r)
			for _, f := range distsFiles {
				if !bytes.Equal(after[f], before[f]) {
					t.Errorf("%s changed:\n%s", f, after[f])
				}
			}
			if es, err := r.Packages(); err != nil || !slices.Equal(es, beforeEntries) {
				t.Errorf("Packages() = %v, %v; want %v", es, err, beforeEntries)
			}
			if err := r.Verify(); err != nil {
				t.Errorf("the old index does not match the pool: %v", err)
			}

			r.failAt = nil
			publish(t, r)
			es, err := r.Packages()
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, e := range es {
				got = append(got, e.Package+" "+e.Version)
			}
			if !slices.Equal(got, tt.afterRecovery) {
				t.Errorf("after the next Publish: %q, want %q", got, tt.afterRecovery)
			}
			if err := r.Verify(); err != nil {
				t.Error(err)
			}
			for _, name := range append(topLevel(t, r), poolFiles(t, r)...) {
				if strings.Contains(name, "dists.new-") || strings.Contains(name, tmpPrefix) {
					t.Errorf("leftover %s", name)
				}
			}
			var gens []string
			for _, name := range topLevel(t, r) {
				if _, ok := parseGen(name); ok {
					gens = append(gens, name)
				}
			}
			if len(gens) != 1 {
				t.Errorf("generations %q, want one", gens)
			}
		})
	}
}

// TestConcurrentPublish runs Publish from two goroutines and two other
// processes at once, each with its own Repo. The lock is flock(2) on
// .lock: a lock on one open file description excludes all others, in this
// process or another, so it serializes goroutines and processes alike;
// without it the generations collide and packages get lost.
func TestConcurrentPublish(t *testing.T) {
	var pkgs []pkg
	for i := range 4 {
		pkgs = append(pkgs, pkg{name: fmt.Sprintf("stx-conc%d", i), version: "1.0-1", arch: "amd64"})
	}
	debs := buildDebs(t, "none", pkgs...)
	dir := open(t, "amd64").Dir()
	var wg sync.WaitGroup
	errs := make([]error, len(debs))
	for i, d := range debs {
		if i%2 == 1 { // in a process of its own: this test binary, as TestPublishHelper
			wg.Go(func() {
				cmd := exec.Command(os.Args[0], "-test.run=^TestPublishHelper$", "-test.count=1")
				cmd.Env = append(os.Environ(), helperEnv+"="+dir+"\n"+d)
				if out, err := cmd.CombinedOutput(); err != nil {
					errs[i] = fmt.Errorf("helper process: %v\n%s", err, out)
				}
			})
			continue
		}
		wg.Go(func() {
			r, err := Open(dir, "amd64")
			if err == nil {
				err = r.Publish(context.Background(), []string{d}, Options{Date: testDate})
			}
			errs[i] = err
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	r, err := Open(dir, "amd64")
	if err != nil {
		t.Fatal(err)
	}
	es, err := r.Packages()
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != len(debs) {
		t.Errorf("index lists %d packages, want %d: %v", len(es), len(debs), es)
	}
	if err := r.Verify(); err != nil {
		t.Error(err)
	}
	if tl := topLevel(t, r); !slices.Equal(tl, []string{".lock", ".pool-cache.json", "dists", fmt.Sprintf("dists.%d", 1+len(debs)), "pool"}) {
		t.Errorf("repository holds %q", tl)
	}

	// A waiting Publish gives up when its context ends.
	unlock, err := r.lock(context.Background(), lockExclusive)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := r.Publish(ctx, nil, Options{Date: testDate}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Publish while locked: %v, want the context's deadline", err)
	}
}

// helperEnv tells TestPublishHelper what to publish: "<repo dir>\n<deb>".
const helperEnv = "STX_REPO_TEST_PUBLISH"

// TestPublishHelper is the other process of TestConcurrentPublish; it does
// nothing in a normal run.
func TestPublishHelper(t *testing.T) {
	spec := os.Getenv(helperEnv)
	if spec == "" {
		t.Skip("helper process of TestConcurrentPublish")
	}
	dir, deb, _ := strings.Cut(spec, "\n")
	r, err := Open(dir, "amd64")
	if err != nil {
		t.Fatal(err)
	}
	publish(t, r, deb)
}

// TestRepublishUnchanged: publishing debs the repository holds already,
// byte for byte, reads no control file (of them or of the pool, also
// after the pool files were hard-linked elsewhere), writes no generation and leaves
// every index byte as it was (a no-op rebuild republishes everything it
// restores).
func TestRepublishUnchanged(t *testing.T) {
	debs := buildDebs(t, "xz", libstx1, stxData)
	r := open(t, "amd64")
	publish(t, r, debs...)
	before := topLevel(t, r)
	release, err := os.ReadFile(r.path(distsLink, suite, "Release"))
	if err != nil {
		t.Fatal(err)
	}
	reads := 0
	r.readControl = func(ctx context.Context, path string) ([]byte, error) {
		reads++
		return goControl(ctx, path)
	}
	// A hard link to each pool file (a build snapshot, buildrun) changes
	// its ctime, not its bytes.
	snap := t.TempDir()
	for i, f := range poolFiles(t, r) {
		if err := os.Link(r.path(f), filepath.Join(snap, fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	publish(t, r, debs...)
	if reads != 0 {
		t.Errorf("republishing read %d control files, want 0", reads)
	}
	if after := topLevel(t, r); !slices.Equal(after, before) {
		t.Errorf("republishing changed the repository from %q to %q", before, after)
	}
	again, err := os.ReadFile(r.path(distsLink, suite, "Release"))
	if err != nil || !bytes.Equal(again, release) {
		t.Errorf("Release changed (%v)", err)
	}
	// Other options are another index: a new generation.
	if err := r.Publish(context.Background(), debs, Options{Date: testDate.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if after := topLevel(t, r); slices.Equal(after, before) {
		t.Error("a new Release date wrote no new generation")
	}
	if err := r.Verify(); err != nil {
		t.Error(err)
	}
}

// TestFailedPublishLeavesNothing: a Publish that fails after its files
// reached the pool (here at the last step before the swap) puts back a
// file it replaced in place and removes the ones it added, so the next
// Publish indexes nothing of it; and one that runs out of space (a tiny
// tmpfs as the repository) leaves no file of it behind (issue 21, item 4).
func TestFailedPublishLeavesNothing(t *testing.T) {
	t.Run("pool", func(t *testing.T) {
		v1 := buildDebs(t, "none", libstx1, stxData)
		rebuilt := libstx1
		rebuilt.payload = "a rebuild with other bytes\n"
		v1b := buildDebs(t, "none", rebuilt, libstxDev)
		r := open(t, "amd64")
		publish(t, r, v1...)
		before, err := r.Packages()
		if err != nil {
			t.Fatal(err)
		}
		full := errors.New("no space left on device (simulated)")
		r.failAt = func(step string) error {
			if step == "pool" {
				return full
			}
			return nil
		}
		if err := r.Publish(context.Background(), v1b, Options{Date: testDate}); !errors.Is(err, full) {
			t.Fatalf("Publish: %v, want the simulated failure", err)
		}
		r.failAt = nil
		publish(t, r)
		if after, err := r.Packages(); err != nil || !slices.Equal(after, before) {
			t.Errorf("after a failed Publish and an empty one: %v, %v; want %v", after, err, before)
		}
		if err := r.Verify(); err != nil {
			t.Error(err)
		}
		if p := poolFiles(t, r); len(p) != 2 {
			t.Errorf("pool holds %q", p)
		}
	})
	t.Run("full", func(t *testing.T) {
		if os.Geteuid() != 0 {
			t.Skip("mounts a tmpfs: needs root")
		}
		mnt := t.TempDir()
		if err := syscall.Mount("tmpfs", mnt, "tmpfs", 0, "size=256k"); err != nil {
			t.Skipf("mount tmpfs: %v", err)
		}
		t.Cleanup(func() { syscall.Unmount(mnt, syscall.MNT_DETACH) })
		r, err := Open(filepath.Join(mnt, "repo"), "amd64")
		if err != nil {
			t.Fatal(err)
		}
		small := buildDebs(t, "none", stxData)
		if err := r.Publish(context.Background(), small, Options{Date: testDate}); err != nil {
			t.Fatal(err)
		}
		before, _ := r.Packages()
		big := libstx1
		big.payload = strings.Repeat("incompressible? no: none compression\n", 20000) // ~700 KiB
		debs := buildDebs(t, "none", big)
		err = r.Publish(context.Background(), debs, Options{Date: testDate})
		if !errors.Is(err, syscall.ENOSPC) {
			t.Fatalf("Publish into a full tmpfs: %v, want ENOSPC", err)
		}
		if after, err := r.Packages(); err != nil || !slices.Equal(after, before) {
			t.Errorf("after the failed Publish: %v, %v; want %v", after, err, before)
		}
		if p := poolFiles(t, r); !slices.Equal(p, []string{"pool/main/s/stx-tools/stx-data_1.2-1_all.deb"}) {
			t.Errorf("pool holds %q", p)
		}
		for _, name := range topLevel(t, r) {
			if strings.HasPrefix(name, newGenPfx) {
				t.Errorf("leftover %s", name)
			}
		}
	})
}

// Options.Codename names another suite in Release (a locked archive
// holding bookworm's packages); the Suite, which sources lines name,
// stays "stx", and a Codename spanning lines is refused.
func TestPublishCodename(t *testing.T) {
	r := open(t, "amd64")
	debs := buildDebs(t, "none", stxData)
	if err := r.Publish(context.Background(), debs, Options{Date: testDate, Codename: "bookworm"}); err != nil {
		t.Fatal(err)
	}
	rel := readDists(t, r)["stx/Release"]
	if !bytes.Contains(rel, []byte("\nSuite: stx\nCodename: bookworm\n")) {
		t.Errorf("Release:\n%s", rel)
	}
	if err := r.Publish(context.Background(), debs, Options{Date: testDate, Codename: "a\nb"}); err == nil {
		t.Error("a Codename spanning lines accepted")
	}
}
