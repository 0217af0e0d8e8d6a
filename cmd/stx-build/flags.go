package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/stx-build/stx-build/workspace"
)

// log is w with --verbose, else nil (the libraries discard a nil log).
func (g *globalFlags) log(w io.Writer) io.Writer {
	if !g.verbose {
		return nil
	}
	return w
}

// archFlagError says an architecture the project (or a manifest) does not
// build in the words of the --arch flag that asked for it.
func archFlagError(err error) error {
	var ae *workspace.ArchError
	if errors.As(err, &ae) {
		return fmt.Errorf("--arch %s: %s builds %v", ae.Arch, ae.Builder, ae.Archs)
	}
	return err
}
