package buildrun

import (
	"context"
	"io"
	"path/filepath"

	"github.com/stx-build/stx-build/builders/deb"
	"github.com/stx-build/stx-build/cache"
	"github.com/stx-build/stx-build/cache/buildkey"
	"github.com/stx-build/stx-build/cache/filehash"
	"github.com/stx-build/stx-build/cache/oci"
	"github.com/stx-build/stx-build/workspace"
)

// CacheRemotes are the OCI registry repositories an artifact cache pulls
// from and pushes to, and the keys its entries are signed and checked
// with (see docs/cache.md). The zero value is a local cache only.
type CacheRemotes struct {
	// From are pulled from in order on a local miss.
	From []string
	// To, when set, receives every entry stored.
	To string
	// Insecure allows plain HTTP (always allowed for loopback hosts).
	Insecure bool
	// SignKey is the PEM file of the private key that signs entries
	// pushed to To.
	SignKey string
	// Trust are PEM files of the public keys whose signatures entries
	// pulled from From must carry.
	Trust []string
}

// OpenCache opens the artifact cache of the cache directory cacheDir
// (CACHE/artifacts, with the file hashes of CACHE) and the registries r
// names. An entry counts only if its .debs say they are of the build's
// source, version and architecture. log receives remote problems.
func OpenCache(cacheDir string, r CacheRemotes, log io.Writer) (*cache.Cache, error) {
	ropts := oci.Options{Insecure: r.Insecure}
	if err := ropts.LoadKeys(r.SignKey, r.Trust); err != nil {
		return nil, err
	}
	from, to, err := oci.Remotes(r.From, r.To, ropts)
	if err != nil {
		return nil, err
	}
	return cache.Open(cache.Options{
		Dir: filepath.Join(cacheDir, cache.ArtifactsDir), From: from, To: to, Log: log, Check: checkDebs,
		Hasher: filehash.New(filepath.Join(cacheDir, cache.StatCacheDir)),
	})
}

// checkDebs is the cache's content check: a package build's artifacts
// must say they are of its source, version and architecture.
func checkDebs(ctx context.Context, b cache.Build, files []string) error {
	return deb.CheckArtifacts(ctx, b.Package, b.Version, b.Arch, files)
}

// BuildKeys computes every build key of the project as Run does, on the
// base roots (native and emulated) an earlier build made; when one is not
// made yet, the error says so (keys never make a root).
func BuildKeys(ctx context.Context, ws *workspace.Workspace, c *cache.Cache) (*buildkey.Plan, error) {
	base, err := buildkey.MadeBase(ctx, ws)
	if err != nil {
		return nil, err
	}
	emulated, err := buildkey.MadeEmulatedBases(ctx, ws)
	if err != nil {
		return nil, err
	}
	return buildKeyPlan(ctx, ws, base, emulated, c)
}
