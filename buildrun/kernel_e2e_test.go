package buildrun_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stx-build/stx-build/builders/iso"
	"github.com/stx-build/stx-build/builders/iso/bootcheck"
	"github.com/stx-build/stx-build/buildrun"
	"github.com/stx-build/stx-build/internal/buildkittest"
	"github.com/stx-build/stx-build/manifests"
	"github.com/stx-build/stx-build/ramdisk"
	"github.com/stx-build/stx-build/report"
	"github.com/stx-build/stx-build/workspace"
)

// TestKernelE2E builds the kernel of examples/kernel (Linux 6.1 from the
// tarball Debian ships in linux-source-6.1, tinyconfig plus
// arch/<arch>/kernel/qemu.config) for amd64 on tmpfs and cross for arm64,
// then amd64 again from a second checkout on disk, and checks the packages
// and that the two amd64 linux-image packages are bit-identical. Then it
// makes the project's live ISO for amd64, which takes that kernel, and
// boots it in qemu (BIOS from a CD-ROM, UEFI from a USB stick) until
// stx-bootmarker's line names the running kernel: ours. Minutes of
// compiling: it runs only with STX_E2E=1 (make e2e).
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
	// Both checkouts sign their modules with one key (RSA: signatures are
	// the same on every build) and build one module to sign.
	subject := writeSigningKey(t)
	for _, dir := range []string{one, two} {
		pinKernel(t, dir, tarball, sha, version)
		signKernel(t, dir)
	}

	// The project also holds the example distribution (for its ISO):
	// build the kernel alone here.
	kernelOnly := []string{"linux"}
	res, _, err := build(t, one, buildrun.Options{Archs: []string{"amd64", "arm64"}, Jobs: 1, Packages: kernelOnly})
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
			made, _ := filepath.Glob(filepath.Join(filepath.Dir(image), "*"))
			t.Fatalf("dpkg-deb -I %s: %v\n%s\nbuilt: %v", image, err, info, made)
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
		checkSignedModules(t, image, arch, subject)
		for _, other := range []string{"linux-headers-" + release, "linux-libc-dev"} {
			if m, _ := filepath.Glob(filepath.Join(debs(one, arch), other+"_*.deb")); len(m) != 1 {
				t.Errorf("%s: no %s package", arch, other)
			}
		}
	}

	res2, _, err := build(t, two, buildrun.Options{Archs: []string{"amd64"}, Jobs: 1, NoTmpfs: true, Packages: kernelOnly})
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

	noPrivateKey(t, filepath.Join(one, "out"), a)

	t.Run("iso-boot", func(t *testing.T) { bootKernelISO(t, one, release) })
}

// noPrivateKey checks that the private key is in no package of out (the
// certificate is, built into the kernel).
func noPrivateKey(t *testing.T, out string, debs map[string]string) {
	t.Helper()
	for k := range debs {
		sh := fmt.Sprintf("dpkg-deb --fsys-tarfile %q | grep -c 'PRIVATE KEY' || true", filepath.Join(out, k))
		n, err := exec.Command("/bin/sh", "-c", sh).Output()
		if err != nil {
			t.Fatal(err)
		}
		if n := strings.TrimSpace(string(n)); n != "0" {
			t.Errorf("%s holds a private key (%s matches)", k, n)
		}
	}
}

// TestKernelBuildKitE2E builds the kernel of examples/kernel for amd64,
// its modules signed with a configured key, on this machine and then on
// a buildkitd (--no-local: the tree sent to the worker and built on its
// tmpfs, the config files as an input, the key as a BuildKit secret),
// and checks that every package is bit-identical, that the worker's
// modules are signed and that no package holds the private key. Minutes
// of compiling per build: it runs only with STX_E2E=1 (make e2e).
func TestKernelBuildKitE2E(t *testing.T) {
	if os.Getenv("STX_E2E") == "" {
		t.Skip("builds a kernel twice (minutes each): set STX_E2E=1 (make e2e)")
	}
	needBuildHost(t)
	buildkittest.Bin(t)
	dir := copyKernelProject(t, filepath.Join(t.TempDir(), "checkout"))
	tarball, sha, debVersion := kernelTarball(t)
	upstream, _, _ := strings.Cut(debVersion, "-")
	version, release := upstream+"-1stx1", upstream+"-stx"
	subject := writeSigningKey(t)
	pinKernel(t, dir, tarball, sha, version)
	signKernel(t, dir)

	opts := buildrun.Options{Archs: []string{"amd64"}, Jobs: 1, Packages: []string{"linux"}}
	local := opts
	local.OutDir = filepath.Join(dir, "out-local")
	t0 := time.Now()
	res, _, err := build(t, dir, local)
	if err != nil {
		t.Fatal(err)
	}
	logBuilds(t, res)
	t.Logf("local build: %s", time.Since(t0).Round(time.Second))

	d := buildkittest.Start(t)
	use := &workerUse{}
	worker := opts
	worker.OutDir, worker.NoLocal = filepath.Join(dir, "out-buildkit"), true
	worker.Workers = []buildrun.Worker{{Addr: d.Addr, Slots: 1}}
	worker.Events = report.Multi(use, report.Text(testWriter{t}))
	t0 = time.Now()
	if res, _, err = build(t, dir, worker); err != nil {
		if data, rerr := os.ReadFile(filepath.Join(worker.OutDir, "amd64", "logs", "linux_"+version+".log")); rerr == nil {
			t.Logf("build log (tail):\n%s", lastLines(data, 80))
		}
		t.Fatal(err)
	}
	logBuilds(t, res)
	t.Logf("BuildKit build: %s; builds per worker: %v", time.Since(t0).Round(time.Second), use.started)
	if got := use.started[d.Addr]; len(got) != 1 || got[0] != "linux:amd64" {
		t.Errorf("builds on the worker: %v, want [linux:amd64]", use.started)
	}
	image := filepath.Join(worker.OutDir, "amd64", "debs", "linux_"+version, fmt.Sprintf("linux-image-%s_%s_amd64.deb", release, version))
	checkSignedModules(t, image, "amd64", subject)
	want, got := debDigests(t, local.OutDir), debDigests(t, worker.OutDir)
	noPrivateKey(t, worker.OutDir, got)
	compareDebs(t, "the kernel built on BuildKit", want, got)
}

// bootKernelISO builds the project's live ISO for amd64 (the kernel is
// already in its repository) and boots it until stx-bootmarker's line
// shows the kernel release the system runs.
func bootKernelISO(t *testing.T, project, release string) {
	for _, tool := range []string{"mksquashfs", "xorriso", "grub-mkimage", "mkfs.fat", "mcopy", "qemu-system-x86_64"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not installed (scripts/install-deps.sh; make e2e installs it)", tool)
		}
	}
	ctx := context.Background()
	if _, _, err := build(t, project, buildrun.Options{Archs: []string{"amd64"}, Packages: []string{"stx-bootmarker"}}); err != nil {
		t.Fatal(err)
	}
	ws, err := workspace.Open(workspace.Options{Dir: project, CacheDir: cacheDir})
	if err != nil {
		t.Fatal(err)
	}
	m, err := manifests.LoadISO(ws.Project)
	if err != nil || m == nil {
		t.Fatalf("iso.yaml: %v", err)
	}
	env, err := ws.AptEnv(ctx)
	if err != nil {
		t.Fatal(err)
	}
	epoch, err := iso.ProjectEpoch(ws.Project)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(project, "out")
	r, err := iso.Build(ctx, iso.Options{
		Project: ws.Project, Manifest: m, Arch: "amd64",
		LocalRepo: filepath.Join(out, "amd64", "repo"),
		Output:    filepath.Join(out, "iso", "example-kernel-amd64.iso"),
		WorkDir:   filepath.Join(cacheDir, "iso-work"), Epoch: epoch,
		Boot: iso.AptDownloader{Env: env}, Status: testWriter{t},
	})
	if err != nil {
		t.Fatal(err)
	}
	var steps []string
	for _, s := range r.Steps {
		steps = append(steps, fmt.Sprintf("%s %s", strings.SplitN(s.Name, " ", 2)[0], s.Duration.Round(100*time.Millisecond)))
	}
	t.Logf("iso: %s %.1f MiB sha256 %s in %s (%s); kernel %s %s (local %v); initramfs %d KiB, modules %v, not in the kernel %v",
		r.ISO, float64(r.Size)/(1<<20), r.SHA256, r.Total().Round(time.Second), strings.Join(steps, ", "),
		r.KernelPackage, r.KernelVersion, r.KernelLocal, r.InitrdSize>>10, r.Modules, r.MissingModules)
	if !r.KernelLocal || r.KernelPackage != "linux-image-"+release || r.KernelVersion != release {
		t.Fatalf("the ISO has kernel %s %s (local %v), want the project's linux-image-%s", r.KernelPackage, r.KernelVersion, r.KernelLocal, release)
	}

	prof, err := iso.Profile("amd64")
	if err != nil {
		t.Fatal(err)
	}
	expect := "STX-BOOT-MARKER: stx-build example booted, kernel " + release
	for _, b := range []struct{ firmware, media string }{{"bios", "cdrom"}, {"uefi", "usb"}} {
		var console strings.Builder
		res, err := bootcheck.Run(ctx, bootcheck.Options{
			ISO: r.ISO, Profile: prof, Firmware: b.firmware, Media: b.media,
			Expect: expect, Timeout: 10 * time.Minute, Console: &console,
		})
		if d := os.Getenv("STX_BOOT_LOGS"); d != "" {
			os.MkdirAll(d, 0o755)
			os.WriteFile(filepath.Join(d, fmt.Sprintf("boot-kernel-amd64-%s-%s.log", b.firmware, b.media)), []byte(console.String()), 0o644)
		}
		if err != nil {
			t.Errorf("boot %s %s: %v", b.firmware, b.media, err)
			continue
		}
		t.Logf("boot amd64 %s %s (%s): %q after %s", b.firmware, b.media, res.Accel, strings.TrimSpace(res.Line), res.Elapsed.Round(100*time.Millisecond))
		if !strings.Contains(console.String(), "Linux version "+release+" ") {
			t.Errorf("boot %s %s: the console has no \"Linux version %s\"", b.firmware, b.media, release)
		}
	}
}

func logBuilds(t *testing.T, res *buildrun.Result) {
	t.Helper()
	for _, r := range res.Builds {
		t.Logf("%s %s: setup %s, build %s, total %s; build tree peak %s on tmpfs=%v (retried on disk: %v)",
			r.Package, r.Arch, r.Setup.Round(time.Second), r.Build.Round(time.Second), r.Total.Round(time.Second),
			ramdisk.FormatSize(r.PeakBytes), r.OnTmpfs, r.Retried)
	}
}

// writeSigningKey makes an RSA module signing key and its certificate in
// one PEM file, and names it in $STX_E2E_MODULE_SIGNING_KEY (the manifests
// take it from there). It returns the certificate's common name.
func writeSigningKey(t *testing.T) string {
	t.Helper()
	const cn = "stx-build e2e module signing"
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Unix(0, 0),
		NotAfter:     time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
	}
	cert, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	data := append(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert})...)
	file := filepath.Join(t.TempDir(), "signing.pem")
	if err := os.WriteFile(file, data, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("STX_E2E_MODULE_SIGNING_KEY", file)
	return cn
}

// signKernel turns module signing on in a checkout's kernel manifest and
// adds a fragment that builds one module (cramfs), so there is one to sign.
func signKernel(t *testing.T, project string) {
	t.Helper()
	pkgDir := filepath.Join(project, "packages", "linux")
	if err := os.WriteFile(filepath.Join(pkgDir, "module.config"), []byte("CONFIG_CRAMFS=m\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(pkgDir, "package.yaml")
	data, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	s := regexp.MustCompile(`(?m)^(\s+)localversion: (\S+)$`).ReplaceAllString(string(data), "${1}localversion: ${2}\n${1}module-signing-key: $${STX_E2E_MODULE_SIGNING_KEY}")
	s = strings.ReplaceAll(s, "kernel/qemu.config]", "kernel/qemu.config, module.config]")
	if !strings.Contains(s, "module-signing-key: ${STX_E2E_MODULE_SIGNING_KEY}\n") || strings.Count(s, "module.config]") != 2 {
		t.Fatalf("cannot turn module signing on in %s:\n%s", f, s)
	}
	if err := os.WriteFile(f, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

// checkSignedModules checks that the linux-image package's modules carry
// a module signature made by the configured key.
func checkSignedModules(t *testing.T, image, arch, subject string) {
	t.Helper()
	dir := t.TempDir()
	if out, err := exec.Command("dpkg-deb", "-x", image, dir).CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb -x %s: %v\n%s", image, err, out)
	}
	var mods []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".ko") {
			mods = append(mods, p)
		}
		return nil
	})
	if len(mods) == 0 {
		t.Errorf("%s: no modules", filepath.Base(image))
		return
	}
	const magic = "~Module signature appended~\n"
	for _, m := range mods {
		data, err := os.ReadFile(m)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(dir, m)
		if !strings.HasSuffix(string(data), magic) {
			t.Errorf("%s: %s is not signed", arch, rel)
			continue
		}
		out, err := exec.Command("modinfo", "-F", "signer", m).Output()
		if err != nil {
			t.Fatalf("modinfo %s: %v (kmod: scripts/install-deps.sh)", m, err)
		}
		signer := strings.TrimSpace(string(out))
		if signer != subject {
			t.Errorf("%s: %s signed by %q, want %q", arch, rel, signer, subject)
		}
		t.Logf("%s: %s signed (signer %s)", arch, rel, signer)
	}
}

// copyKernelProject copies examples/kernel, the example packages and the
// config fragments it names (by relative path) to a checkout under parent.
func copyKernelProject(t *testing.T, parent string) string {
	t.Helper()
	for _, d := range []string{"examples/kernel", "examples/packages", "arch/amd64/kernel", "arch/arm64/kernel"} {
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
	s = regexp.MustCompile(`(?m)^(\s+)version: \S+`).ReplaceAllString(s, "${1}version: "+version) // not localversion
	if err := os.WriteFile(f, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}
