package repo

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/stx-build/stx-build/deb822"
)

// fileFields locate or check a package's file, or describe its bytes;
// apt's resolver reads none of them (nor Installed-Size, nor a debug
// package's Build-Ids, which every rebuild with a changed binary
// changes), so a rebuild that changes only them leaves a resolution as
// it was.
var fileFields = map[string]bool{
	"filename": true, "size": true, "md5sum": true, "sha1": true,
	"sha256": true, "sha512": true, "installed-size": true, "build-ids": true,
}

// ResolverDigest is a digest of what apt resolving against the
// repository sees: every stanza of its live indexes without the fields
// that locate or check the file (fileFields). A rebuild with the same
// control data keeps it; a new version, a package added or removed, a
// changed relation changes it. The deb builder caches build-dependency
// resolutions under it.
func (r *Repo) ResolverDigest() (string, error) {
	unlock, err := r.lock(context.Background(), lockShared)
	if err != nil {
		return "", fmt.Errorf("repo %s: %w", r.dir, err)
	}
	defer unlock()
	h := sha256.New()
	fmt.Fprintf(h, "stx-build repo resolver view v1\narch %s\n", r.arch)
	for _, udeb := range []bool{false, true} {
		rel := path.Join(suite, indexDir(r.arch, udeb), "Packages")
		data, err := os.ReadFile(r.path(distsLink, filepath.FromSlash(rel)))
		if err != nil {
			return "", fmt.Errorf("repo %s: %w", r.dir, err)
		}
		view, err := resolverView(rel, data)
		if err != nil {
			return "", fmt.Errorf("repo %s: %w", r.dir, err)
		}
		fmt.Fprintf(h, "index %s\n%s", rel, view)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// resolverView is a Packages index without fileFields: each stanza's
// other fields in their order, stanzas in the index's order.
func resolverView(file string, data []byte) (string, error) {
	paras, err := deb822.Parse(file, data)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for _, p := range paras {
		for _, f := range p.Fields {
			if !fileFields[strings.ToLower(f.Name)] {
				fmt.Fprintf(&b, "%s: %s\n", f.Name, f.Value)
			}
		}
		b.WriteString("\n")
	}
	return b.String(), nil
}
