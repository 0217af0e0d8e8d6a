package main

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/spf13/cobra"

	"github.com/stx-build/stx-build/buildrun"
	"github.com/stx-build/stx-build/internal/atomicfile"
	"github.com/stx-build/stx-build/store"
)

// lockPath is the project's stx.lock.
func (g *globalFlags) lockPath() string {
	dir := g.dir
	if dir == "" {
		dir = "."
	}
	return filepath.Join(dir, store.LockFile)
}

// readLock reads the project's stx.lock; none: nil.
func (g *globalFlags) readLock() (*store.Lock, error) {
	p := g.lockPath()
	data, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return store.ParseLock(p, bytes.NewReader(data))
}

func newLockCmd(g *globalFlags) *cobra.Command {
	var (
		update bool
		archs  []string
		out    string
	)
	cmd := &cobra.Command{
		Use:   "lock",
		Short: "Pin every archive package the builds install in stx.lock",
		Long: `Resolve the build-dependency environment of every package for every
architecture (building the project's packages, which later ones may need,
without the artifact cache) and write stx.lock beside stx.yaml: per suite
and architecture each archive package installed (name, version,
architecture, size, sha256, URL) and the digests of the archive's Release
files. With stx.lock present, builds install exactly the locked versions
and refuse packages the lock does not hold. An existing lock is only
rewritten with --update, which resolves everything again against the
archive as it is now. Format and workflow: docs/lock.md.`,
		Example: `  stx-build lock -C examples
  stx-build lock -C examples --update && git diff examples/stx.lock`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			path := g.lockPath()
			if _, err := os.Stat(path); err == nil && !update {
				return fmt.Errorf("%s exists: stx-build lock --update resolves again and rewrites it", path)
			}
			ws, err := g.open()
			if err != nil {
				return err
			}
			var mu sync.Mutex
			lock := &store.Lock{}
			opts := buildrun.Options{Archs: archs, OutDir: out, KeepGoing: true,
				OnResolved: func(s *store.LockSet) {
					mu.Lock()
					defer mu.Unlock()
					set := lock.Set(s.Suite, s.Arch)
					set.Releases = s.Releases
					for _, p := range s.Packages {
						set.Add(p)
					}
				},
			}
			if out == "" {
				// The builds are how the sets are found, not results.
				tmp, err := os.MkdirTemp(ws.CacheDir(), "lock-out-")
				if err != nil {
					return err
				}
				defer os.RemoveAll(tmp)
				opts.OutDir = tmp
			}
			if _, err := buildrun.Run(cmd.Context(), ws, opts); err != nil {
				return fmt.Errorf("lock: %w (nothing written)", err)
			}
			if err := atomicfile.Write(path, lock.Marshal(), 0o644); err != nil {
				return err
			}
			n := 0
			for _, s := range lock.Sets {
				n += len(s.Packages)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s: %d packages in %d sets\n", path, n, len(lock.Sets))
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVar(&update, "update", false, "resolve again and rewrite an existing stx.lock")
	f.StringSliceVar(&archs, "arch", nil, "architectures to lock (default: the project's)")
	f.StringVarP(&out, "out", "o", "", "keep the builds' output here (default: a temporary directory)")
	return cmd
}

func newFetchCmd(g *globalFlags) *cobra.Command {
	var offline bool
	cmd := &cobra.Command{
		Use:   "fetch",
		Short: "Download every package stx.lock names into the package store",
		Long: `Download every archive package stx.lock names into the package store
(CACHE/store, by sha256), each checked against the lock's size and sha256;
packages already there are not fetched again. With --offline nothing is
downloaded: the command fails listing what the store lacks, so a build
that must run without network can be checked first.`,
		Example: `  stx-build fetch -C examples
  stx-build fetch -C examples --offline`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			lock, err := g.readLock()
			if err != nil {
				return err
			}
			if lock == nil {
				return fmt.Errorf("%s: no lock (stx-build lock writes it)", g.lockPath())
			}
			st := store.New(filepath.Join(g.cacheRoot(), "store"))
			items := lock.Items()
			missing := st.Missing(items)
			w := cmd.OutOrStdout()
			if offline {
				if len(missing) > 0 {
					names := make([]string, len(missing))
					for i, it := range missing {
						names[i] = "  " + it.Name
					}
					return fmt.Errorf("--offline: the store %s lacks %d of the %d packages %s names (stx-build fetch downloads them):\n%s",
						st.Dir, len(missing), len(items), store.LockFile, strings.Join(names, "\n"))
				}
				fmt.Fprintf(w, "all %d packages of %s are in %s\n", len(items), store.LockFile, st.Dir)
				return nil
			}
			if _, err := st.FetchAll(cmd.Context(), items); err != nil {
				return err
			}
			fmt.Fprintf(w, "%d packages in %s (%d fetched)\n", len(items), st.Dir, len(missing))
			return nil
		},
	}
	cmd.Flags().BoolVar(&offline, "offline", false, "download nothing; fail listing what the store lacks")
	return cmd
}
