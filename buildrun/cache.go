package buildrun

import (
	"context"
	"io"
	"path/filepath"

	"github.com/stx-build/stx-build/builders/deb"
	"github.com/stx-build/stx-build/cache"
	"github.com/stx-build/stx-build/cache/filehash"
	"github.com/stx-build/stx-build/cache/oci"
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
// source, version and architecture. log receives remote problems. The
// hasher is returned for build keys over the same files.
func OpenCache(cacheDir string, r CacheRemotes, log io.Writer) (*cache.Cache, *filehash.Hasher, error) {
	ropts := oci.Options{Insecure: r.Insecure}
	if err := ropts.LoadKeys(r.SignKey, r.Trust); err != nil {
		return nil, nil, err
	}
	from, to, err := oci.Remotes(r.From, r.To, ropts)
	if err != nil {
		return nil, nil, err
	}
	h := filehash.New(filepath.Join(cacheDir, cache.StatCacheDir))
	c, err := cache.Open(cache.Options{
		Dir: filepath.Join(cacheDir, cache.ArtifactsDir), From: from, To: to, Hasher: h, Log: log,
		Check: checkDebs,
	})
	return c, h, err
}

// checkDebs is the cache's content check: a package build's artifacts
// must say they are of its source, version and architecture.
func checkDebs(ctx context.Context, b cache.Build, files []string) error {
	return deb.CheckArtifacts(ctx, b.Package, b.Version, b.Arch, files)
}
