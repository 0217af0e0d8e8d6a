package manifests

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// caption marks a code block in docs/manifests.md as the contents of a file:
// a line "`path`:" right before the opening fence.
var caption = regexp.MustCompile("^`([^`]+)`:$")

// docFiles returns the captioned code blocks of a Markdown file by path, and
// the first code block after the line containing after.
func docFiles(t *testing.T, doc, after string) (map[string]string, string) {
	t.Helper()
	f, err := os.Open(doc)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	files := map[string]string{}
	var output string
	var path, block string
	inBlock, wantOutput, captureOutput := false, false, false
	s := bufio.NewScanner(f)
	for s.Scan() {
		line := s.Text()
		switch {
		case inBlock && strings.HasPrefix(line, "```"):
			inBlock = false
			if path != "" {
				files[path] = block
			}
			if captureOutput {
				output, captureOutput = block, false
			}
			path = ""
		case inBlock:
			block += line + "\n"
		case strings.HasPrefix(line, "```"):
			inBlock, block = true, ""
			if wantOutput {
				wantOutput, captureOutput = false, true
			}
		case caption.MatchString(line):
			path = caption.FindStringSubmatch(line)[1]
		case strings.Contains(line, after):
			wantOutput = true
		case strings.TrimSpace(line) != "":
			path = ""
		}
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	return files, output
}

// The examples in docs/manifests.md are real: the examples/ files shown are
// the repository's, the demo project loads, and the broken one gives exactly
// the errors shown.
func TestDocExamples(t *testing.T) {
	files, output := docFiles(t, "../docs/manifests.md", "is reported in full")
	dir := t.TempDir()
	for path, text := range files {
		if strings.HasPrefix(path, "examples/") {
			real, err := os.ReadFile(filepath.Join("..", filepath.FromSlash(path)))
			if err != nil {
				t.Errorf("docs show %s: %v", path, err)
			} else if string(real) != text {
				t.Errorf("docs show %s differently from the file; copy it into docs/manifests.md again", path)
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
	if len(files) < 7 {
		t.Fatalf("found %d captioned files in the docs, want the demo and the broken project", len(files))
	}

	p, err := Load(filepath.Join(dir, "demo"))
	if err != nil {
		t.Fatalf("demo project: %v", err)
	}
	var names []string
	for _, pkg := range p.PackageList {
		names = append(names, pkg.Name)
	}
	if got, want := strings.Join(names, " "), "hello libpng1.6 zlib"; got != want {
		t.Errorf("demo project packages = %s, want %s", got, want)
	}

	_, err = Load(filepath.Join(dir, "broken"))
	if err == nil {
		t.Fatal("broken example loaded without errors")
	}
	if got, want := err.Error()+"\n", output; got != want {
		t.Errorf("broken example errors:\n%s\ndocs show:\n%s", got, want)
	}
}
