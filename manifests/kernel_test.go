package manifests

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// kernelProject writes a project with one package.yaml and a tarball and
// fragment file, and loads it.
func kernelProject(t *testing.T, pkgYAML string) (*Project, error) {
	t.Helper()
	dir := t.TempDir()
	for p, data := range map[string]string{
		ProjectFile:                             "name: k\nsuite: bookworm\narchitectures: [amd64, arm64]\n",
		"packages/linux/package.yaml":           pkgYAML,
		"packages/linux/linux.tar.xz":           "x",
		"packages/linux/config/qemu.config":     "CONFIG_PRINTK=y\n",
		"packages/linux/config/amd64-full.conf": "CONFIG_64BIT=y\n",
	} {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return Load(dir)
}

const kernelOK = `name: linux
source:
  kernel:
    version: 6.1.192-1stx1
    localversion: -stx
    tarball:
      file: linux.tar.xz
      sha256: 4d415b3d364834fd818270e88813e90323bbfce4f519a0e6bd4940ddcd7df693
    config:
      amd64: {base: config/amd64-full.conf, fragments: [config/qemu.config]}
      arm64: {base: tinyconfig}
`

func TestKernelValid(t *testing.T) {
	p, err := kernelProject(t, kernelOK)
	if err != nil {
		t.Fatal(err)
	}
	pkg := p.PackageList[0]
	if !pkg.IsKernel() {
		t.Fatal("not a kernel package")
	}
	k := pkg.Source.Kernel
	if got := k.KernelRelease(); got != "6.1.192-stx" {
		t.Errorf("release %q", got)
	}
	if c := k.Config["amd64"]; c.Base != "config/amd64-full.conf" || len(c.Fragments) != 1 {
		t.Errorf("amd64 config %+v", c)
	}
}

func TestKernelErrors(t *testing.T) {
	for _, tc := range []struct{ name, from, to, want string }{
		{"version", "6.1.192-1stx1", "6.1.192", "source.kernel.version: invalid version"},
		{"both", "file: linux.tar.xz", "file: linux.tar.xz\n      url: https://cdn.kernel.org/linux.tar.xz", "set only one of file or url"},
		{"nofile", "file: linux.tar.xz", "file: missing.tar.xz", `file "missing.tar.xz" does not exist`},
		{"url", "file: linux.tar.xz", "url: ftp://x/linux.tar.xz", "source.kernel.tarball.url: invalid URL"},
		{"sha", "sha256: 4d41", "sha256: XX41", "source.kernel.tarball.sha256: must be 64"},
		{"localversion", "localversion: -stx", "localversion: _STX", "source.kernel.localversion: invalid"},
		{"arch", "arm64: {base", "arm46: {base", `source.kernel.config.arm46: unknown architecture`},
		{"fragment", "[config/qemu.config]", "[config/nope.config]", "source.kernel.config.amd64.fragments[0]"},
		{"basefile", "base: tinyconfig", "base: tiny", `file "tiny" does not exist`},
		{"twosources", "name: linux\nsource:\n", "name: linux\nsource:\n  local: .\n", "set only one of local, debian or dsc (found local and kernel)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			y := strings.Replace(kernelOK, tc.from, tc.to, 1)
			if y == kernelOK {
				t.Fatalf("%q not in the manifest", tc.from)
			}
			_, err := kernelProject(t, y)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want %q", err, tc.want)
			}
		})
	}
}

// The manifest shown in docs/kernel.md is the real example.
func TestKernelDocMatchesExample(t *testing.T) {
	const name = "examples/kernel/packages/linux/package.yaml"
	doc, err := os.ReadFile("../docs/kernel.md")
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(doc), "`"+name+"`:\n\n```yaml\n")
	if !ok {
		t.Fatalf("docs/kernel.md shows no %s", name)
	}
	shown, _, _ := strings.Cut(after, "```\n")
	real, err := os.ReadFile(filepath.Join("..", name))
	if err != nil {
		t.Fatal(err)
	}
	// The file's leading comment is not shown.
	var body []string
	for _, l := range strings.SplitAfter(string(real), "\n") {
		if !strings.HasPrefix(l, "#") {
			body = append(body, l)
		}
	}
	if got := strings.Join(body, ""); got != shown {
		t.Errorf("docs/kernel.md shows %s differently from the file:\n%s\nvs\n%s", name, shown, got)
	}
}
