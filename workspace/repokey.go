package workspace

import (
	"context"
	"os"
	"path/filepath"
	"slices"

	"github.com/stx-build/stx-build/repo"
)

// RepoKeyEnv names a secret OpenPGP key file (armored or binary, no
// passphrase) that signs the project's local apt repositories. Without
// it each cache keeps a throwaway key of its own (RepoKeyDir).
const RepoKeyEnv = "STX_REPO_SIGNING_KEY"

// repoKeyDir is the key directory under the cache directory.
const repoKeyDir = "repo-key"

// RepoKeyDir holds the key that signs the local repositories built with
// this cache, and its public keyring (RepoKeyring).
func (w *Workspace) RepoKeyDir() string { return filepath.Join(w.CacheDir(), repoKeyDir) }

// RepoKeyring is the public keyring that verifies the local
// repositories: what build environments and image and ISO roots name in
// signed-by= instead of trusting the repositories. RepoSigner writes it.
func (w *Workspace) RepoKeyring() string { return repo.KeyringPath(w.RepoKeyDir()) }

// RepoSigner returns the signer of the project's local repositories: the
// key $STX_REPO_SIGNING_KEY names, or the cache's own throwaway key (made
// on first use). Either way RepoKeyring then holds its public key.
func (w *Workspace) RepoSigner(ctx context.Context) (*repo.Signer, error) {
	w.repoSignerMu.Lock()
	defer w.repoSignerMu.Unlock()
	if w.repoSigner != nil {
		return w.repoSigner, nil
	}
	var (
		s   *repo.Signer
		err error
	)
	if path := os.Getenv(RepoKeyEnv); path != "" {
		if s, err = repo.LoadSigner(path); err == nil {
			err = s.WriteKeyring(w.RepoKeyring())
		}
	} else {
		s, err = repo.OpenSigner(ctx, w.RepoKeyDir())
	}
	if err != nil {
		return nil, err
	}
	w.repoSigner = s
	return s, nil
}

// SignRepos makes the existing local repositories among dirs (by
// architecture) signed with the project's repository key (a repository a
// package build made with another key, or before repositories were
// signed, is re-signed) and returns the keyring that verifies them: what
// image and ISO roots name in signed-by=.
func (w *Workspace) SignRepos(ctx context.Context, dirs map[string]string) (string, error) {
	s, err := w.RepoSigner(ctx)
	if err != nil {
		return "", err
	}
	archs := make([]string, 0, len(dirs))
	for a := range dirs {
		archs = append(archs, a)
	}
	slices.Sort(archs)
	for _, a := range archs {
		if _, err := os.Stat(filepath.Join(dirs[a], "dists")); err != nil {
			continue // no repository there (yet): nothing to sign
		}
		r, err := repo.Open(dirs[a], a)
		if err != nil {
			return "", err
		}
		if err := r.EnsureSigned(ctx, s); err != nil {
			return "", err
		}
	}
	return w.RepoKeyring(), nil
}
