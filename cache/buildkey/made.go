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

// MadeEmulatedBases returns the Bases of the emulated base roots the
// project's package builds would use (Options.Emulated): one for every
// architecture on which a package builds emulated, each made already.
func MadeEmulatedBases(ctx context.Context, ws *workspace.Workspace) (map[string]Base, error) {
	prepared, err := ws.Prepare(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string]Base{}
	for _, arch := range ws.EmulatedArchs(prepared, ws.Project.Architectures) {
		spec, err := ws.EmulatedBaseSpec(arch)
		if err != nil {
			return nil, err
		}
		b, err := ws.BaseStore().Find(ctx, spec)
		if errors.Is(err, rootfs.ErrNotMade) {
			return nil, fmt.Errorf("the emulated %s base root %s is not made yet (stx-build build makes it): every package would be built", arch, b.Key[:12])
		}
		if err != nil {
			return nil, err
		}
		if out[arch], err = ReadBase(b); err != nil {
			return nil, err
		}
	}
	return out, nil
}
