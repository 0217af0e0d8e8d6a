package manifests

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// isoProject writes a project with stx.yaml, the given iso.yaml and extra
// files, and loads the project.
func isoProject(t *testing.T, isoYAML string, files ...string) *Project {
	t.Helper()
	dir := t.TempDir()
	write := func(p, data string) {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(ProjectFile, "name: Demo OS\nsuite: bookworm\narchitectures: [amd64, arm64]\n")
	if err := os.MkdirAll(filepath.Join(dir, "packages"), 0o755); err != nil {
		t.Fatal(err)
	}
	if isoYAML != "" {
		write(ISOFile, isoYAML)
	}
	for _, f := range files {
		write(f, "x\n")
	}
	p, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadISOExample(t *testing.T) {
	p, err := Load("../examples")
	if err != nil {
		t.Fatal(err)
	}
	m, err := LoadISO(p)
	if err != nil {
		t.Fatal(err)
	}
	if m == nil {
		t.Fatal("examples/iso.yaml not found")
	}
	if m.Label != "STX_EXAMPLE" || m.Display != "iso.yaml" {
		t.Errorf("label %q display %q", m.Label, m.Display)
	}
	if got := m.EffectiveArchitectures(p); !reflect.DeepEqual(got, []string{"amd64", "arm64"}) {
		t.Errorf("architectures %v", got)
	}
	if !reflect.DeepEqual(m.Packages, []string{"systemd-sysv", "stx-bootmarker", "stx-hello"}) {
		t.Errorf("packages %v", m.Packages)
	}
	if m.EffectiveName(p) != "example" || m.EffectiveVariant() != "apt" || m.EffectiveTimeout() != 1 || m.EffectiveCompression() != "zstd" || m.EffectiveLevel() != 9 {
		t.Errorf("defaults: name %q variant %q timeout %d compression %q", m.EffectiveName(p), m.EffectiveVariant(), m.EffectiveTimeout(), m.EffectiveCompression())
	}
	if m.KernelPackage("arm64") != "" {
		t.Errorf("kernel package %q, want unset", m.KernelPackage("arm64"))
	}
	if len(m.Files) != 2 || m.Files[0].EffectiveTarget() != ISOTargetMedium || m.Files[1].EffectiveTarget() != ISOTargetRootfs {
		t.Errorf("files %+v", m.Files)
	}
}

func TestLoadISOFull(t *testing.T) {
	p := isoProject(t, `
name: demo
label: DEMO_OS_1
architectures: [arm64]
variant: standard
packages: [systemd-sysv, "hello=2.10-3"]
kernel:
  package: linux-image-stx-{arch}
cmdline: quiet loglevel=3
timeout: 0
menu:
  - title: "Demo 'live'"
  - title: Demo (debug)
    cmdline: stx.debug systemd.log_level=debug
files:
  - {src: extra/a.txt, dest: /docs/a.txt}
  - {src: extra, dest: /opt/extra, target: rootfs}
squashfs:
  compression: xz
`, "extra/a.txt")
	m, err := LoadISO(p)
	if err != nil {
		t.Fatal(err)
	}
	if m.EffectiveName(p) != "demo" || m.KernelPackage("arm64") != "linux-image-stx-arm64" || m.EffectiveTimeout() != 0 || m.EffectiveCompression() != "xz" || m.EffectiveLevel() != 0 {
		t.Errorf("got %+v", m)
	}
	if got := m.EffectiveArchitectures(p); !reflect.DeepEqual(got, []string{"arm64"}) {
		t.Errorf("architectures %v", got)
	}
}

func TestLoadISOMissing(t *testing.T) {
	p := isoProject(t, "")
	m, err := LoadISO(p)
	if m != nil || err != nil {
		t.Errorf("LoadISO without iso.yaml = %v, %v; want nil, nil", m, err)
	}
}

func TestISOFileStem(t *testing.T) {
	for in, want := range map[string]string{"Demo OS": "Demo-OS", "example": "example", "/": "live", "a.b+c_d": "a.b+c_d"} {
		if got := isoFileStem(in); got != want {
			t.Errorf("isoFileStem(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestLoadISOErrors(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		want       []string
	}{
		{"missing label and packages", "name: x\n", []string{
			"iso.yaml:1:1: label: missing required field",
			"iso.yaml:1:1: packages: missing required field",
		}},
		{"packages-from without a tree", "label: A\npackages-from: starlingx\n", []string{
			"iso.yaml:2:16: packages-from: stx.yaml names no StarlingX tree (starlingx: root)",
		}},
		{"packages-from unknown", "label: A\npackages-from: yocto\n", []string{
			`iso.yaml:2:16: packages-from: unknown list "yocto" (the one known is "starlingx")`,
		}},
		{"unknown field", "label: A\npackages: [a1]\nlable: B\n", []string{
			`iso.yaml:3:1: lable: unknown field; did you mean "label"?`,
		}},
		{"label", "label: stx-example\npackages: [a1]\n", []string{
			`iso.yaml:1:8: label: invalid volume label "stx-example": use 1 to 32 of A-Z, 0-9 and _`,
		}},
		{"label case", "label: stx_example\npackages: [a1]\n", []string{
			`iso.yaml:1:8: label: invalid volume label "stx_example": use 1 to 32 of A-Z, 0-9 and _; did you mean "STX_EXAMPLE"?`,
		}},
		{"architectures", "label: A\npackages: [a1]\narchitectures: [amd64, arm46, amd64]\n", []string{
			`iso.yaml:3:24: architectures[1]: unknown architecture "arm46"; did you mean "arm64"?`,
			`iso.yaml:3:31: architectures[2]: duplicate architecture "amd64"`,
		}},
		{"packages", "label: A\npackages: [Bad_Name, a1, a1=2, systemd]\n", []string{
			`iso.yaml:2:12: packages[0]: invalid package "Bad_Name": use name or name=version`,
			`iso.yaml:2:26: packages[2]: package "a1" is already listed in packages[1]`,
		}},
		{"variant", "label: A\npackages: [a1]\nvariant: minbas\n", []string{
			`iso.yaml:3:10: variant: unknown variant "minbas"`,
		}},
		{"kernel", "label: A\npackages: [a1]\nkernel: {package: 'linux-{ARCH}'}\n", []string{
			`iso.yaml:3:19: kernel.package: invalid package name "linux-{ARCH}"`,
		}},
		{"cmdline", "label: A\npackages: [a1]\ncmdline: quiet init=$(reboot)\n", []string{
			`iso.yaml:3:10: cmdline: kernel argument "init=$(reboot)": use letters, digits`,
		}},
		{"stx.live", "label: A\npackages: [a1]\nmenu:\n  - title: x\n    cmdline: stx.live=B\n", []string{
			`iso.yaml:5:14: menu[0].cmdline: stx.live= is set by stx-build (from label)`,
		}},
		{"menu", "label: A\npackages: [a1]\nmenu:\n  - title: x\n  - title: x\n  - cmdline: quiet\n", []string{
			`iso.yaml:5:12: menu[1].title: same title as menu[0]`,
			`iso.yaml:6:5: menu[2].title: missing required field`,
		}},
		{"timeout", "label: A\npackages: [a1]\ntimeout: -1\n", []string{
			`iso.yaml:3:10: timeout: must be between 0 and 3600 seconds`,
		}},
		{"files", "label: A\npackages: [a1]\nfiles:\n  - {src: nope, dest: rel}\n  - {src: /etc/x, dest: /boot/x}\n  - {src: ok, dest: /ok, target: disk}\n  - {src: ok, dest: /a/../b}\n", []string{
			`iso.yaml:4:11: files[0].src: "nope" does not exist`,
			`iso.yaml:4:23: files[0].dest: must be an absolute path such as /README.txt`,
			`iso.yaml:5:11: files[1].src: must be a path relative to the project directory`,
			`iso.yaml:5:25: files[1].dest: /boot is written by stx-build; choose another path`,
			`iso.yaml:6:34: files[2].target: unknown target "disk": use medium or rootfs`,
			`iso.yaml:7:21: files[3].dest: must be a clean path to a file or directory (not "/a/../b")`,
		}},
		{"compression", "label: A\npackages: [a1]\nsquashfs: {compression: brotli}\n", []string{
			`iso.yaml:3:25: squashfs.compression: unknown compression "brotli" (use one of gzip, lz4, lzo, xz, zstd)`,
		}},
		{"level", "label: A\npackages: [a1]\nsquashfs: {level: 23}\n", []string{
			`iso.yaml:3:19: squashfs.level: zstd levels are 1 to 22`,
		}},
		{"level xz", "label: A\npackages: [a1]\nsquashfs: {compression: xz, level: 3}\n", []string{
			`iso.yaml:3:36: squashfs.level: xz has no compression levels (gzip and zstd have)`,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := isoProject(t, tc.yaml, "ok")
			_, err := LoadISO(p)
			if err == nil {
				t.Fatal("no error")
			}
			got := strings.Split(err.Error(), "\n")
			if len(got) != len(tc.want) {
				t.Fatalf("got %d problems, want %d:\n%s", len(got), len(tc.want), err)
			}
			for i, w := range tc.want {
				if !strings.HasPrefix(got[i], w) {
					t.Errorf("problem %d:\n got %s\nwant %s...", i, got[i], w)
				}
			}
		})
	}
}

func TestLoadISOArchitectureNotBuilt(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, ProjectFile), []byte("name: x\nsuite: bookworm\narchitectures: [amd64]\n"), 0o644)
	os.MkdirAll(filepath.Join(dir, "packages"), 0o755)
	os.WriteFile(filepath.Join(dir, ISOFile), []byte("label: A\npackages: [a1]\narchitectures: [arm64]\n"), 0o644)
	p, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, err = LoadISO(p)
	want := `iso.yaml:3:17: architectures[0]: architecture "arm64" is not built by the project (stx.yaml architectures: amd64)`
	if err == nil || err.Error() != want {
		t.Errorf("got %v\nwant %s", err, want)
	}
}

// The iso.yaml examples in docs/iso.md are real: examples/iso.yaml is shown
// as it is, and the demo that uses every field loads.
func TestISODocExamples(t *testing.T) {
	files, _ := docFiles(t, "../docs/iso.md", "\x00")
	shown, ok := files["examples/iso.yaml"]
	if !ok {
		t.Fatal("docs/iso.md does not show examples/iso.yaml")
	}
	real, err := os.ReadFile("../examples/iso.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if shown != string(real) {
		t.Error("docs/iso.md shows examples/iso.yaml differently from the file; copy it again")
	}
	demo, ok := files["demo/iso.yaml"]
	if !ok {
		t.Fatal("docs/iso.md has no demo/iso.yaml")
	}
	p := isoProject(t, demo, "doc/index.txt", "files/sshd.conf")
	m, err := LoadISO(p)
	if err != nil {
		t.Fatalf("demo/iso.yaml: %v", err)
	}
	if m.EffectiveName(p) != "demo-live" || len(m.Menu) != 2 || len(m.Files) != 2 || m.EffectiveLevel() != 0 {
		t.Errorf("demo: %+v", m)
	}
}
