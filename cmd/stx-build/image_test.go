package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The image command checks its arguments and the image manifests before
// building anything.
func TestImageCommandErrors(t *testing.T) {
	dir := localExample(t)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown image", []string{"image", "-C", dir, "nope"}, `no image "nope" in `},
		{"push two", []string{"image", "-C", dir, "--push", "127.0.0.1:5000/x:1", "stx-hello", "stx-hello"}, "--push and --docker-archive take one image"},
	}
	for _, tt := range tests {
		_, err := run(t, tt.args...)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: got %v, want %q", tt.name, err, tt.want)
		}
	}

	// Manifest problems are reported with file and line.
	os.WriteFile(filepath.Join(dir, "images", "bad.yaml"), []byte("packages: [stx-hello]\nbase: nothing\n"), 0o644)
	_, err := run(t, "image", "-C", dir)
	if err == nil || err.Error() != `images/bad.yaml:2:7: base: no image named "nothing" in images/` {
		t.Errorf("bad manifest: %v", err)
	}

	// A project without images says how to add one.
	os.RemoveAll(filepath.Join(dir, "images"))
	_, err = run(t, "image", "-C", dir)
	if err == nil || !strings.Contains(err.Error(), "no images (add images/<name>.yaml)") {
		t.Errorf("no images: %v", err)
	}
}
