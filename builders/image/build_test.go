package image

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/stx-build/stx-build/manifests"
	"github.com/stx-build/stx-build/rootfs"
)

// fakeAssemble makes a small root for spec: one file per package, a dpkg
// status listing them, a copyright for each, and the mtimes mmdebstrap
// would leave behind (later than the epoch, so they are clamped).
func fakeAssemble(ctx context.Context, spec rootfs.AssembleSpec, target string, log io.Writer) error {
	if _, err := os.Lstat(target); err == nil {
		return fmt.Errorf("%s exists", target)
	}
	var status strings.Builder
	pkgs := append([]string{"base-files"}, spec.Packages...)
	slices.Sort(pkgs)
	for _, p := range pkgs {
		p, _, _ = strings.Cut(p, "=")
		fmt.Fprintf(&status, "Package: %s\nStatus: install ok installed\nArchitecture: %s\nVersion: 1.0\n\n", p, spec.Arch)
		files := map[string]string{
			"usr/share/" + p + "/data":             p + " for " + spec.Arch + "\n",
			"usr/share/doc/" + p + "/copyright":    "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\nFiles: *\nLicense: MIT\n",
			"usr/share/doc/" + p + "/changelog.gz": "log",
		}
		for f, c := range files {
			full := filepath.Join(target, f)
			if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
				return err
			}
			if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
				return err
			}
		}
	}
	// Installing more packages changes a shared file, as ldconfig does.
	files := map[string]string{
		"var/lib/dpkg/status": status.String(),
		"etc/ld.so.cache":     strings.Join(pkgs, ","),
		"usr/bin/sh":          "#!fake\n",
	}
	if len(spec.Packages) < 2 {
		files["etc/only-in-small-root"] = "x"
	}
	for f, c := range files {
		full := filepath.Join(target, f)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			return err
		}
	}
	later := time.Unix(spec.Epoch, 0).Add(24 * time.Hour)
	return rootfs.ClampTimes(target, later)
}

func testProject(t *testing.T) (*manifests.Project, []*manifests.Image) {
	t.Helper()
	p := &manifests.Project{Name: "example", Suite: "bookworm", Architectures: []string{"amd64", "arm64"}}
	images := []*manifests.Image{
		{Name: "app", Display: "images/app.yaml", Packages: []string{"stx-hello"}, Base: "base",
			Entrypoint: []string{"/usr/bin/stx-hello"}, Env: map[string]string{"LANG": "C.UTF-8"},
			Labels: map[string]string{"org.opencontainers.image.title": "app"}, Ports: []string{"8080"}},
		{Name: "base", Display: "images/base.yaml", Packages: []string{"ca-certificates"}, Cmd: []string{"/bin/sh"},
			User: "nobody", Cleanup: []string{"/usr/share/doc/*/changelog*"}},
	}
	return p, images
}

func newTestBuilder(t *testing.T, out string, opts ...Option) *Builder {
	t.Helper()
	p, images := testProject(t)
	b, err := New(append([]Option{WithProject(p, images), WithOutDir(out), WithWorkDir(t.TempDir()),
		WithAssembler(fakeAssemble), WithChangelogs(map[string]time.Time{"stx-hello": testEpoch})}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The whole pipeline with a fake mmdebstrap: the same inputs give the
// same index, the layout validates, a base image's layer is reused as
// the first layer of the image on top of it.
func TestBuildPipeline(t *testing.T) {
	ctx := context.Background()
	var results []*Result
	for i := 0; i < 2; i++ {
		out := t.TempDir()
		res, err := newTestBuilder(t, out).Build(ctx, "app", nil)
		if err != nil {
			t.Fatal(err)
		}
		results = append(results, res)
	}
	r := results[0]
	if r.Digest != results[1].Digest {
		t.Fatalf("two builds differ: %s vs %s", r.Digest, results[1].Digest)
	}
	idx, err := ReadLayout(r.Layout)
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := idx.Digest(); d != r.Digest {
		t.Errorf("layout index %s, result %s", d, r.Digest)
	}
	if err := validate.Index(idx); err != nil {
		t.Errorf("validate: %v", err)
	}
	m, _ := idx.IndexManifest()
	var platforms []string
	for _, d := range m.Manifests {
		platforms = append(platforms, d.Platform.String())
		if d.ArtifactType != "" && d.ArtifactType != SPDXMediaType {
			t.Errorf("descriptor artifactType %q", d.ArtifactType)
		}
	}
	if want := []string{"linux/amd64", "linux/arm64/v8", "unknown/unknown", "unknown/unknown"}; !reflect.DeepEqual(platforms, want) {
		t.Errorf("platforms %v, want %v", platforms, want)
	}
	if m.Manifests[2].Annotations[AnnotationSBOMFor] != m.Manifests[0].Digest.String() {
		t.Errorf("sbom annotation: %v", m.Manifests[2].Annotations)
	}

	arm, err := PlatformImage(idx, "arm64")
	if err != nil {
		t.Fatal(err)
	}
	cf, _ := arm.ConfigFile()
	if cf.Architecture != "arm64" || cf.Variant != "v8" || cf.OS != "linux" || !cf.Created.Time.Equal(testEpoch) {
		t.Errorf("config platform/created: %+v", cf)
	}
	wantCfg := v1.Config{
		Entrypoint:   []string{"/usr/bin/stx-hello"}, // a new entrypoint drops the base's cmd
		Env:          []string{"PATH=" + defaultPath, "LANG=C.UTF-8"},
		User:         "nobody",
		Labels:       map[string]string{"org.opencontainers.image.title": "app"},
		ExposedPorts: map[string]struct{}{"8080/tcp": {}},
	}
	if !reflect.DeepEqual(cf.Config, wantCfg) {
		t.Errorf("config:\n got %+v\nwant %+v", cf.Config, wantCfg)
	}
	if len(cf.History) != 2 || !strings.Contains(cf.History[1].CreatedBy, "on top of base") || !cf.History[0].Created.Time.Equal(testEpoch) {
		t.Errorf("history: %+v", cf.History)
	}

	// The base built on its own has exactly the first layer of app.
	base, err := newTestBuilder(t, t.TempDir()).Build(ctx, "base", []string{"arm64"})
	if err != nil {
		t.Fatal(err)
	}
	appLayers := r.Platforms[1].Layers
	if len(appLayers) != 2 || base.Platforms[0].Layers[0].Digest != appLayers[0].Digest {
		t.Errorf("base layer not shared: base %v, app %v", base.Platforms[0].Layers, appLayers)
	}
	layers, _ := arm.Layers()
	rc, _ := layers[1].Compressed()
	tmp := filepath.Join(t.TempDir(), "diff.tar.gz")
	f, _ := os.Create(tmp)
	io.Copy(f, rc)
	f.Close()
	rc.Close()
	var diff []string
	for _, e := range readLayer(t, tmp) {
		diff = append(diff, e.Name)
	}
	for _, want := range []string{"etc/.wh.only-in-small-root", "etc/ld.so.cache", "usr/share/stx-hello/data", "var/lib/dpkg/status"} {
		if !slices.Contains(diff, want) {
			t.Errorf("diff layer lacks %s: %q", want, diff)
		}
	}
	for _, unwanted := range []string{"usr/bin/sh", "usr/share/ca-certificates/data", "usr/share/doc/stx-hello/changelog.gz"} {
		if slices.Contains(diff, unwanted) {
			t.Errorf("diff layer has %s", unwanted)
		}
	}

	// The SBOM lists what the fake dpkg status lists, with licenses.
	var doc struct {
		Packages []struct{ Name, LicenseDeclared string } `json:"packages"`
	}
	data, err := os.ReadFile(r.Platforms[0].SBOM)
	if err != nil {
		t.Fatal(err)
	}
	json.Unmarshal(data, &doc)
	if len(doc.Packages) != 4 || doc.Packages[3].Name != "stx-hello" || doc.Packages[3].LicenseDeclared != "MIT" {
		t.Errorf("sbom packages: %+v", doc.Packages)
	}
}

// A fixed SOURCE_DATE_EPOCH changes every timestamp, and so the digest.
func TestBuildSourceDateEpoch(t *testing.T) {
	ctx := context.Background()
	a, err := newTestBuilder(t, t.TempDir()).Build(ctx, "base", []string{"amd64"})
	if err != nil {
		t.Fatal(err)
	}
	later := testEpoch.Add(48 * time.Hour)
	b, err := newTestBuilder(t, t.TempDir(), WithSourceDateEpoch(later)).Build(ctx, "base", []string{"amd64"})
	if err != nil {
		t.Fatal(err)
	}
	if a.Digest == b.Digest || !b.Platforms[0].Epoch.Equal(later) {
		t.Errorf("epoch ignored: %s %s %v", a.Digest, b.Digest, b.Platforms[0].Epoch)
	}
	if _, err := newTestBuilder(t, t.TempDir()).Build(ctx, "nope", nil); err == nil {
		t.Error("unknown image built")
	}
}

// Push to an in-memory registry and read it back; write a docker archive
// and load it.
func TestPushAndDockerArchive(t *testing.T) {
	ctx := context.Background()
	out := t.TempDir()
	res, err := newTestBuilder(t, out).Build(ctx, "app", nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	ref := u.Host + "/stx/app:1.0"
	d, err := Push(ctx, res.Layout, ref)
	if err != nil {
		t.Fatal(err)
	}
	if d.DigestStr() != res.Digest.String() {
		t.Errorf("pushed %s, built %s", d, res.Digest)
	}
	r, _ := name.ParseReference(ref, name.Insecure)
	remoteIdx, err := remote.Index(r)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := remoteIdx.Digest(); got != res.Digest {
		t.Errorf("registry has %s", got)
	}
	if err := validate.Index(remoteIdx); err != nil {
		t.Errorf("validate remote: %v", err)
	}

	file := filepath.Join(t.TempDir(), "app.tar")
	if err := WriteDockerArchive(res.Layout, "amd64", file, "localhost/app:latest"); err != nil {
		t.Fatal(err)
	}
	tag, _ := name.NewTag("localhost/app:latest")
	img, err := tarball.ImageFromPath(file, &tag)
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Image(img); err != nil {
		t.Errorf("validate docker archive: %v", err)
	}
	want, _ := v1.NewHash(res.Platforms[0].Manifest.String())
	amd, _ := PlatformImage(mustIndex(t, res.Layout), "amd64")
	cfgA, _ := amd.ConfigName()
	cfgB, _ := img.ConfigName()
	if cfgA != cfgB || want != res.Platforms[0].Manifest {
		t.Errorf("docker archive config %s, layout %s", cfgB, cfgA)
	}
}

func mustIndex(t *testing.T, dir string) v1.ImageIndex {
	t.Helper()
	idx, err := ReadLayout(dir)
	if err != nil {
		t.Fatal(err)
	}
	return idx
}
