package iso

import (
	"fmt"
	"path/filepath"

	"github.com/stx-build/stx-build/debsrc"
	"github.com/stx-build/stx-build/manifests"
)

// ProjectEpoch is the SOURCE_DATE_EPOCH of a project's ISO: the newest
// debian/changelog date among its local source packages (0 when it has
// none). It depends on the checked-in sources only, not on a checkout's
// file times, so every checkout of the same commit gets the same ISO.
func ProjectEpoch(p *manifests.Project) (int64, error) {
	var newest int64
	for _, pkg := range p.PackageList {
		if pkg.Source.Local == "" {
			continue
		}
		_, cl, err := debsrc.ReadDir(filepath.Join(pkg.Dir, pkg.Source.Local))
		if err != nil {
			return 0, fmt.Errorf("package %s: %w", pkg.Name, err)
		}
		if t := cl.Date.Unix(); !cl.Date.IsZero() && t > newest {
			newest = t
		}
	}
	return newest, nil
}
