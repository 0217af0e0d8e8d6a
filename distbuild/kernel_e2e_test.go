package distbuild_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stx-build/stx-build/distbuild"
	"github.com/stx-build/stx-build/ramdisk"
	"github.com/stx-build/stx-build/workspace"
)

// TestKernelE2E builds examples/kernel (Linux 6.1 from the tarball Debian
// ships in linux-source-6.1, tinyconfig plus arch/<arch>/kernel/qemu.config)
// for amd64 on tmpfs and cross for arm64, then amd64 again from a second
// checkout on disk, and checks the packages and that the two amd64
// linux-image packages are bit-identical. Minutes of compiling: it runs
// only with STX_E2E=1 (make e2e).
func TestKernelE2E(t *testing.T) {
	if os.Getenv("STX_E2E") == "" {
		t.Skip("builds a kernel three times (tens of minutes): set STX_E2E=1 (make e2e)")
	}
	needBuildHost(t)
	one := copyKernelProject(t, filepath.Join(t.TempDir(), "checkout-one"))
	two := copyKernelProject(t, filepath.Join(t.TempDir(), "a", "longer", "checkout-two"))
	tarball, sha, debVersion := kernelTarball(t)
	upstream, _, _ := strings.Cut(debVersion, "-")
	version, release := upstream+"-1stx1", upstream+"-stx"
	for _, dir := range []string{one, two} {
		pinKernel(t, dir, tarball, sha, version)
	}

	res, _, err := build(t, one, distbuild.Options{Archs: []string{"amd64", "arm64"}, Jobs: 1})
	if err != nil {
		t.Fatal(err)
	}
	logBuilds(t, res)
	debs := func(dir, arch string) string {
		return filepath.Join(dir, "out", arch, "debs", "linux_"+version)
	}
	for _, arch := range []string{"amd64", "arm64"} {
		image := filepath.Join(debs(one, arch), fmt.Sprintf("linux-image-%s_%s_%s.deb", release, version, arch))
		info, err := exec.Command("dpkg-deb", "-I", image).CombinedOutput()
		if err != nil {
			t.Fatalf("dpkg-deb -I %s: %v\n%s", image, err, info)
		}
		t.Logf("dpkg-deb -I %s:\n%s", filepath.Base(image), info)
		if got := debField(t, image, "Architecture"); got != arch {
			t.Errorf("%s: Architecture %q, want %q", image, got, arch)
		}
		if got := debField(t, image, "Package"); got != "linux-image-"+release {
			t.Errorf("%s: Package %q", image, got)
		}
		list, err := exec.Command("dpkg-deb", "-c", image).Output()
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(list), "./boot/vmlinuz-"+release) {
			t.Errorf("%s has no /boot/vmlinuz-%s:\n%s", image, release, list)
		}
		for _, other := range []string{"linux-headers-" + release, "linux-libc-dev"} {
			if m, _ := filepath.Glob(filepath.Join(debs(one, arch), other+"_*.deb")); len(m) != 1 {
				t.Errorf("%s: no %s package", arch, other)
			}
		}
	}

	res2, _, err := build(t, two, distbuild.Options{Archs: []string{"amd64"}, Jobs: 1, NoTmpfs: true})
	if err != nil {
		t.Fatal(err)
	}
	logBuilds(t, res2)
	a, b := debDigests(t, filepath.Join(one, "out")), debDigests(t, filepath.Join(two, "out"))
	for k, v := range b {
		switch {
		case a[k] == v:
			t.Logf("%s: bit-identical (%s)", k, v[:12])
		case strings.Contains(k, "/linux-image-"):
			t.Errorf("%s differs between the builds: %s vs %s", k, short(a[k]), v[:12])
		default:
			t.Logf("%s differs between the builds: %s vs %s", k, short(a[k]), v[:12])
		}
	}
}

func logBuilds(t *testing.T, res *distbuild.Result) {
	t.Helper()
	for _, r := range res.Builds {
		t.Logf("%s %s: setup %s, build %s, total %s; build tree peak %s on tmpfs=%v (retried on disk: %v)",
			r.Package, r.Arch, r.Setup.Round(time.Second), r.Build.Round(time.Second), r.Total.Round(time.Second),
			ramdisk.FormatSize(r.PeakBytes), r.OnTmpfs, r.Retried)
	}
}

// copyKernelProject copies examples/kernel and the config fragments it
// names (by relative path) to a checkout under parent.
func copyKernelProject(t *testing.T, parent string) string {
	t.Helper()
	for _, d := range []string{"examples/kernel", "arch/amd64/kernel", "arch/arm64/kernel"} {
		if err := copyDir(filepath.Join("..", d), filepath.Join(parent, d), func(rel string) bool {
			return strings.HasSuffix(rel, ".tar.xz")
		}); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(parent, "examples", "kernel")
}

// kernelTarball downloads linux-source-6.1 through the project's private
// apt environment (cached in the test cache) and extracts its tarball.
// It returns the tarball, its sha256 and the package's Debian version.
func kernelTarball(t *testing.T) (tarball, sha, version string) {
	t.Helper()
	ctx := context.Background()
	// The kernel manifest does not load before its tarball is there: use
	// the apt environment of the example distribution (same suite and
	// architectures).
	ws, err := workspace.Open(workspace.Options{Dir: filepath.Join("..", "examples"), CacheDir: cacheDir})
	if err != nil {
		t.Fatal(err)
	}
	env, err := ws.AptEnv(ctx)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(cacheDir, "kernel-source")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := env.Command(ctx, "apt-get", "download", "linux-source-6.1")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("apt-get download linux-source-6.1: %v\n%s", err, out)
	}
	debs, _ := filepath.Glob(filepath.Join(dir, "linux-source-6.1_*_all.deb"))
	if len(debs) == 0 {
		t.Fatal("apt-get download left no linux-source-6.1 package")
	}
	pkg := debs[len(debs)-1]
	version = debField(t, pkg, "Version")
	tarball = filepath.Join(dir, "linux-source-6.1_"+version+".tar.xz")
	if _, err := os.Stat(tarball); err != nil {
		sh := fmt.Sprintf("dpkg-deb --fsys-tarfile %q | tar -xO ./usr/src/linux-source-6.1.tar.xz > %q.tmp && mv %q.tmp %q", pkg, tarball, tarball, tarball)
		if out, err := exec.Command("/bin/sh", "-ec", sh).CombinedOutput(); err != nil {
			t.Fatalf("extract the tarball: %v\n%s", err, out)
		}
	}
	out, err := exec.Command("sha256sum", tarball).Output()
	if err != nil {
		t.Fatal(err)
	}
	return tarball, strings.Fields(string(out))[0], version
}

// pinKernel links the tarball into the checkout and writes its sha256 and
// the matching version into the manifest, so the test follows the
// archive's current linux-source-6.1.
func pinKernel(t *testing.T, project, tarball, sha, version string) {
	t.Helper()
	pkgDir := filepath.Join(project, "packages", "linux")
	if err := os.Link(tarball, filepath.Join(pkgDir, "linux-source-6.1.tar.xz")); err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(pkgDir, "package.yaml")
	data, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	s := regexp.MustCompile(`sha256: [0-9a-f]{64}`).ReplaceAllString(string(data), "sha256: "+sha)
	s = regexp.MustCompile(`version: \S+`).ReplaceAllString(s, "version: "+version)
	if err := os.WriteFile(f, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}
