package workspace

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/stx-build/stx-build/aptenv"
	"github.com/stx-build/stx-build/graph"
	"github.com/stx-build/stx-build/internal/atomicfile"
	"github.com/stx-build/stx-build/rootfs"
)

// ConflictError lists project binaries too old for what the build
// environments need, found before anything builds.
type ConflictError struct {
	// Conflicts per architecture, in the project's architecture order.
	Archs     []string
	Conflicts map[string][]graph.VersionConflict
}

func (e *ConflictError) Error() string {
	var b strings.Builder
	n := 0
	for _, a := range e.Archs {
		n += len(e.Conflicts[a])
	}
	fmt.Fprintf(&b, "%d version conflict(s) between the project's packages and the archive, found before building:", n)
	for _, a := range e.Archs {
		for _, c := range e.Conflicts[a] {
			fmt.Fprintf(&b, "\n  %s: %s", a, c)
		}
	}
	b.WriteString("\nraise the project's version of the source named (a version at least the one the relation asks for), or leave that source out of the project so the archive's binary is used")
	return b.String()
}

// VersionConflicts returns, for arch, the binaries the project builds
// that are older than a relation some build environment must satisfy
// (graph.Conflicts), for the builds of the sources in only (all when
// empty). The archive is what the base root's apt resolves against: its
// lists in var/lib/apt/lists. Prepare must have run. Reading the indexes
// takes seconds, so a check that found nothing is remembered in the cache
// by the base root (which fixes the lists) and everything of the sources
// the check reads; the next run with the same inputs skips it and
// reports remembered.
func (w *Workspace) VersionConflicts(ctx context.Context, base *rootfs.Base, arch string, only []string) (cs []graph.VersionConflict, remembered bool, err error) {
	prepared, err := w.Prepare(ctx)
	if err != nil {
		return nil, false, err
	}
	srcs, opts := w.SourcesFor(prepared, arch), w.GraphOptions(arch)
	h := sha256.New()
	fmt.Fprintf(h, "stx-build version check 1\x00%s\x00%s\x00%+v\x00%q\x00", base.Key, arch, opts, only)
	for _, s := range srcs {
		fmt.Fprintf(h, "%+v\x00", s)
	}
	ok := filepath.Join(w.CacheDir(), "versions", hex.EncodeToString(h.Sum(nil)))
	if _, err := os.Stat(ok); err == nil {
		return nil, true, nil
	}
	idx, err := ArchiveIndex(ctx, filepath.Join(base.Dir, "var/lib/apt/lists"), arch)
	if err != nil {
		return nil, false, err
	}
	cs, err = graph.Conflicts(srcs, opts, idx, only)
	if err != nil || len(cs) > 0 {
		return cs, false, err
	}
	if err := os.MkdirAll(filepath.Dir(ok), 0o755); err == nil {
		_ = atomicfile.Write(ok, nil, 0o644) // only a shortcut: losing it costs a re-check
	}
	return nil, false, nil
}

// ArchiveIndex reads the Packages lists of an apt lists directory for
// arch into the graph's index.
func ArchiveIndex(ctx context.Context, listsDir, arch string) (graph.ArchiveIndex, error) {
	bs, err := aptenv.ListsBinaries(ctx, listsDir, arch)
	if err != nil {
		return nil, fmt.Errorf("archive index: %w", err)
	}
	idx := make(graph.ArchiveIndex, len(bs))
	for _, b := range bs {
		if b.Architecture != arch && b.Architecture != "all" {
			continue
		}
		idx[b.Name] = append(idx[b.Name], graph.ArchivePackage{Version: b.Version, Depends: b.Depends, Essential: b.Essential})
	}
	return idx, nil
}
