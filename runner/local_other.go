//go:build !linux

package runner

import (
	"context"
	"errors"
)

var errNotLinux = errors.New("runner: the local sandbox needs Linux (namespaces and overlayfs)")

type local struct{}

// NewLocal returns the runner that sandboxes commands on this machine; on
// this operating system it is never usable.
func NewLocal() Runner { return local{} }

func (local) Run(context.Context, *Spec) error { return errNotLinux }
func (local) Usable(context.Context) error     { return errNotLinux }

// MaybeChild does nothing: there is no local sandbox on this system.
func MaybeChild() {}
