package manifests

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// imageProject writes a project with no packages and the given
// images/<name>.yaml files, and loads it.
func imageProject(t *testing.T, archs string, images map[string]string) *Project {
	t.Helper()
	dir := t.TempDir()
	write := func(rel, content string) {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("stx.yaml", "name: img\nsuite: bookworm\narchitectures: "+archs+"\n")
	write("packages/.keep", "")
	for name, content := range images {
		write("images/"+name, content)
	}
	p, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadImagesValid(t *testing.T) {
	p := imageProject(t, "[amd64, arm64]", map[string]string{
		"base.yaml": "packages: [ca-certificates]\nvariant: minbase\ncleanup: [/usr/share/man]\n",
		"app.yaml": `# every field
packages: [stx-hello, "libstx1=1.0"]
base: base
architectures: [arm64]
entrypoint: [/usr/bin/stx-hello]
cmd: [--version]
env: {LANG: C.UTF-8, STX_MODE: "1"}
user: "65534:65534"
workdir: /srv
labels: {org.opencontainers.image.title: app}
ports: [8080, 53/udp, "9090/tcp"]
cleanup: ["/usr/share/doc/*/changelog*", /var/cache/*]
`,
		"notes.txt": "not an image",
	})
	images, err := LoadImages(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(images) != 2 || images[0].Name != "app" || images[1].Name != "base" {
		t.Fatalf("images: %+v", images)
	}
	app := images[0]
	want := &Image{
		Name: "app", File: filepath.Join(p.Dir, "images/app.yaml"), Display: "images/app.yaml",
		Packages: []string{"stx-hello", "libstx1=1.0"}, Base: "base", Architectures: []string{"arm64"},
		Entrypoint: []string{"/usr/bin/stx-hello"}, Cmd: []string{"--version"},
		Env: map[string]string{"LANG": "C.UTF-8", "STX_MODE": "1"}, User: "65534:65534", Workdir: "/srv",
		Labels: map[string]string{"org.opencontainers.image.title": "app"},
		Ports:  []string{"8080", "53/udp", "9090/tcp"}, Cleanup: []string{"/usr/share/doc/*/changelog*", "/var/cache/*"},
	}
	if !reflect.DeepEqual(app, want) {
		t.Errorf("app:\n got %+v\nwant %+v", app, want)
	}
	if got := app.NormalizedPorts(); !reflect.DeepEqual(got, []string{"53/udp", "8080/tcp", "9090/tcp"}) {
		t.Errorf("ports: %v", got)
	}
	if got := images[1].EffectiveVariant(); got != "minbase" {
		t.Errorf("variant: %s", got)
	}
	if got := images[1].ImageArchitectures(p); !reflect.DeepEqual(got, []string{"amd64", "arm64"}) {
		t.Errorf("base architectures: %v", got)
	}
	chain := BaseChain(images, app)
	if len(chain) != 2 || chain[0].Name != "base" || chain[1].Name != "app" {
		t.Errorf("chain: %v", chain)
	}
}

func TestLoadImagesNone(t *testing.T) {
	p := imageProject(t, "[amd64]", nil)
	images, err := LoadImages(p)
	if err != nil || images != nil {
		t.Errorf("LoadImages without images/: %v, %v", images, err)
	}
}

// Every problem in every image manifest is reported at once, with file,
// line, column and field.
func TestLoadImagesErrors(t *testing.T) {
	p := imageProject(t, "[amd64]", map[string]string{
		"Bad_Name.yaml": "packages: [a1]\n",
		"fields.yaml": `packages: [Stx_Hello, ok1, ok1]
variant: minbse
architectures: [arm64, amd46]
env: {1BAD: x}
workdir: srv
ports: [http, 70000, 80, 80/tcp]
cleanup: [usr/share/man, /, /usr/../etc, "/a/[", /usr/share/man/, /x, /x]
user: "a b"
entrypoint: /bin/sh
`,
		"based.yaml":   "packages: [a1]\nbase: slef\n",
		"variant.yaml": "packages: [a1]\nbase: typo\nvariant: apt\n",
		"cycle1.yaml":  "packages: [a1]\nbase: cycle2\n",
		"cycle2.yaml":  "packages: [a1]\nbase: cycle1\n",
		"self.yaml":    "packages: [a1]\nbase: self\n",
		"empty.yaml":   "",
		"nopkgs.yaml":  "cmd: [x]\n",
		"typo.yaml":    "packages: [a1]\nentrypiont: [x]\n",
	})
	_, err := LoadImages(p)
	if err == nil {
		t.Fatal("no errors")
	}
	want := []string{
		`images/Bad_Name.yaml: invalid image name "Bad_Name" (from the file name): use lowercase letters and digits, separated by ".", "_" or "-"`,
		`images/based.yaml:2:7: base: no image named "slef" in images/; did you mean "self"?`,
		`images/cycle1.yaml:2:7: base: base images form a cycle: cycle1 -> cycle2 -> cycle1`,
		`images/cycle2.yaml:2:7: base: base images form a cycle: cycle2 -> cycle1 -> cycle2`,
		`images/empty.yaml: file is empty`,
		`images/fields.yaml:1:12: packages[0]: invalid package "Stx_Hello": use a binary package name, or name=version`,
		`images/fields.yaml:1:28: packages[2]: duplicate of packages[1]`,
		`images/fields.yaml:2:10: variant: unknown variant "minbse"; did you mean "minbase"?`,
		`images/fields.yaml:3:17: architectures[0]: architecture "arm64" is not built by the project (stx.yaml architectures: amd64)`,
		`images/fields.yaml:3:24: architectures[1]: unknown architecture "amd46"; did you mean "amd64"?`,
		`images/fields.yaml:4:13: env.1BAD: invalid variable name "1BAD": use letters, digits and "_", not starting with a digit`,
		`images/fields.yaml:5:10: workdir: must be an absolute path`,
		`images/fields.yaml:6:9: ports[0]: invalid port "http": use a port number with an optional /tcp, /udp or /sctp, such as 8080 or 53/udp`,
		`images/fields.yaml:6:15: ports[1]: port 70000 is out of range (1-65535)`,
		`images/fields.yaml:6:26: ports[3]: duplicate of ports[2]`,
		`images/fields.yaml:7:11: cleanup[0]: must be an absolute path in the image, such as /usr/share/man`,
		`images/fields.yaml:7:26: cleanup[1]: cannot remove the whole root`,
		`images/fields.yaml:7:29: cleanup[2]: write the path in clean form ("/etc")`,
		`images/fields.yaml:7:42: cleanup[3]: invalid pattern "/a/[": syntax error in pattern`,
		`images/fields.yaml:7:50: cleanup[4]: write the path in clean form ("/usr/share/man")`,
		`images/fields.yaml:7:71: cleanup[6]: duplicate of cleanup[5]`,
		`images/fields.yaml:8:7: user: invalid user "a b": use a name or uid, optionally with :group`,
		`images/fields.yaml:9:13: entrypoint: expected a list, got a string "/bin/sh"`,
		`images/nopkgs.yaml:1:1: packages: missing required field`,
		`images/self.yaml:2:7: base: an image cannot be its own base`,
		`images/typo.yaml:2:1: entrypiont: unknown field; did you mean "entrypoint"?`,
		`images/variant.yaml:3:10: variant: an image with a base takes the base's variant; leave variant out`,
	}
	got := strings.Split(err.Error(), "\n")
	if !reflect.DeepEqual(got, want) {
		t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// An image cannot be built for an architecture its base is not built for.
func TestLoadImagesBaseArchitectures(t *testing.T) {
	p := imageProject(t, "[amd64, arm64]", map[string]string{
		"base.yaml": "packages: [a1]\narchitectures: [amd64]\n",
		"app.yaml":  "packages: [a1]\nbase: base\n",
	})
	_, err := LoadImages(p)
	if err == nil || err.Error() != `images/app.yaml:2:7: base: the base image "base" is not built for arm64: list this image's architectures` {
		t.Errorf("got %v", err)
	}
}

// The examples in docs/images.md are real: the example image shown is the
// repository's file, the demo project's images load, and the broken one
// gives exactly the errors shown.
func TestImageDocExamples(t *testing.T) {
	files, output := docFiles(t, "../docs/images.md", "is reported in full")
	dir := t.TempDir()
	for path, text := range files {
		if strings.HasPrefix(path, "examples/") {
			real, err := os.ReadFile(filepath.Join("..", filepath.FromSlash(path)))
			if err != nil {
				t.Errorf("docs show %s: %v", path, err)
			} else if string(real) != text {
				t.Errorf("docs show %s differently from the file; copy it into docs/images.md again", path)
			}
			continue
		}
		full := filepath.Join(dir, filepath.FromSlash(path))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []string{"demo", "broken"} {
		os.MkdirAll(filepath.Join(dir, p, "packages"), 0o755)
	}
	if _, ok := files["examples/images/stx-hello.yaml"]; !ok {
		t.Error("docs/images.md does not show examples/images/stx-hello.yaml")
	}
	p, err := Load(filepath.Join(dir, "demo"))
	if err != nil {
		t.Fatal(err)
	}
	images, err := LoadImages(p)
	if err != nil {
		t.Fatalf("demo images: %v", err)
	}
	if len(images) != 2 || images[1].Base != "runtime" {
		t.Errorf("demo images: %+v", images)
	}
	p, err = Load(filepath.Join(dir, "broken"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = LoadImages(p)
	if err == nil {
		t.Fatal("broken example loaded without errors")
	}
	if got := err.Error() + "\n"; got != output {
		t.Errorf("broken example errors:\n%s\ndocs show:\n%s", got, output)
	}
}
