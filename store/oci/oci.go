// Package oci keeps the package store's files of a lock in an OCI
// registry, so a CI farm or a release archive keeps the exact archive
// packages a release was built from (docs/lock.md). It reaches registries
// as the artifact cache does (cache/oci, registry): go-containerregistry,
// plain HTTP on loopback, credentials from the docker config.
//
// The files of one stx.lock are one OCI artifact: an OCI image manifest
// with
//   - artifactType ArtifactType;
//   - a config blob of media type LockMediaType: the stx.lock, byte for
//     byte, so the artifact says what it holds;
//   - one layer per file, stored as it is (its digest is the file's
//     sha256, the lock's), of media type DebMediaType, annotated with its
//     file name (org.opencontainers.image.title), sorted by name.
//
// Push uploads only the blobs the registry does not have
// (go-containerregistry asks for each first). Pull trusts the local
// stx.lock, not the registry: it fetches only the files the local store
// lacks, and each is checked against the lock's size and sha256 before it
// is stored (store.Store.Put), so a registry can withhold a file but never
// replace one.
package oci

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/stx-build/stx-build/registry"
	"github.com/stx-build/stx-build/store"
)

// Media types and annotations of a store artifact.
const (
	ArtifactType    = "application/vnd.stx-build.store.v1"
	LockMediaType   = "application/vnd.stx-build.lock.v1"
	DebMediaType    = "application/vnd.debian.binary-package"
	AnnotationTitle = registry.AnnotationTitle
)

// Options configure Push and Pull.
type Options struct {
	// Insecure allows plain HTTP. It is on by itself for loopback
	// registries.
	Insecure bool
	// Keychain finds credentials; default authn.DefaultKeychain.
	Keychain authn.Keychain
	// Transport is the HTTP transport (default: remote.DefaultTransport).
	Transport http.RoundTripper
	// Parallel is how many blobs Pull fetches at once (0: 4).
	Parallel int
}

func (o Options) remote(ctx context.Context) []remote.Option {
	kc := o.Keychain
	if kc == nil {
		kc = authn.DefaultKeychain
	}
	ro := []remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(kc), remote.WithUserAgent("stx-build")}
	if o.Transport != nil {
		ro = append(ro, remote.WithTransport(o.Transport))
	}
	return ro
}

func parseRef(ref string, insecure bool) (name.Reference, error) {
	var opts []name.Option
	if insecure || registry.Loopback(ref) {
		opts = append(opts, name.Insecure)
	}
	r, err := name.ParseReference(ref, append(opts, name.StrictValidation)...)
	if err != nil {
		return nil, fmt.Errorf("store registry %q: want host/path:tag (or @sha256:...): %w", ref, err)
	}
	return r, nil
}

// Push uploads the files lockText (an stx.lock) names from st as one
// artifact tagged ref. Every file must be in the store (stx-build fetch
// puts them there); the registry's existing blobs are not uploaded again.
// It returns the artifact's manifest digest.
func Push(ctx context.Context, ref string, st *store.Store, lockText []byte, opts Options) (v1.Hash, error) {
	r, err := parseRef(ref, opts.Insecure)
	if err != nil {
		return v1.Hash{}, err
	}
	lock, err := store.ParseLock(store.LockFile, strings.NewReader(string(lockText)))
	if err != nil {
		return v1.Hash{}, err
	}
	items := lock.Items()
	if missing := st.Missing(items); len(missing) > 0 {
		return v1.Hash{}, fmt.Errorf("push %s: the package store %s lacks %d of the %d files %s names (stx-build fetch downloads them), first %s",
			r, st.Dir, len(missing), len(items), store.LockFile, missing[0].Name)
	}
	img, err := newArtifact(st, lockText, items)
	if err != nil {
		return v1.Hash{}, err
	}
	if err := remote.Write(r, img, opts.remote(ctx)...); err != nil {
		return v1.Hash{}, fmt.Errorf("push %s: %w", r, err)
	}
	return img.Digest()
}

// PullResult says what Pull did.
type PullResult struct {
	// Present is how many files the store had already, Fetched how many
	// were downloaded (of Bytes bytes).
	Present, Fetched int
	Bytes            int64
}

// Pull fetches into st the files lock names that st lacks, from the
// artifact ref, each checked against the lock. Files the artifact does
// not hold are an error naming them (after the others were fetched).
func Pull(ctx context.Context, ref string, st *store.Store, lock *store.Lock, opts Options) (PullResult, error) {
	var res PullResult
	r, err := parseRef(ref, opts.Insecure)
	if err != nil {
		return res, err
	}
	items := lock.Items()
	missing := st.Missing(items)
	res.Present = len(items) - len(missing)
	if len(missing) == 0 {
		return res, nil
	}
	ro := opts.remote(ctx)
	desc, err := remote.Get(r, ro...)
	if err != nil {
		return res, fmt.Errorf("pull %s: %w", r, err)
	}
	m, err := v1.ParseManifest(strings.NewReader(string(desc.Manifest)))
	if err != nil {
		return res, fmt.Errorf("pull %s: manifest: %w", r, err)
	}
	if m.Config.MediaType != LockMediaType {
		return res, fmt.Errorf("pull %s: config media type %s, want %s (not a stx-build package store)", r, m.Config.MediaType, LockMediaType)
	}
	has := map[string]bool{}
	for _, l := range m.Layers {
		if l.Digest.Algorithm == "sha256" {
			has[l.Digest.Hex] = true
		}
	}
	var absent []string
	var fetch []store.Item
	for _, it := range missing {
		if has[it.SHA256] {
			fetch = append(fetch, it)
		} else {
			absent = append(absent, it.Name)
		}
	}
	errs := pullBlobs(r.Context(), st, fetch, opts.Parallel, ro)
	for i, e := range errs {
		if e == nil {
			res.Fetched++
			res.Bytes += fetch[i].Size
		}
	}
	err = errors.Join(errs...)
	if len(absent) > 0 {
		err = errors.Join(err, fmt.Errorf("%s holds no file for %d packages of %s: %s", r, len(absent), store.LockFile, strings.Join(absent, ", ")))
	}
	if err != nil {
		return res, fmt.Errorf("pull %s: %w", r, err)
	}
	return res, nil
}

// pullBlobs fetches each item's blob from repo into st, parallel at a
// time, and returns each one's error.
func pullBlobs(repo name.Repository, st *store.Store, items []store.Item, parallel int, ro []remote.Option) []error {
	if parallel <= 0 {
		parallel = 4
	}
	errs := make([]error, len(items))
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for i, it := range items {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			errs[i] = pullBlob(repo, st, it, ro)
		}()
	}
	wg.Wait()
	return errs
}

func pullBlob(repo name.Repository, st *store.Store, it store.Item, ro []remote.Option) error {
	l, err := remote.Layer(repo.Digest("sha256:"+it.SHA256), ro...)
	if err != nil {
		return fmt.Errorf("%s: %w", it.Name, err)
	}
	rc, err := l.Compressed()
	if err != nil {
		return fmt.Errorf("%s: %w", it.Name, err)
	}
	defer rc.Close()
	it.URL = repo.String() + "@sha256:" + it.SHA256
	_, err = st.Put(it, rc)
	return err
}

// newArtifact is the store's files of a lock as a v1.Image, its layers
// read from the store when pushed.
func newArtifact(st *store.Store, lockText []byte, items []store.Item) (v1.Image, error) {
	a := registry.Artifact{ArtifactType: ArtifactType, Config: lockText, ConfigType: LockMediaType}
	seen := map[string]bool{}
	for _, it := range items { // sorted by name
		if seen[it.SHA256] {
			continue // one file under two names: one blob
		}
		seen[it.SHA256] = true
		a.Files = append(a.Files, registry.File{Name: it.Name, Path: st.Path(it.SHA256), Size: it.Size, SHA256: it.SHA256, MediaType: DebMediaType})
	}
	return a.Image()
}
