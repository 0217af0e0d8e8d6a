package main

import (
	"context"
	"io"
	"os"
	"strings"

	"github.com/spf13/pflag"

	"github.com/stx-build/stx-build/buildrun"
	"github.com/stx-build/stx-build/cache"
	"github.com/stx-build/stx-build/workspace"
)

// cacheFlags are the artifact cache options of the commands that use the
// cache (build, cache keys, cache explain).
type cacheFlags struct {
	from     []string
	to       string
	insecure bool
	signKey  string
	trust    []string
}

// addCacheFlags adds --cache-from, --cache-insecure and, with push,
// --cache-to to f.
func addCacheFlags(f *pflag.FlagSet, push bool) *cacheFlags {
	cf := &cacheFlags{}
	f.StringSliceVar(&cf.from, "cache-from", nil, "OCI registry repository to pull build artifacts from on a local miss (repeatable), e.g. 127.0.0.1:5000/stx/cache")
	if push {
		f.StringVar(&cf.to, "cache-to", "", "OCI registry repository to push build artifacts to")
	}
	f.BoolVar(&cf.insecure, "cache-insecure", false, "talk plain HTTP to the cache registries (always allowed for localhost and 127.0.0.1)")
	if push {
		f.StringVar(&cf.signKey, "cache-sign-key", os.Getenv("STX_CACHE_SIGN_KEY"), "ed25519 private key (PEM) that signs every entry pushed to --cache-to (stx-build cache keygen; default $STX_CACHE_SIGN_KEY)")
	}
	f.StringSliceVar(&cf.trust, "cache-trust", envList("STX_CACHE_TRUST"), "public key (PEM) whose signatures --cache-from entries must carry (repeatable; unsigned or otherwise signed entries are refused and built; default $STX_CACHE_TRUST, comma-separated)")
	return cf
}

// envList is a comma-separated environment variable as a list.
func envList(name string) []string {
	var out []string
	for _, v := range strings.Split(os.Getenv(name), ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// open opens the artifact cache in cacheDir with the registries the flags
// name; log receives remote problems.
func (cf *cacheFlags) open(cacheDir string, log io.Writer) (*cache.Cache, error) {
	return buildrun.OpenCache(cacheDir, buildrun.CacheRemotes{
		From: cf.from, To: cf.to, Insecure: cf.insecure, SignKey: cf.signKey, Trust: cf.trust,
	}, log)
}

// buildPackages builds the packages image, iso and all need first, on the
// local artifact cache: what `stx-build build` built is restored, not
// built again, and a concurrent run on the same cache waits for a build it
// needs rather than making it twice. The registry flags are build's.
func buildPackages(ctx context.Context, ws *workspace.Workspace, opts buildrun.Options, stderr io.Writer) (*buildrun.Result, error) {
	c, err := buildrun.OpenCache(ws.CacheDir(), buildrun.CacheRemotes{}, stderr)
	if err != nil {
		return nil, err
	}
	opts.Cache = c
	res, err := buildrun.Run(ctx, ws, opts)
	return res, ws.WithLockHint(err)
}
