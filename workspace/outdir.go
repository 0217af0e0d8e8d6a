package workspace

import (
	"fmt"
	"path/filepath"
)

// OutDirName is the default output directory, in the project directory.
const OutDirName = "out"

// OutDir returns dir as an absolute path, or the project's out/ when dir
// is empty: where packages, images and ISOs are written. Every command
// takes its output directory from here, so they all agree on the default.
func (w *Workspace) OutDir(dir string) (string, error) {
	if dir == "" {
		dir = filepath.Join(w.Project.Dir, OutDirName)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("output directory %s: %w", dir, err)
	}
	return abs, nil
}

// RepoDir is the project's apt repository for arch in the output
// directory out, where package builds publish and images and ISOs
// install from.
func RepoDir(out, arch string) string {
	return filepath.Join(out, arch, "repo")
}
