package image

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// removePaths removes what each pattern (an absolute path in the image,
// possibly with *, ? and [...] in any component) matches under root, and
// returns the removed paths (relative to root, sorted). Matching never
// follows a symlink: a pattern's directories must be real directories in
// the root, so a link such as /lib -> usr/lib, or an absolute link that
// would point at the build machine, is never entered.
func removePaths(root string, patterns []string) ([]string, error) {
	var removed []string
	for _, pat := range patterns {
		matches, err := matchInRoot(root, strings.Split(strings.Trim(path.Clean(pat), "/"), "/"))
		if err != nil {
			return nil, fmt.Errorf("image: cleanup %s: %w", pat, err)
		}
		for _, m := range matches {
			if err := os.RemoveAll(filepath.Join(root, filepath.FromSlash(m))); err != nil {
				return nil, fmt.Errorf("image: cleanup %s: %w", pat, err)
			}
			removed = append(removed, m)
		}
	}
	sort.Strings(removed)
	return removed, nil
}

// matchInRoot expands the pattern components below root.
func matchInRoot(root string, comps []string) ([]string, error) {
	cur := []string{""}
	for i, comp := range comps {
		last := i == len(comps)-1
		var next []string
		for _, dir := range cur {
			full := filepath.Join(root, filepath.FromSlash(dir))
			fi, err := os.Lstat(full)
			if err != nil || !fi.IsDir() {
				continue // not there, or a symlink or file where a directory is needed
			}
			entries, err := os.ReadDir(full)
			if err != nil {
				return nil, err
			}
			for _, e := range entries {
				ok, err := path.Match(comp, e.Name())
				if err != nil {
					return nil, err
				}
				if !ok {
					continue
				}
				p := path.Join(dir, e.Name())
				if last || e.IsDir() {
					next = append(next, p)
				}
			}
		}
		cur = next
	}
	return cur, nil
}
