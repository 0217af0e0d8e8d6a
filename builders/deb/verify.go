package deb

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/stx-build/stx-build/deb822"
	"github.com/stx-build/stx-build/internal/debfile"
	"github.com/stx-build/stx-build/internal/regularfile"
)

// maxMetaFile bounds the .buildinfo and .changes files CheckArtifacts
// reads (a real one is a few KiB).
const maxMetaFile = 4 << 20

// CheckArtifacts checks that the artifacts of a build of source at version
// for arch are what they claim to be: every .deb/.udeb/.ddeb says (in its
// control file) that it was built from source at version (binNMUs name
// the source version in "Source: name (version)") for arch or all, and
// every .buildinfo/.changes names the same source and version. The
// artifact cache runs it on everything it stores and restores, so an
// entry whose files were swapped (with a re-hashed manifest) cannot be
// published as another package.
func CheckArtifacts(ctx context.Context, source, version, arch string, files []string) error {
	for _, f := range files {
		if err := ctx.Err(); err != nil {
			return err
		}
		var err error
		switch filepath.Ext(f) {
		case ".deb", ".udeb", ".ddeb":
			err = checkBinary(f, source, version, arch)
		case ".buildinfo", ".changes":
			err = checkMeta(f, source, version)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", filepath.Base(f), err)
		}
	}
	return nil
}

// checkBinary reads the identifying fields of a binary package.
func checkBinary(path, source, version, arch string) error {
	fi, err := os.Lstat(path)
	if err != nil {
		return err
	}
	if err := regularfile.Check(fi, 1<<40); err != nil {
		return err
	}
	raw, err := debfile.Control(path)
	if err != nil {
		return fmt.Errorf("not a readable Debian package: %w", err)
	}
	paras, err := deb822.Parse(path, raw)
	if err != nil || len(paras) == 0 {
		return fmt.Errorf("control file unreadable: %v", err)
	}
	p := &paras[0]
	return matchClaim(p.Value("Package"), p.Value("Source"), p.Value("Version"), p.Value("Architecture"), source, version, arch)
}

// matchClaim compares one binary's control fields with its build.
func matchClaim(pkg, srcField, binVersion, binArch, source, version, arch string) error {
	src, srcVersion := pkg, binVersion
	if srcField != "" {
		name, rest, _ := strings.Cut(srcField, " ")
		src = name
		if v, ok := strings.CutPrefix(strings.TrimSpace(rest), "("); ok {
			srcVersion = strings.TrimSuffix(v, ")")
		}
	}
	switch {
	case src != source:
		return fmt.Errorf("package %s says it was built from source %q, not %s", pkg, src, source)
	case srcVersion != version:
		return fmt.Errorf("package %s says it is version %q of %s, not %s", pkg, srcVersion, source, version)
	case binArch != arch && binArch != "all":
		return fmt.Errorf("package %s is for architecture %q, not %s", pkg, binArch, arch)
	}
	return nil
}

// checkMeta checks the Source and Version fields of a .buildinfo or
// .changes file.
func checkMeta(path, source, version string) error {
	fi, err := os.Lstat(path)
	if err != nil {
		return err
	}
	data, err := regularfile.ReadFile(path, fi, maxMetaFile)
	if err != nil {
		return err
	}
	paras, err := deb822.Parse(path, data)
	if err != nil || len(paras) == 0 {
		return fmt.Errorf("unreadable: %v", err)
	}
	p := &paras[0]
	src, _, _ := strings.Cut(p.Value("Source"), " ")
	if src != source || p.Value("Version") != version {
		return fmt.Errorf("says source %q version %q, not %s %s", src, p.Value("Version"), source, version)
	}
	return nil
}
