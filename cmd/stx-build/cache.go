package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/stx-build/stx-build/builders/deb"
	"github.com/stx-build/stx-build/cache"
	"github.com/stx-build/stx-build/cache/filehash"
	"github.com/stx-build/stx-build/cache/oci"
	"github.com/stx-build/stx-build/ramdisk"
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

// remoteOptions loads the signing and trusted keys the flags name.
func (cf *cacheFlags) remoteOptions() (oci.Options, error) {
	opts := oci.Options{Insecure: cf.insecure}
	if cf.signKey != "" {
		k, err := oci.LoadPrivateKey(cf.signKey)
		if err != nil {
			return opts, fmt.Errorf("--cache-sign-key: %w", err)
		}
		opts.SignKey = k
	}
	for _, p := range cf.trust {
		k, err := oci.LoadPublicKey(p)
		if err != nil {
			return opts, fmt.Errorf("--cache-trust: %w", err)
		}
		opts.TrustedKeys = append(opts.TrustedKeys, k)
	}
	return opts, nil
}

// open opens the artifact cache in cacheDir with the remotes the flags
// name; log receives remote problems.
func (cf *cacheFlags) open(cacheDir string, log io.Writer) (*cache.Cache, *filehash.Hasher, error) {
	ropts, err := cf.remoteOptions()
	if err != nil {
		return nil, nil, err
	}
	from, to, err := oci.Remotes(cf.from, cf.to, ropts)
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

// localCache opens the local artifact cache for the packages image, iso
// and all build: what `stx-build build` built is restored, not built again,
// and a concurrent run on the same cache waits for a build it needs rather
// than making it twice. The registry flags are build's.
func localCache(ws *workspace.Workspace, log io.Writer) (*cache.Cache, error) {
	c, _, err := (&cacheFlags{}).open(ws.CacheDir(), log)
	return c, err
}

func newCacheCmd(g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cache",
		Short: "Inspect and maintain the build artifact cache",
		Long: `The artifact cache keeps every package build's results by its build key (a
digest of everything that decides what the build produces), under
CACHE/artifacts, and optionally in an OCI registry (--cache-from,
--cache-to). See docs/cache.md.`,
	}
	cmd.AddCommand(newCacheStatsCmd(g), newCachePruneCmd(g), newCacheVerifyCmd(g), newCacheKeysCmd(g), newCacheExplainCmd(g), newCacheKeygenCmd())
	return cmd
}

func (g *globalFlags) cacheRoot() string {
	if g.cacheDir != "" {
		return g.cacheDir
	}
	return workspace.DefaultCacheDir()
}

func (g *globalFlags) openLocal() (*cache.Local, error) {
	return cache.OpenLocal(filepath.Join(g.cacheRoot(), cache.ArtifactsDir))
}

func newCacheStatsCmd(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "stats",
		Short: "Count the cached entries and their size",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			l, err := g.openLocal()
			if err != nil {
				return err
			}
			st, err := l.Stats(cmd.Context())
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "store:    %s\n", l.Dir())
			fmt.Fprintf(w, "entries:  %d (%d package/architecture pairs), %s\n", st.Entries, st.Packages, ramdisk.FormatSize(st.Bytes))
			archs := make([]string, 0, len(st.PerArch))
			for a := range st.PerArch {
				archs = append(archs, a)
			}
			slices.Sort(archs)
			for _, a := range archs {
				fmt.Fprintf(w, "  %-8s%d\n", a+":", st.PerArch[a])
			}
			if st.Entries > 0 {
				fmt.Fprintf(w, "used:     %s .. %s\n", st.Oldest.UTC().Format(time.RFC3339), st.Newest.UTC().Format(time.RFC3339))
			}
			if st.Unreadable > 0 {
				fmt.Fprintf(w, "unreadable entries: %d (stx-build cache verify removes them)\n", st.Unreadable)
			}
			return nil
		},
	}
}

func newCacheVerifyCmd(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "verify",
		Short: "Re-hash every cached file and remove corrupted entries",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			l, err := g.openLocal()
			if err != nil {
				return err
			}
			res, err := l.Verify(cmd.Context())
			if res != nil {
				w := cmd.OutOrStdout()
				fmt.Fprintf(w, "checked %d entries, %s intact\n", res.Checked, ramdisk.FormatSize(res.Bytes))
				if len(res.Removed) > 0 {
					printRemoved(w, "removed", res.Removed)
				}
			}
			return err
		},
	}
}

func newCacheKeygenCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "keygen PREFIX",
		Short: "Make a key pair that signs cache registry entries (PREFIX.key, PREFIX.pub)",
		Long: `Writes a new ed25519 key pair: PREFIX.key (private, mode 0600) for the
machines that push (--cache-sign-key) and PREFIX.pub for everyone who pulls
(--cache-trust). The files are PEM, as openssl genpkey -algorithm ed25519
writes them. See docs/cache.md.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := oci.GenerateKey(args[0]+".key", args[0]+".pub")
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "key %s: private %s.key, public %s.pub\n", id, args[0], args[0])
			return nil
		},
	}
}
