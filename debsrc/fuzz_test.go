package debsrc

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// addFiles adds every file matching pattern to f's seed corpus.
func addFiles(f *testing.F, pattern string) {
	f.Helper()
	files, err := filepath.Glob(pattern)
	if err != nil || len(files) == 0 {
		f.Fatalf("no seed files match %s: %v", pattern, err)
	}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
}

// The real control files of the graph's tests are the seeds: a fuzzed
// control file is either refused with an error or gives a source with a
// name and binaries.
func FuzzParseControl(f *testing.F) {
	// Small real files: large seeds make the fuzzer minimize, not mutate.
	for _, name := range []string{"hello", "tree", "libpng1.6", "libtasn1-6"} {
		addFiles(f, "../graph/testdata/control/"+name+".control")
	}
	addFiles(f, "../examples/packages/*/src/debian/control")
	f.Add([]byte("Source: a\nBuild-Depends: b [amd64] <!nocheck>, c:native | d (>= ${binary:Version})\n\nPackage: a\nArchitecture: any all\nBuild-Profiles: <!nocheck> <cross>\nProvides: e (= ${source:Version})\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ParseControl("control", data, "1:2.0-1")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "control:") {
				t.Errorf("error does not name the file: %v", err)
			}
			return
		}
		if s.Name == "" || len(s.Binaries) == 0 {
			t.Errorf("accepted a source without name or binaries: %+v", s)
		}
	})
}

// Build-Depends values on their own, wrapped in a minimal control file.
func FuzzBuildDepends(f *testing.F) {
	for _, s := range []string{
		"debhelper-compat (= 13)",
		"libstx-dev [amd64 arm64], stx-hello <!nocheck>, perl:native",
		"a (>= 1.0) | b (<< 2:3~rc1-1) [!arm64] <stage1 cross> <!nodoc>, ${misc:Depends}",
		"gcc-12 (>= ${source:Upstream-Version}), c:any, d [linux-any]",
	} {
		f.Add(s, "1.0-1")
	}
	f.Fuzz(func(t *testing.T, deps, ver string) {
		if strings.ContainsAny(deps, "\r\n") {
			return // a new line would end the field, not test the relation parser
		}
		control := "Source: a\nBuild-Depends: " + deps + "\n\nPackage: a\nArchitecture: any\n"
		s, err := ParseControl("control", []byte(control), ver)
		if err != nil {
			return
		}
		for _, r := range s.BuildDepends.Relations {
			for _, p := range r.Possibilities {
				if !p.Substvar && !validPackageName(p.Name) {
					t.Errorf("accepted bad package name %q", p.Name)
				}
			}
		}
	})
}

func FuzzParseChangelog(f *testing.F) {
	addFiles(f, "../examples/packages/*/src/debian/changelog")
	f.Add([]byte("hello (2.10-3) unstable; urgency=medium\n\n  * x\n\n -- A <a@b.c>  Mon, 01 Jan 2024 00:00:00 +0000\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseChangelog("changelog", data)
		if err != nil {
			return
		}
		if c.Source == "" || c.Version == "" || c.Date.IsZero() {
			t.Errorf("accepted an entry without source, version or date: %+v", c)
		}
	})
}

func FuzzParseDSC(f *testing.F) {
	f.Add([]byte("Format: 3.0 (quilt)\nSource: hello\nBinary: hello\nArchitecture: any\nVersion: 2.10-3\nBuild-Depends: debhelper-compat (= 13)\nPackage-List:\n hello deb devel optional arch=any\n hello-doc deb doc optional arch=all profile=!nodoc\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ParseDSC("x.dsc", data)
		if err == nil && s.Name == "" {
			t.Errorf("accepted a .dsc without a source name: %+v", s)
		}
	})
}

func FuzzParseSources(f *testing.F) {
	addFiles(f, "testdata/Sources")
	f.Fuzz(func(t *testing.T, data []byte) {
		srcs, err := ParseSources("Sources", data)
		if err != nil {
			return
		}
		for i := 1; i < len(srcs); i++ {
			if srcs[i-1].Name >= srcs[i].Name {
				t.Errorf("sources not sorted or not unique: %q then %q", srcs[i-1].Name, srcs[i].Name)
			}
		}
	})
}
