package buildrun

import (
	"context"
	"fmt"
	"time"

	"github.com/stx-build/stx-build/graph"
	"github.com/stx-build/stx-build/report"
	"github.com/stx-build/stx-build/rootfs"
	"github.com/stx-build/stx-build/workspace"
)

// checkConflicts fails the run before anything builds when a project
// binary is too old for what the environments of the builds left to do
// need (workspace.VersionConflicts), against the archive state of the
// base root those environments start from.
func (r *run) checkConflicts(ctx context.Context, base *rootfs.Base) error {
	t := time.Now()
	only := map[string][]string{}
	for _, j := range r.jobs {
		if j.restored == nil && !isPublishOnly(j) {
			only[j.arch] = append(only[j.arch], j.node.Name)
		}
	}
	checked, remembered := false, true
	ce := &workspace.ConflictError{Conflicts: map[string][]graph.VersionConflict{}}
	for _, arch := range r.archs {
		if len(only[arch]) == 0 {
			continue
		}
		cs, known, err := r.ws.VersionConflicts(ctx, base, arch, only[arch])
		if err != nil {
			return fmt.Errorf("version check for %s: %w", arch, err)
		}
		checked, remembered = true, remembered && known
		if len(cs) > 0 {
			ce.Archs = append(ce.Archs, arch)
			ce.Conflicts[arch] = cs
		}
	}
	if len(ce.Archs) > 0 {
		return ce
	}
	if !checked {
		return nil
	}
	how := fmt.Sprintf("checked in %s", time.Since(t).Round(10*time.Millisecond))
	if remembered {
		how = "the same inputs were checked before"
	}
	r.emit(report.Event{Kind: report.KindInfo, Message: "versions: no project package is older than the archive packages that need it (" + how + ")"})
	return nil
}
