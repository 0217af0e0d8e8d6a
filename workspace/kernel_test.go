package workspace

import (
	"slices"
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
