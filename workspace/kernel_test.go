package workspace

import (
	"slices"
	"testing"

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
