package manifests

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func abs(t *testing.T, path string) string {
	t.Helper()
	a, err := filepath.Abs(path)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestLoadValid(t *testing.T) {
	p, err := Load("testdata/valid")
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	dir := abs(t, "testdata/valid")
	no := false
	want := &Project{
		Dir:           dir,
		File:          filepath.Join(dir, "stx.yaml"),
		Name:          "example",
		Suite:         "bookworm",
		Architectures: []string{"amd64", "arm64"},
		Mirror:        "https://mirror.example/debian",
		Components:    []string{"main", "contrib"},
		Packages:      []string{"packages", "extra/*"},
		Profiles:      []string{"nocheck"},
		CycleBreaks: []CycleBreak{
			{Package: "zlib", Binary: "hello", Reason: "zlib's tests use hello", Line: 12},
			{Package: "hello", Source: "zlib", Line: 15},
		},
		Cycles: "strict",
		PackageList: []*Package{
			{
				Dir:     filepath.Join(dir, "packages/hello"),
				File:    filepath.Join(dir, "packages/hello/package.yaml"),
				Name:    "hello",
				Source:  Source{Local: "."},
				Patches: []string{"patches/fix-greeting.patch"},
				Build:   BuildOptions{Jobs: 4, Tmpfs: "512MiB", Estimate: "90s"},
			},
			{
				Dir:  filepath.Join(dir, "extra/libs/libpng1.6"),
				File: filepath.Join(dir, "extra/libs/libpng1.6/package.yaml"),
				Name: "libpng1.6",
				Source: Source{DSC: &DSCSource{
					URL:    "https://mirror.example/debian/pool/main/libp/libpng1.6/libpng1.6_1.6.39-2.dsc",
					SHA256: "5b1f2a0c5b6d0c8e4c1d7f5b2e9a3d6c8f0e1a2b3c4d5e6f708192a3b4c5d6e7",
				}},
			},
			{
				Dir:           filepath.Join(dir, "packages/zlib"),
				File:          filepath.Join(dir, "packages/zlib/package.yaml"),
				Name:          "zlib",
				Source:        Source{Debian: "zlib=1:1.2.13.dfsg-1"},
				Architectures: []string{"amd64"},
				Build: BuildOptions{
					Serial:   true,
					Nocheck:  true,
					Cross:    &no,
					Tmpfs:    "disk",
					Profiles: []string{"nobiarch", "pkg.zlib.nominizip"},
				},
			},
		},
	}
	if !reflect.DeepEqual(p, want) {
		t.Errorf("Load:\n got %s\nwant %s", dump(p), dump(want))
	}
}

func sprint(v any) string { return fmt.Sprintf("%+v", v) }

// dump shows a project with its packages, which %+v prints as pointers.
func dump(p *Project) string {
	var b strings.Builder
	q := *p
	q.PackageList = nil
	b.WriteString(strings.ReplaceAll(strings.TrimSpace(sprint(q)), "\n", " "))
	for _, pkg := range p.PackageList {
		b.WriteString("\n  " + sprint(*pkg))
		if pkg.Source.DSC != nil {
			b.WriteString(" dsc=" + sprint(*pkg.Source.DSC))
		}
		if pkg.Build.Cross != nil {
			b.WriteString(" cross=" + sprint(*pkg.Build.Cross))
		}
	}
	return b.String()
}

func TestLoadDefaults(t *testing.T) {
	p, err := Load("testdata/minimal")
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if want := []string{"packages"}; !reflect.DeepEqual(p.Packages, want) {
		t.Errorf("Packages = %q, want %q", p.Packages, want)
	}
	if want := []string{"main"}; !reflect.DeepEqual(p.Components, want) {
		t.Errorf("Components = %q, want %q", p.Components, want)
	}
	if len(p.PackageList) != 1 || p.PackageList[0].Name != "hello" {
		t.Errorf("PackageList = %v, want hello", p.PackageList)
	}
}

func TestLoadMissingProject(t *testing.T) {
	_, err := Load("testdata/does-not-exist")
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load: got %v, want an error wrapping fs.ErrNotExist", err)
	}
	var errs Errors
	if errors.As(err, &errs) {
		t.Errorf("Load: an unreadable stx.yaml should not be reported as manifest problems: %v", err)
	}
}

// Every problem in every file of a project is reported, in file and line order.
func TestLoadErrors(t *testing.T) {
	const nameRule = `use at least two lowercase letters, digits, "+", "-" or ".", starting with a letter or digit`
	tests := []struct {
		dir  string
		want []string
	}{{
		dir: "unknown-field",
		want: []string{
			`packages/hello/package.yaml:1:1: source: missing required field`,
			`packages/hello/package.yaml:2:1: sorce: unknown field; did you mean "source"?`,
			`packages/hello/package.yaml:5:3: build.job: unknown field; did you mean "jobs"?`,
			`packages/hello/package.yaml:6:3: build.paralel: unknown field`,
			`stx.yaml:1:1: suite: missing required field`,
			`stx.yaml:2:1: sufite: unknown field; did you mean "suite"?`,
			`stx.yaml:4:1: arch: unknown field; did you mean "architectures"?`,
		},
	}, {
		dir: "wrong-type",
		want: []string{
			`packages/hello/package.yaml:1:7: name: expected a string, got a list`,
			`packages/hello/package.yaml:4:10: patches: expected a list, got a string "fix.patch"`,
			`packages/hello/package.yaml:6:9: build.jobs: expected an integer, got a string "four"`,
			`packages/hello/package.yaml:7:11: build.serial: expected true or false, got a string "yes"`,
			`packages/hello/package.yaml:8:12: build.nocheck: expected true or false, got an integer "1"`,
			`packages/hello/package.yaml:9:10: build.cross: expected true or false, got a string "false"`,
			`packages/world/package.yaml:2:9: source: expected a mapping, got a string "world=1.0-1"`,
			`packages/world/package.yaml:3:8: build: expected a mapping, got a list`,
			`stx.yaml:3:16: architectures: expected a list, got a string "amd64"`,
			`stx.yaml:4:11: profiles: expected a list, got a mapping`,
		},
	}, {
		dir: "missing-required",
		want: []string{
			`packages/hello/package.yaml:4:5: source.dsc.sha256: missing required field`,
			`packages/world/package.yaml:1:1: name: must not be empty`,
			`packages/world/package.yaml:2:1: source: must not be empty`,
			`stx.yaml:1:1: name: missing required field`,
			`stx.yaml:4:5: cycle-breaks[0]: set one of binary or source`,
			`stx.yaml:5:5: cycle-breaks[1].package: missing required field`,
		},
	}, {
		dir: "duplicate-keys",
		want: []string{
			`packages/ok/package.yaml:6:3: build.jobs: duplicate field (first set on line 5)`,
			`stx.yaml:3:1: suite: duplicate field (first set on line 2)`,
		},
	}, {
		dir: "syntax",
		want: []string{
			// yaml.v3 reports the line where the construct it was reading
			// began, here the mapping before the tab.
			`packages/broken/package.yaml:3: invalid YAML: found a tab character that violates indentation`,
			`packages/empty/package.yaml: file is empty`,
			`packages/list/package.yaml:1:1: expected a mapping of fields, got a list`,
			`packages/two/package.yaml:1:1: source: missing required field`,
			`packages/two/package.yaml:2:1: only one YAML document is allowed`,
			`packages/unclosed/package.yaml:2: invalid YAML: found unexpected end of stream`,
		},
	}, {
		dir: "project-values",
		want: []string{
			`stx.yaml:1:7: name: must not be empty`,
			`stx.yaml:2:8: suite: invalid suite "book worm": use a suite name such as trixie`,
			`stx.yaml:3:24: architectures[1]: unknown architecture "i386" (supported: amd64, arm64)`,
			`stx.yaml:3:30: architectures[2]: unknown architecture "amd46"; did you mean "amd64"?`,
			`stx.yaml:3:37: architectures[3]: duplicate architecture "amd64"`,
			`stx.yaml:4:9: mirror: invalid URL "ftp://mirror.example/debian": use an http, https or file URL`,
			`stx.yaml:5:20: components[1]: duplicate component "main"`,
			`stx.yaml:5:26: components[2]: invalid component "Non Free": use lowercase letters, digits, ".", "_", "+", "-" or "/"`,
			`stx.yaml:6:22: packages[1]: must be a path relative to the project directory`,
			`stx.yaml:6:37: packages[2]: invalid pattern "[": syntax error in pattern`,
			`stx.yaml:6:42: packages[3]: must not be empty`,
			`stx.yaml:7:21: profiles[1]: invalid build profile "No.Check": use lowercase letters, digits, ".", "+" or "-"`,
			`stx.yaml:7:31: profiles[2]: duplicate build profile "nocheck"`,
		},
	}, {
		dir: "empty-lists",
		want: []string{
			`packages/ok/package.yaml:4:1: architectures: must not be empty (leave it out to build for every architecture)`,
			`stx.yaml:3:1: architectures: must not be empty`,
		},
	}, {
		dir: "sources",
		want: []string{
			`packages/abs/package.yaml:3:10: source.local: must be a path relative to the package directory`,
			`packages/badname/package.yaml:1:7: name: invalid source package name "Bad_Name": ` + nameRule,
			`packages/badver/package.yaml:3:11: source.debian: invalid version "v1.0": version number does not start with digit`,
			`packages/both/package.yaml:2:1: source: set only one of local, debian or dsc (found local and debian)`,
			`packages/dsc/package.yaml:4:10: source.dsc.url: invalid URL "ftp://mirror.example/dsc_1.0.dsc": use an http or https URL of a .dsc file`,
			`packages/dsc/package.yaml:5:13: source.dsc.sha256: must be 64 lowercase hexadecimal digits`,
			`packages/dscext/package.yaml:4:10: source.dsc.url: invalid URL "https://mirror.example/dscext_1.0.tar.gz": use an http or https URL of a .dsc file`,
			`packages/dscext/package.yaml:5:13: source.dsc.sha256: must be 64 lowercase hexadecimal digits`,
			`packages/emptylocal/package.yaml:3:10: source.local: must not be empty`,
			`packages/file/package.yaml:3:10: source.local: "package.yaml" is not a directory`,
			`packages/mismatch/package.yaml:3:11: source.debian: source package "other" does not match name "mismatch"`,
			`packages/nocontrol/package.yaml:3:10: source.local: "." has no debian/control`,
			`packages/nodir/package.yaml:3:10: source.local: directory "src" does not exist`,
			`packages/noeq/package.yaml:3:11: source.debian: invalid "noeq_1.0-1": use name=version, such as hello=2.10-3`,
			`packages/none/package.yaml:2:1: source: set one of local, debian or dsc`,
		},
	}, {
		dir: "build",
		want: []string{
			`packages/alpha/package.yaml:5:9: build.jobs: must not be negative`,
			`packages/alpha/package.yaml:6:10: build.tmpfs: invalid value "lots": use "disk" or a size such as 512MiB or 2GiB`,
			`packages/alpha/package.yaml:7:13: build.estimate: invalid duration "soon": use a duration such as 90s or 20m`,
			`packages/alpha/package.yaml:8:23: build.profiles[1]: invalid build profile "Bad Profile": use lowercase letters, digits, ".", "+" or "-"`,
			`packages/beta/package.yaml:6:11: build.serial: serial: true conflicts with jobs: 4`,
			`packages/beta/package.yaml:7:10: build.tmpfs: size must be greater than zero`,
			`packages/beta/package.yaml:8:13: build.estimate: must be greater than zero`,
			`packages/gamma/package.yaml:6:13: build.estimate: invalid duration "20": use a duration such as 90s or 20m`,
			`packages/gamma/package.yaml:7:9: build.pids: must not be negative`,
			`packages/gamma/package.yaml:8:11: build.memory: "1MiB" is less than 64MiB, too little for any build`,
		},
	}, {
		dir: "patches",
		want: []string{
			`packages/hello/package.yaml:6:5: patches[1]: file "missing.patch" does not exist`,
			`packages/hello/package.yaml:7:5: patches[2]: duplicate of patches[0]`,
			`packages/hello/package.yaml:8:5: patches[3]: must be a path relative to the package directory`,
			`packages/hello/package.yaml:9:5: patches[4]: "patches" is not a file`,
			`packages/hello/package.yaml:10:4: patches[5]: list entries must not be empty`,
		},
	}, {
		dir: "duplicate-names",
		want: []string{
			`packages/b/package.yaml:2:7: name: package "same" is also defined in packages/a/package.yaml`,
			`packages/c/package.yaml:1:7: name: package "same" is also defined in packages/a/package.yaml`,
		},
	}, {
		dir: "cycle-breaks",
		want: []string{
			`stx.yaml:7:14: cycle-breaks[1].package: no package named "zlibb" in this project; did you mean "zlib"?`,
			`stx.yaml:9:5: cycle-breaks[2]: duplicate of cycle-breaks[0] on line 5`,
			`stx.yaml:12:13: cycle-breaks[3].binary: invalid binary package name "Hello_World": ` + nameRule,
			`stx.yaml:15:13: cycle-breaks[4].source: no package named "zlb" in this project; did you mean "zlib"?`,
			`stx.yaml:18:13: cycle-breaks[5].source: set only one of binary or source`,
			`stx.yaml:19:5: cycle-breaks[6]: set one of binary or source`,
			`stx.yaml:22:13: cycle-breaks[7].source: a package's own binaries always come from the archive (a self build-dependency is no cycle): remove this entry`,
			`stx.yaml:23:5: cycle-breaks[8]: duplicate of cycle-breaks[7] on line 21`,
			`stx.yaml:24:13: cycle-breaks[8].source: a package's own binaries always come from the archive (a self build-dependency is no cycle): remove this entry`,
			`stx.yaml:25:9: cycles: unknown cycle policy "archve"; did you mean "archive"?`,
		},
	}, {
		dir: "arch-subset",
		want: []string{
			`packages/hello/package.yaml:4:24: architectures[1]: architecture "arm64" is not built by the project (stx.yaml architectures: amd64)`,
			`packages/hello/package.yaml:4:31: architectures[2]: unknown architecture "riscv64" (supported: amd64, arm64)`,
		},
	}, {
		dir: "package-dirs",
		want: []string{
			`stx.yaml:4:9: mirror: invalid URL "file:relative": use an http, https or file URL`,
			`stx.yaml:7:5: packages[1]: directory "missing" does not exist`,
			`stx.yaml:8:5: packages[2]: pattern "nothing/*" matches no directory`,
			`stx.yaml:9:5: packages[3]: "stx.yaml" is not a directory`,
		},
	}, {
		dir: "default-dir",
		want: []string{
			`stx.yaml:1:1: packages: directory "packages" does not exist (it is the default; list the directories holding */package.yaml)`,
		},
	}, {
		// Without a packages list nothing is searched, and so cycle-breaks
		// cannot be checked either.
		dir:  "bad-packages-field",
		want: []string{`stx.yaml:4:11: packages: expected a list, got a string "pkgs"`},
	}, {
		dir:  "empty-project",
		want: []string{`stx.yaml: file is empty`},
	}, {
		dir: "two-documents",
		want: []string{
			`stx.yaml:1:1: packages: directory "packages" does not exist (it is the default; list the directories holding */package.yaml)`,
			`stx.yaml:4:1: only one YAML document is allowed`,
		},
	}, {
		dir:  "not-a-mapping",
		want: []string{`stx.yaml:1:1: expected a mapping of fields, got a list`},
	}}
	for _, tt := range tests {
		t.Run(tt.dir, func(t *testing.T) {
			p, err := Load(filepath.Join("testdata/invalid", tt.dir))
			if p != nil {
				t.Errorf("Load returned a project along with errors")
			}
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("Load: got %v, want Errors", err)
			}
			if got := strings.Split(err.Error(), "\n"); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Load errors:\n%s\nwant:\n%s", err, strings.Join(tt.want, "\n"))
			}
		})
	}
}

// One run reports the problems of stx.yaml and of every package together,
// each as an *Error that names its file, line and field.
func TestLoadReportsEveryFile(t *testing.T) {
	_, err := Load("testdata/invalid/many")
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("Load: got %v, want Errors", err)
	}
	want := Errors{
		{File: "packages/alpha/package.yaml", Line: 5, Column: 3, Field: "build.jobz", Msg: `unknown field; did you mean "jobs"?`},
		{File: "packages/beta/package.yaml", Line: 3, Column: 10, Field: "source.local", Msg: `directory "missing" does not exist`},
		{File: "packages/beta/package.yaml", Line: 4, Column: 11, Field: "patches[0]", Msg: `file "x.patch" does not exist`},
		{File: "packages/gamma/package.yaml", Line: 3, Column: 16, Field: "build.tmpfs", Msg: `invalid value "huge": use "disk" or a size such as 512MiB or 2GiB`},
		{File: "stx.yaml", Line: 3, Column: 24, Field: "architectures[1]", Msg: `unknown architecture "armhf" (supported: amd64, arm64)`},
		{File: "stx.yaml", Line: 5, Column: 14, Field: "cycle-breaks[0].package", Msg: `no package named "nope" in this project`},
	}
	if !reflect.DeepEqual(errs, want) {
		t.Errorf("Load errors:\n%v\nwant:\n%v", errs, want)
	}
	var one *Error
	if !errors.As(err, &one) || one != errs[0] {
		t.Errorf("errors.As(*Error) = %v, want the first problem", one)
	}
}

func TestLoadPackage(t *testing.T) {
	pkg, err := LoadPackage("testdata/valid/packages/zlib/package.yaml")
	if err != nil {
		t.Fatalf("LoadPackage: %v", err)
	}
	if pkg.Name != "zlib" || pkg.Dir != abs(t, "testdata/valid/packages/zlib") {
		t.Errorf("LoadPackage = %+v", pkg)
	}

	// Messages name the file as given; architectures are checked against
	// the supported ones only, as there is no project to compare with.
	file := "testdata/invalid/arch-subset/packages/hello/package.yaml"
	_, err = LoadPackage(file)
	want := file + `:4:31: architectures[2]: unknown architecture "riscv64" (supported: amd64, arm64)`
	if err == nil || err.Error() != want {
		t.Errorf("LoadPackage: got %v, want %s", err, want)
	}

	if _, err := LoadPackage("testdata/nothing/package.yaml"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("LoadPackage of a missing file: got %v, want fs.ErrNotExist", err)
	}
}

func TestErrorFormat(t *testing.T) {
	tests := []struct {
		err  *Error
		want string
	}{
		{&Error{File: "stx.yaml", Line: 3, Column: 5, Field: "suite", Msg: "bad"}, "stx.yaml:3:5: suite: bad"},
		{&Error{File: "stx.yaml", Line: 3, Field: "suite", Msg: "bad"}, "stx.yaml:3: suite: bad"},
		{&Error{File: "stx.yaml", Msg: "file is empty"}, "stx.yaml: file is empty"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
	var none Errors
	if none.asError() != nil {
		t.Error("empty Errors must become a nil error")
	}
}

func TestHelpers(t *testing.T) {
	p, err := Load("testdata/valid")
	if err != nil {
		t.Fatal(err)
	}
	hello, zlib := p.Package("hello"), p.Package("zlib")
	if hello == nil || zlib == nil || p.Package("nope") != nil {
		t.Fatalf("Package: hello=%v zlib=%v", hello, zlib)
	}
	if !hello.CrossBuildable() || zlib.CrossBuildable() {
		t.Errorf("CrossBuildable: hello %v, zlib %v; want true, false", hello.CrossBuildable(), zlib.CrossBuildable())
	}
	if !hello.ArchEnabled("arm64") || !zlib.ArchEnabled("amd64") || zlib.ArchEnabled("arm64") {
		t.Errorf("ArchEnabled wrong for hello (all) or zlib (amd64 only)")
	}
	if got := hello.Build.EstimateDuration(); got.String() != "1m30s" {
		t.Errorf("EstimateDuration = %v, want 1m30s", got)
	}
	if got := zlib.Build.EstimateDuration(); got != 0 {
		t.Errorf("EstimateDuration unset = %v, want 0", got)
	}
	if size, disk := hello.Build.TmpfsSize(); size != 512<<20 || disk {
		t.Errorf("TmpfsSize(512MiB) = %d, %v", size, disk)
	}
	if size, disk := zlib.Build.TmpfsSize(); size != 0 || !disk {
		t.Errorf("TmpfsSize(disk) = %d, %v", size, disk)
	}
}
