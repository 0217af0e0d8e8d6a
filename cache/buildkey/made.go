package buildkey

import (
	"context"
	"errors"
	"fmt"

	"github.com/stx-build/stx-build/rootfs"
	"github.com/stx-build/stx-build/workspace"
)

// MadeBase returns the Base of the base root the project's package builds
// would use, which must have been made already (by a package build): keys
// are only inspected, never a reason to run mmdebstrap. Without it the
// error says so.
func MadeBase(ctx context.Context, ws *workspace.Workspace) (Base, error) {
	spec, err := ws.BaseSpec()
	if err != nil {
		return Base{}, err
	}
	b, err := ws.BaseStore().Find(ctx, spec)
	if errors.Is(err, rootfs.ErrNotMade) {
		return Base{}, fmt.Errorf("the base root %s is not made yet (stx-build build makes it): every package would be built", b.Key[:12])
	}
	if err != nil {
		return Base{}, err
	}
	return ReadBase(b)
}
