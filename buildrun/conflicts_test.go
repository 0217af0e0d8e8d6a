package buildrun_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stx-build/stx-build/buildrun"
	"github.com/stx-build/stx-build/workspace"
)

// A project binary older than what an archive package of a build
// environment needs stops the run before anything builds, naming the
// package, both versions and who needs it: stx-needs-requests
// build-depends on the archive's python3-requests, which needs
// python3-urllib3 (>= 1.21.1), and the project builds python3-urllib3
// 1.0-stx1 (which, pinned above the archive, would be the one installed).
func TestVersionConflictBeforeBuild(t *testing.T) {
	needBuildHost(t)
	dir := copyProject(t, t.TempDir(), false, "stx-old-urllib3", "stx-needs-requests")
	_, status, err := build(t, dir, buildrun.Options{Archs: []string{"amd64"}})
	var ce *workspace.ConflictError
	if !errors.As(err, &ce) {
		t.Fatalf("error %v, want a *workspace.ConflictError\n%s", err, lastLines([]byte(status), 20))
	}
	msg := err.Error()
	for _, want := range []string{
		"amd64: stx-needs-requests needs python3-requests ",
		"which depends on python3-urllib3 (>= 1.21.1), but the project builds python3-urllib3 1.0-stx1 (source stx-old-urllib3)",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	if len(ce.Conflicts["amd64"]) != 1 {
		t.Errorf("conflicts %+v, want exactly one", ce.Conflicts)
	}
	// Nothing was built: no log, no .deb.
	if ents, _ := os.ReadDir(filepath.Join(dir, "out", "amd64", "logs")); len(ents) > 0 {
		t.Errorf("something was built before the conflict was reported: %v", ents)
	}
}
