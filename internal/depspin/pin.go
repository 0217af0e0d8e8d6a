// Package depspin keeps modules that packages under construction are about
// to import in go.mod and go.sum, so parallel work does not race on them.
// Delete it once every import below is used by a real package.
package depspin

import (
	_ "github.com/google/go-containerregistry/pkg/crane"
	_ "github.com/google/go-containerregistry/pkg/registry"
	_ "github.com/google/go-containerregistry/pkg/v1"
	_ "github.com/google/go-containerregistry/pkg/v1/empty"
	_ "github.com/google/go-containerregistry/pkg/v1/layout"
	_ "github.com/google/go-containerregistry/pkg/v1/mutate"
	_ "github.com/google/go-containerregistry/pkg/v1/remote"
	_ "github.com/google/go-containerregistry/pkg/v1/tarball"
	_ "github.com/google/go-containerregistry/pkg/authn"
	_ "github.com/kdomanski/iso9660"
	_ "github.com/sourcegraph/conc/pool"
)
