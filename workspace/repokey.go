package workspace

import (
	"context"
	"os"
	"path/filepath"
	"sync"

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

var repoSignerMu sync.Mutex

// RepoSigner returns the signer of the project's local repositories: the
// key $STX_REPO_SIGNING_KEY names, or the cache's own throwaway key (made
// on first use). Either way RepoKeyring then holds its public key.
func (w *Workspace) RepoSigner(ctx context.Context) (*repo.Signer, error) {
	repoSignerMu.Lock()
	defer repoSignerMu.Unlock()
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
