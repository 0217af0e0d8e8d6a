package starlingx

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
)

// DefaultDist is what $STX_DIST stands for: stx.conf's stx_pkg_ext.
const DefaultDist = ".stx"

// RevisionSuffix is the suffix StarlingX appends to a package's changelog
// version, "<dist>.<N>" (debrepack.py set_revision), with a note when N
// could not be counted the way StarlingX counts it.
type RevisionSuffix struct {
	Suffix string
	// N is the revision number.
	N int
	// Note says what was assumed ("" when N was counted from git).
	Note string
}

// Revision computes the version suffix of p: "" without a revision key
// (the changelog's version stays). N is the sum of the commit
// counts its revision rules name (git rev-list --count [BASE..]HEAD -- dir,
// commits touching only .gitreview left out), the files with uncommitted
// changes in those directories, and stx_patch. Where the tree is not a git
// checkout the counts are 0 and Note says so: the version is then
// <changelog version><dist>.<stx_patch>, the same on every machine.
func (t *Tree) Revision(ctx context.Context, p *Package) RevisionSuffix {
	r := p.Meta.Revision
	if !p.Meta.has("revision") {
		return RevisionSuffix{} // the changelog's version, unchanged
	}
	dist := strings.NewReplacer("${STX_DIST}", DefaultDist, "$STX_DIST", DefaultDist).Replace(r.Dist)
	type count struct{ dir, base string }
	var counts []count
	if r.PkgGitRevCount {
		// debrepack counts the directory holding meta_data.yaml.
		counts = append(counts, count{p.MetaDir, r.PkgBaseSrcRev})
	}
	if r.SrcGitRevCount && p.Meta.SrcPath != "" {
		counts = append(counts, count{t.SrcPath(p), r.SrcBaseSrcRev})
	}
	for i, f := range t.SrcFiles(p) {
		if i < len(r.FilesGitRevCount) {
			counts = append(counts, count{f, r.FilesGitRevCount[i]})
		}
	}
	if r.GitRevCount && r.SrcDir != "" {
		counts = append(counts, count{t.expand(p, r.SrcDir), r.BaseSrcRev})
	}
	n := r.STXPatch
	var missing []string
	for _, c := range counts {
		k, err := gitCount(ctx, c.dir, c.base)
		if err != nil {
			missing = append(missing, t.rel(c.dir))
			continue
		}
		n += k
	}
	out := RevisionSuffix{Suffix: dist + "." + strconv.Itoa(n), N: n}
	if len(missing) > 0 {
		out.Note = fmt.Sprintf("not a git checkout (or base revision unknown): %s counted as 0 commits", strings.Join(missing, ", "))
	}
	return out
}

// gitCount counts the commits of dir since base (all when base is ""),
// leaving out those touching only .gitreview, plus files with uncommitted
// changes there.
func gitCount(ctx context.Context, dir, base string) (int, error) {
	rng := "HEAD"
	if base != "" {
		rng = base + "..HEAD"
	}
	out, err := git(ctx, dir, "rev-list", "--count", rng, "--", ".", ":(exclude).gitreview")
	if err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(strings.TrimSpace(out))
	if err != nil {
		return 0, err
	}
	status, err := git(ctx, dir, "status", "--porcelain", "--", ".")
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(status, "\n") {
		if strings.TrimSpace(l) != "" {
			n++
		}
	}
	return n, nil
}

func git(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", append([]string{"-C", dir}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("git %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return out.String(), nil
}
