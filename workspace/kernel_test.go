package workspace

import (
	"context"
	"crypto/sha256"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"pault.ag/go/debian/dependency"

	"github.com/stx-build/stx-build/graph"
	"github.com/stx-build/stx-build/manifests"
)

func TestKernelSource(t *testing.T) {
	pkg := &manifests.Package{Name: "linux", File: "packages/linux/package.yaml", Source: manifests.Source{Kernel: &manifests.KernelSource{
		Version: "6.1.192-1stx1", LocalVersion: "-stx",
		Config: map[string]manifests.KernelConfig{"arm64": {Base: "tinyconfig"}, "amd64": {Base: "defconfig"}},
	}}}
	src, err := KernelSource(pkg)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, b := range src.Binaries {
		names = append(names, b.Name)
	}
	if want := []string{"linux-image-6.1.192-stx", "linux-headers-6.1.192-stx", "linux-libc-dev"}; !slices.Equal(names, want) {
		t.Errorf("binaries %v, want %v", names, want)
	}
	if !slices.Equal(src.Architectures, []string{"amd64", "arm64"}) {
		t.Errorf("architectures %v", src.Architectures)
	}
	if src.Version != "6.1.192-1stx1" || len(src.BuildDepends.Relations) != 9 {
		t.Errorf("version %s, %d build-deps", src.Version, len(src.BuildDepends.Relations))
	}
	pkg.Architectures = []string{"arm64"}
	if src, _ = KernelSource(pkg); !slices.Equal(src.Architectures, []string{"arm64"}) {
		t.Errorf("narrowed architectures %v", src.Architectures)
	}
}

// An out-of-tree module build-depending on the kernel's headers gets an
// edge to the kernel, on the native and the cross architecture.
func TestKernelHeadersEdge(t *testing.T) {
	pkg := &manifests.Package{Name: "linux", Source: manifests.Source{Kernel: &manifests.KernelSource{
		Version: "6.1.192-1stx1", LocalVersion: "-stx",
		Config: map[string]manifests.KernelConfig{"amd64": {Base: "tinyconfig"}, "arm64": {Base: "tinyconfig"}},
	}}}
	kernel, err := KernelSource(pkg)
	if err != nil {
		t.Fatal(err)
	}
	bd, err := dependency.Parse("debhelper-compat (= 13), linux-headers-6.1.192-stx")
	if err != nil {
		t.Fatal(err)
	}
	anyArch, _ := dependency.ParseArchitectures("any")
	module := graph.Source{Name: "stx-module", Version: "1.0", BuildDepends: *bd,
		Binaries: []graph.Binary{{Name: "stx-module-modules", Architectures: anyArch}}}
	for _, arch := range []string{"amd64", "arm64"} {
		g, err := graph.Compile([]graph.Source{kernel, module}, graph.Options{Arch: arch, BuildArch: "amd64"})
		if err != nil {
			t.Fatal(err)
		}
		if len(g.Edges) != 1 || g.Edges[0].From != "stx-module" || g.Edges[0].To != "linux" || g.Edges[0].Via != "linux-headers-6.1.192-stx" {
			t.Errorf("%s: edges %+v", arch, g.Edges)
		}
		if !slices.Equal(g.Order, []string{"linux", "stx-module"}) {
			t.Errorf("%s: order %v", arch, g.Order)
		}
	}
}

// Graph declares a kernel from its manifest alone: a tarball given by URL
// is not fetched (the graph of a release project shows offline). Prepare,
// which builds need, fetches it, and when it cannot, says where a copy
// of the tarball would be used instead.
func TestGraphWithoutKernelTarball(t *testing.T) {
	tarball := []byte("not really a kernel")
	sum := sha256.Sum256(tarball)
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		http.NotFound(w, r)
	}))
	defer srv.Close()

	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "stx.yaml"), "name: k\nsuite: bookworm\narchitectures: [amd64, arm64]\n")
	writeFile(t, filepath.Join(dir, "packages", "linux", "package.yaml"), fmt.Sprintf(`name: linux
source:
  kernel:
    version: 6.6.74-1stx1
    localversion: -stx
    tarball:
      url: %s/linux-6.6.74.tar.xz
      sha256: %x
    config:
      amd64: {base: tinyconfig}
`, srv.URL, sum))
	cache := t.TempDir()
	ws, err := Open(Options{Dir: dir, CacheDir: cache, HostArch: "amd64"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	g, err := ws.Graph(ctx, "amd64")
	if err != nil {
		t.Fatal(err)
	}
	if n := g.Node("linux"); n == nil || !slices.Contains(n.Binaries, "linux-image-6.6.74-stx") {
		t.Errorf("graph node %+v", n)
	}
	if n := requests.Load(); n != 0 {
		t.Errorf("Graph made %d requests for the tarball", n)
	}

	want := filepath.Join(cache, "sources", "kernel", fmt.Sprintf("%x", sum), "linux-6.6.74.tar.xz")
	_, err = ws.Prepare(ctx)
	if err == nil || !strings.Contains(err.Error(), "404") || !strings.Contains(err.Error(), "put the tarball at "+want) {
		t.Fatalf("Prepare: %v, want a 404 naming %s", err, want)
	}
	// The tarball placed there by hand is used without the network.
	writeFile(t, want, string(tarball))
	prepared, err := ws.Prepare(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if prepared[0].KernelTarball != want {
		t.Errorf("tarball %q, want %q", prepared[0].KernelTarball, want)
	}
	if n := requests.Load(); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}

// examples/kernel-release pins a kernel.org tarball that this machine
// cannot download: the project loads and its graph compiles without it,
// and the version agrees with the tarball's name.
func TestKernelReleaseExample(t *testing.T) {
	cache := t.TempDir()
	ws, err := Open(Options{Dir: filepath.Join("..", "examples", "kernel-release"), CacheDir: cache, HostArch: "amd64"})
	if err != nil {
		t.Fatal(err)
	}
	if len(ws.Project.PackageList) != 1 {
		t.Fatalf("packages %d, want the kernel only", len(ws.Project.PackageList))
	}
	k := ws.Project.PackageList[0].Source.Kernel
	if k == nil || k.Tarball.URL == "" {
		t.Fatalf("linux is not a kernel package with a tarball URL: %+v", k)
	}
	upstream, _, _ := strings.Cut(k.Version, "-")
	if base := path.Base(k.Tarball.URL); base != "linux-"+upstream+".tar.xz" {
		t.Errorf("version %s but tarball %s", k.Version, base)
	}
	if !strings.HasPrefix(upstream, "6.6.") {
		t.Errorf("version %s is not a 6.6 longterm kernel", k.Version)
	}
	for _, arch := range []string{"amd64", "arm64"} {
		g, err := ws.Graph(context.Background(), arch)
		if err != nil {
			t.Fatal(err)
		}
		n := g.Node("linux")
		if n == nil || n.Version != k.Version || !slices.Contains(n.Binaries, "linux-image-"+upstream+"-stx") {
			t.Errorf("%s: node %+v", arch, n)
		}
	}
	if _, err := os.Stat(filepath.Join(cache, "sources")); !os.IsNotExist(err) {
		t.Errorf("the graph fetched something into the cache (%v)", err)
	}
}

func writeFile(t *testing.T, name, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}
