package image_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stx-build/stx-build/builders/image"
	"github.com/stx-build/stx-build/buildrun"
	"github.com/stx-build/stx-build/internal/netns"
	"github.com/stx-build/stx-build/rootfs"
	"github.com/stx-build/stx-build/runner"
	"github.com/stx-build/stx-build/workspace"
)

var update = flag.Bool("update", false, "rewrite testdata/golden-digest.txt from this build")

const goldenFile = "testdata/golden-digest.txt"

// exampleImage is the image the integration tests build.
const exampleImage = "stx-hello"

func TestMain(m *testing.M) {
	runner.MaybeChild() // package builds re-execute this binary as their sandbox
	flag.Parse()
	code := m.Run()
	if fix != nil && os.Getenv("STX_TEST_CACHE") == "" {
		os.RemoveAll(fix.cache)
	}
	if fix != nil {
		os.RemoveAll(fix.dir)
	}
	os.Exit(code)
}

// fixture is the example project with its packages built for amd64 and
// arm64 and the example image built twice, shared by the tests of one run.
type fixture struct {
	dir, cache string
	project    string
	builds     [2]*image.Result
	err        error
	// locked: built from examples/stx.lock.
	locked bool
}

var (
	fix     *fixture
	fixOnce sync.Once
)

func needImageHost(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds packages and images (mmdebstrap, apt, qemu-user)")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root (package sandbox, mmdebstrap --mode=root)")
	}
	for _, tool := range []string{"mmdebstrap", "update-binfmts"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed (make deps)", tool)
		}
	}
	if _, err := os.Stat("/usr/bin/qemu-aarch64-static"); err != nil {
		t.Skip("qemu-user-static not installed (make deps)")
	}
	if err := runner.NewLocal().Usable(context.Background()); err != nil {
		t.Skipf("sandbox unusable: %v", err)
	}
}

// built returns the shared fixture, building it on first use.
func built(t *testing.T) *fixture {
	t.Helper()
	needImageHost(t)
	fixOnce.Do(func() { fix = buildFixture(t) })
	if fix.err != nil {
		t.Fatalf("building the example image: %v", fix.err)
	}
	return fix
}

func buildFixture(t *testing.T) *fixture {
	f := &fixture{}
	f.cache = os.Getenv("STX_TEST_CACHE")
	var err error
	if f.cache == "" {
		if f.cache, err = os.MkdirTemp("/var/tmp", "stx-image-test-cache-"); err != nil {
			f.err = err
			return f
		}
	}
	if f.dir, err = os.MkdirTemp("/var/tmp", "stx-image-test-"); err != nil {
		f.err = err
		return f
	}
	f.project = filepath.Join(f.dir, "project")
	if err := copyDir(filepath.Join("..", "..", "examples"), f.project); err != nil {
		f.err = err
		return f
	}
	ctx := context.Background()
	ws, err := workspace.Open(workspace.Options{Dir: f.project, CacheDir: f.cache})
	if err != nil {
		f.err = err
		return f
	}
	// examples/stx.lock: the roots install the locked packages only (from
	// the package store when the archive dropped one); a locked version
	// nobody has any more fails here, saying how to refresh the lock.
	lock, err := ws.ReadLock()
	if err == nil && lock != nil {
		err = ws.UseLock(ctx, lock, false)
	}
	if err != nil {
		f.err = err
		return f
	}
	f.locked = lock != nil
	out := filepath.Join(f.dir, "out")
	start := time.Now()
	_, err = buildrun.Run(ctx, ws, buildrun.Options{Packages: []string{"stx-hello"}, OutDir: out, Status: logWriter{t}, Lock: lock})
	if err != nil {
		f.err = err
		return f
	}
	t.Logf("packages built in %s", time.Since(start).Round(time.Second))
	sel, err := image.Select(ws, []string{exampleImage}, []string{"amd64", "arm64"})
	if err != nil {
		f.err = err
		return f
	}
	// Two builds; an unlocked project installs what the archive serves at
	// the time, so when a package changed between them (a security
	// update published meanwhile) they do not have the same inputs: one
	// more build, compared with the second.
	for i := 0; i < len(f.builds)+1; i++ {
		// The project entry point, as stx-build image runs it: the
		// workspace's changelogs, epoch and work directory
		// (CACHE/image-work); the output directory differs per build.
		outDir := filepath.Join(f.dir, fmt.Sprintf("images%d", i))
		var res *image.Result
		if f.locked && i == 1 {
			// From the lock, the second build runs with no network at
			// all (issue 17's done-when): it must give the first's
			// digest, and so the golden one.
			res, err = buildImageOffline(t, imageOfflineSpec{Cache: f.cache, Project: f.project, Out: out, OutDir: outDir})
		} else {
			res, err = buildImage(ctx, ws, sel, out, outDir, logWriter{t})
		}
		if err != nil {
			f.err = err
			return f
		}
		for _, p := range res.Platforms {
			t.Logf("build %d: %s %s: %s, %.1f MiB compressed, %.1f MiB uncompressed, %s",
				i+1, res.Name, p.Platform.String(), p.Manifest, float64(p.Size)/(1<<20), float64(p.Uncompressed)/(1<<20), p.Duration.Round(time.Second))
		}
		t.Logf("build %d: index %s in %s", i+1, res.Digest, res.Duration.Round(time.Second))
		if i < len(f.builds) {
			f.builds[i] = res
			if i == 0 || slices.Equal(installed(f.builds[0]), installed(res)) {
				if i == len(f.builds)-1 {
					break
				}
				continue
			}
			if f.locked {
				f.err = fmt.Errorf("built from examples/stx.lock, yet builds 1 and %d installed other packages", i+1)
				return f
			}
			t.Logf("the archive changed between builds 1 and %d (other packages installed): one more build", i+1)
			continue
		}
		if !slices.Equal(installed(f.builds[1]), installed(res)) {
			f.err = fmt.Errorf("the archive changed between each of three builds: no two have the same inputs")
			return f
		}
		f.builds[0], f.builds[1] = f.builds[1], res
	}
	return f
}

// buildImage builds the example image from the packages in out into
// outDir, as stx-build image does.
func buildImage(ctx context.Context, ws *workspace.Workspace, sel *image.Selection, out, outDir string, status logWriter) (*image.Result, error) {
	results, err := image.BuildProject(ctx, ws, sel,
		image.WithLocalRepos(map[string]string{"amd64": filepath.Join(out, "amd64", "repo"), "arm64": filepath.Join(out, "arm64", "repo")}),
		image.WithOutDir(outDir),
		image.WithStatus(status),
	)
	if err != nil {
		return nil, err
	}
	return results[0], nil
}

// imageOfflineEnv makes TestGoldenDigest the offline image build: its
// value is an imageOfflineSpec as JSON.
const imageOfflineEnv = "STX_TEST_IMAGE_OFFLINE"

type imageOfflineSpec struct {
	Cache, Project, Out, OutDir string
}

// buildImageOffline builds the image as buildImage does, from the lock
// and the package store in spec.Cache only, by this test binary run again
// in a network namespace with no network at all (only lo).
func buildImageOffline(t *testing.T, spec imageOfflineSpec) (*image.Result, error) {
	data, err := json.Marshal(spec)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	if err := netns.Rerun("TestGoldenDigest", imageOfflineEnv+"="+string(data)); err != nil {
		return nil, err
	}
	if data, err = os.ReadFile(filepath.Join(spec.OutDir, "result.json")); err != nil {
		return nil, err
	}
	res := &image.Result{}
	if err := json.Unmarshal(data, res); err != nil {
		return nil, err
	}
	t.Logf("image built with no network in %s", time.Since(start).Round(time.Second))
	return res, nil
}

// imageOfflineChild is buildImageOffline's side in the namespace.
func imageOfflineChild(t *testing.T, specJSON string) {
	needImageHost(t)
	var spec imageOfflineSpec
	if err := json.Unmarshal([]byte(specJSON), &spec); err != nil {
		t.Fatal(err)
	}
	if err := netns.OnlyLoopback(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	ws, err := workspace.Open(workspace.Options{Dir: spec.Project, CacheDir: spec.Cache})
	if err != nil {
		t.Fatal(err)
	}
	lock, err := ws.ReadLock()
	if err == nil && lock == nil {
		err = fmt.Errorf("offline without a lock")
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := ws.UseLock(ctx, lock, true); err != nil {
		t.Fatal(err)
	}
	sel, err := image.Select(ws, []string{exampleImage}, []string{"amd64", "arm64"})
	if err != nil {
		t.Fatal(err)
	}
	res, err := buildImage(ctx, ws, sel, spec.Out, spec.OutDir, logWriter{t})
	if err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(spec.OutDir, "result.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// installed lists the packages res's platforms installed (architecture,
// name, version, and the sha256 of the project's own).
func installed(res *image.Result) []string {
	var out []string
	for _, p := range res.Platforms {
		for _, pk := range p.Packages {
			out = append(out, fmt.Sprintf("%s %s %s %s %s", p.Arch, pk.Name, pk.Version, pk.Architecture, pk.SHA256))
		}
	}
	return out
}

// golden renders what testdata/golden-digest.txt holds for a build: the
// digests, then the inputs they depend on.
func golden(ctx context.Context, res *image.Result) (digests, inputs []string, err error) {
	digests = append(digests, "index "+res.Digest.String())
	for _, p := range res.Platforms {
		digests = append(digests, fmt.Sprintf("manifest %s %s", p.Platform.String(), p.Manifest))
	}
	ver, err := rootfs.MmdebstrapVersion(ctx)
	if err != nil {
		return nil, nil, err
	}
	inputs = append(inputs, "input "+ver)
	for _, p := range res.Platforms {
		for _, pk := range p.Packages {
			line := fmt.Sprintf("input %s %s %s %s", p.Arch, pk.Name, pk.Version, pk.Architecture)
			if pk.Local {
				line += " local sha256:" + pk.SHA256
			}
			inputs = append(inputs, line)
		}
	}
	return digests, inputs, nil
}

const goldenHeader = `# Golden digests of examples/images/stx-hello.yaml built for amd64 and arm64
# (TestGoldenDigest in builders/image). They hold for the inputs listed
# below: the mmdebstrap version, every package installed (the archive's
# versions at the time) and the sha256 of the project's own .debs. When the
# inputs differ, the test only checks that two builds agree and says so.
# Regenerate: make golden (go test ./builders/image -run Golden -update).
`

// Two builds of the example image give the same index digest, and it is
// the committed one when the inputs are the committed ones.
func TestGoldenDigest(t *testing.T) {
	if spec := os.Getenv(imageOfflineEnv); spec != "" {
		imageOfflineChild(t, spec)
		return
	}
	f := built(t)
	a, b := f.builds[0], f.builds[1]
	if a.Digest != b.Digest {
		for i := range a.Platforms {
			t.Logf("%s: %s vs %s", a.Platforms[i].Arch, a.Platforms[i].Manifest, b.Platforms[i].Manifest)
		}
		t.Fatalf("two builds of the same inputs differ: %s vs %s", a.Digest, b.Digest)
	}
	digests, inputs, err := golden(context.Background(), a)
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		content := goldenHeader + strings.Join(digests, "\n") + "\n" + strings.Join(inputs, "\n") + "\n"
		if err := os.WriteFile(goldenFile, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s: %s", goldenFile, a.Digest)
		return
	}
	data, err := os.ReadFile(goldenFile)
	if err != nil {
		t.Fatalf("%v (make golden writes it)", err)
	}
	var wantDigests, wantInputs []string
	s := bufio.NewScanner(bytes.NewReader(data))
	for s.Scan() {
		switch l := s.Text(); {
		case strings.HasPrefix(l, "input "):
			wantInputs = append(wantInputs, l)
		case strings.HasPrefix(l, "index "), strings.HasPrefix(l, "manifest "):
			wantDigests = append(wantDigests, l)
		}
	}
	if !slices.Equal(inputs, wantInputs) {
		var diff []string
		for _, l := range inputs {
			if !slices.Contains(wantInputs, l) {
				diff = append(diff, "+ "+l)
			}
		}
		for _, l := range wantInputs {
			if !slices.Contains(inputs, l) {
				diff = append(diff, "- "+l)
			}
		}
		if len(diff) > 20 {
			diff = append(diff[:20], "...")
		}
		if f.locked {
			t.Fatalf("built from examples/stx.lock, but the inputs differ from %s: make golden after changing the lock:\n%s", goldenFile, strings.Join(diff, "\n"))
		}
		t.Skipf("two builds agree (%s), but the inputs differ from %s, so its digest does not apply; regenerate with make golden:\n%s",
			a.Digest, goldenFile, strings.Join(diff, "\n"))
	}
	if !slices.Equal(digests, wantDigests) {
		t.Errorf("same inputs as %s, other digests:\n got %s\nwant %s", goldenFile, strings.Join(digests, "\n     "), strings.Join(wantDigests, "\n     "))
	}
}

// podman (from Debian) runs the amd64 image, loaded from a docker archive
// and straight from the OCI layout, and stx-hello prints its version.
func TestRunWithPodman(t *testing.T) {
	f := built(t)
	if _, err := exec.LookPath("podman"); err != nil {
		t.Skip("podman not installed (make deps)")
	}
	res := f.builds[0]
	dir := t.TempDir()
	archive := filepath.Join(dir, "stx-hello.tar")
	const tag = "localhost/stx-hello:latest"
	if err := image.WriteDockerArchive(res.Layout, "amd64", archive, tag); err != nil {
		t.Fatal(err)
	}
	// A private store, so nothing of the host's podman state is touched.
	global := []string{"--root", filepath.Join(dir, "storage"), "--runroot", filepath.Join(dir, "run"),
		"--storage-driver", "vfs", "--cgroup-manager", "cgroupfs", "--events-backend", "file"}
	// crun refuses hosts with hybrid cgroups; runc copes.
	if _, err := exec.LookPath("runc"); err == nil {
		global = append(global, "--runtime", "runc")
	}
	podman := func(args ...string) (string, error) {
		cmd := exec.Command("podman", append(slices.Clone(global), args...)...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		return out.String(), err
	}
	// Podman's default rlimits may exceed what the test process may set.
	run := []string{"run", "--rm", "--network", "none", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"}
	if out, err := podman("load", "-i", archive); err != nil || !strings.Contains(out, tag) {
		t.Fatalf("podman load: %v\n%s", err, out)
	}
	const want = "stx-hello 1.0 (libstx 1.0)"
	for _, ref := range []string{tag, "oci:" + res.Layout + ":" + image.LayoutTag} {
		out, err := podman(append(slices.Clone(run), ref, "--version")...)
		if err != nil {
			t.Fatalf("podman run %s: %v\n%s", ref, err, out)
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if got := lines[len(lines)-1]; got != want {
			t.Errorf("podman run %s --version printed %q, want %q", ref, got, want)
		}
	}
	out, err := podman(append(slices.Clone(run), "--entrypoint", "/usr/bin/id", tag)...)
	if err != nil || !strings.Contains(out, "uid=65534(nobody)") {
		t.Errorf("the image's user: %v\n%s", err, out)
	}
}

// skopeo accepts the OCI layout for both architectures, and the image
// pushed to a local registry (Debian's docker-registry).
func TestSkopeoAndRegistry(t *testing.T) {
	f := built(t)
	for _, tool := range []string{"skopeo", "docker-registry"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed (make deps)", tool)
		}
	}
	res := f.builds[0]
	skopeo := func(args ...string) map[string]any {
		t.Helper()
		out, err := exec.Command("skopeo", args...).CombinedOutput()
		if err != nil {
			t.Fatalf("skopeo %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		var v map[string]any
		if err := json.Unmarshal(out, &v); err != nil {
			t.Fatalf("skopeo %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return v
	}
	layoutRef := "oci:" + res.Layout + ":" + image.LayoutTag
	for _, arch := range []string{"amd64", "arm64"} {
		v := skopeo("inspect", "--override-arch", arch, "--override-os", "linux", layoutRef)
		if v["Architecture"] != arch || v["Digest"] != res.Digest.String() {
			t.Errorf("skopeo inspect %s (%s): %v", layoutRef, arch, v)
		}
	}

	addr := startRegistry(t)
	ref := addr + "/stx/stx-hello:test"
	d, err := image.Push(context.Background(), res.Layout, ref)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("pushed %s", d)
	v := skopeo("inspect", "--tls-verify=false", "docker://"+ref)
	if v["Digest"] != res.Digest.String() || v["Architecture"] != "amd64" {
		t.Errorf("skopeo inspect docker://%s: %v", ref, v)
	}
	raw := skopeo("inspect", "--raw", "--tls-verify=false", "docker://"+ref)
	if n := len(raw["manifests"].([]any)); n != 4 {
		t.Errorf("pushed index has %d manifests, want 2 images + 2 SBOMs", n)
	}
}

// startRegistry runs Debian's docker-registry on a free loopback port with
// its storage in a temporary directory, and stops it (by PID) at the end.
func startRegistry(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	dir := t.TempDir()
	config := fmt.Sprintf("version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: %s\n", filepath.Join(dir, "data"), addr)
	cfgFile := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(cfgFile, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("docker-registry", "serve", cfgFile)
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	for i := 0; ; i++ {
		resp, err := http.Get("http://" + addr + "/v2/")
		if err == nil {
			resp.Body.Close()
			break
		}
		if i == 100 {
			t.Fatalf("docker-registry did not start: %v\n%s", err, log.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	return addr
}

type logWriter struct{ t *testing.T }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// copyDir copies the example project, without outputs.
func copyDir(src, dst string) error {
	return filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if rel == "out" {
			return filepath.SkipDir
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
