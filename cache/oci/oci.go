// Package oci keeps cache entries in an OCI registry, one OCI artifact per
// build, tagged by its build key, through go-containerregistry. It
// implements cache.Remote.
//
// An entry is an OCI image manifest (media type
// application/vnd.oci.image.manifest.v1+json) with
//   - artifactType ArtifactType;
//   - a config blob of media type ConfigMediaType: the entry's
//     manifest.json, byte for byte (build, key inputs, file digests);
//   - one layer per artifact file, uncompressed, of media type
//     DebMediaType (.deb, .udeb, .ddeb) or FileMediaType (anything else),
//     annotated with its file name (org.opencontainers.image.title);
//   - annotations naming the package, version, architecture and key.
//
// Pull refuses an entry unless every blob's sha256 and size match the
// registry manifest and the file list in the config, so a tampered or
// truncated blob is never restored. With Options.SignKey every entry
// pushed is signed (ed25519, AnnotationSignature over the key and the
// config digest); with Options.TrustedKeys Pull refuses entries that are
// unsigned or signed by another key (ErrUntrusted): whoever can push to
// the registry cannot replace a package for those who pull.
package oci

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/stx-build/stx-build/cache"
	"github.com/stx-build/stx-build/registry"
)

// Media types and annotations of a cache entry.
const (
	ArtifactType    = "application/vnd.stx-build.artifact.v1"
	ConfigMediaType = "application/vnd.stx-build.artifact.config.v1+json"
	DebMediaType    = "application/vnd.debian.binary-package"
	FileMediaType   = "application/vnd.stx-build.file.v1"

	AnnotationTitle   = registry.AnnotationTitle
	AnnotationKey     = "dev.stx-build.key"
	AnnotationPackage = "dev.stx-build.package"
	AnnotationVersion = "dev.stx-build.version"
	AnnotationArch    = "dev.stx-build.arch"
)

// maxConfigSize bounds the config blob read on pull (a kernel tree's key
// inputs take a few MiB).
const maxConfigSize = 64 << 20

// Options configure New.
type Options struct {
	// Insecure allows plain HTTP. It is on by itself for localhost,
	// 127.0.0.1 and ::1.
	Insecure bool
	// Keychain finds credentials; default authn.DefaultKeychain (the
	// docker config: ~/.docker/config.json or $DOCKER_CONFIG, with its
	// credential helpers).
	Keychain authn.Keychain
	// Transport is the HTTP transport (default: remote.DefaultTransport).
	Transport http.RoundTripper
	// SignKey, when set, signs every entry pushed (AnnotationSignature).
	SignKey ed25519.PrivateKey
	// TrustedKeys, when not empty, make Pull refuse (ErrUntrusted) every
	// entry that is not signed by one of them.
	TrustedKeys []ed25519.PublicKey
}

// Remote is a repository in a registry holding cache entries by key.
type Remote struct {
	repo     name.Repository
	keychain authn.Keychain
	tr       http.RoundTripper
	signKey  ed25519.PrivateKey
	trusted  []ed25519.PublicKey
}

// New returns the remote for a repository reference without tag or digest,
// e.g. "127.0.0.1:5000/stx/cache" or "registry.example.com/team/stx-cache".
func New(ref string, opts Options) (*Remote, error) {
	repo, err := registry.ParseRepository(ref, opts.Insecure)
	if err != nil {
		return nil, fmt.Errorf("cache registry %q: want a repository (host/path, no tag or digest): %w", ref, err)
	}
	r := &Remote{repo: repo, keychain: opts.Keychain, tr: opts.Transport, signKey: opts.SignKey, trusted: opts.TrustedKeys}
	if r.keychain == nil {
		r.keychain = authn.DefaultKeychain
	}
	return r, nil
}

// Remotes makes the remotes of --cache-from (tried in order) and
// --cache-to references; to is nil when toRef is empty.
func Remotes(fromRefs []string, toRef string, opts Options) (from []cache.Remote, to cache.Remote, err error) {
	for _, ref := range fromRefs {
		r, err := New(ref, opts)
		if err != nil {
			return nil, nil, err
		}
		from = append(from, r)
	}
	if toRef != "" {
		r, err := New(toRef, opts)
		if err != nil {
			return nil, nil, err
		}
		to = r
	}
	return from, to, nil
}

// String is the repository reference.
func (r *Remote) String() string { return r.repo.String() }

func (r *Remote) options(ctx context.Context) []remote.Option {
	o := []remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(r.keychain), remote.WithUserAgent("stx-build")}
	if r.tr != nil {
		o = append(o, remote.WithTransport(r.tr))
	}
	return o
}

func (r *Remote) tag(key cache.Key) (name.Tag, error) {
	if !key.Valid() {
		return name.Tag{}, fmt.Errorf("invalid key %q", key)
	}
	return r.repo.Tag(string(key)), nil
}

func notFound(err error) bool {
	var te *transport.Error
	if errors.As(err, &te) {
		if te.StatusCode == http.StatusNotFound {
			return true
		}
		for _, d := range te.Errors {
			if d.Code == transport.ManifestUnknownErrorCode || d.Code == transport.NameUnknownErrorCode {
				return true
			}
		}
	}
	return false
}

// Has reports whether the registry has a manifest tagged key.
func (r *Remote) Has(ctx context.Context, key cache.Key) (bool, error) {
	tag, err := r.tag(key)
	if err != nil {
		return false, err
	}
	if _, err := remote.Head(tag, r.options(ctx)...); err != nil {
		if notFound(err) {
			return false, nil
		}
		return false, err
	}
	return true, nil
}

// Push uploads e as an artifact tagged by its key, unless the tag exists.
func (r *Remote) Push(ctx context.Context, e *cache.Entry) error {
	key := e.Manifest.Key
	tag, err := r.tag(key)
	if err != nil {
		return err
	}
	if ok, err := r.Has(ctx, key); err != nil {
		return err
	} else if ok {
		return nil
	}
	img, err := newArtifact(e, r.signKey)
	if err != nil {
		return err
	}
	if err := remote.Write(tag, img, r.options(ctx)...); err != nil {
		return fmt.Errorf("push %s: %w", tag, err)
	}
	return nil
}

// Pull writes key's entry into dir, refusing it (an error wrapping
// cache.ErrCorrupt) unless every blob matches its digest and size.
func (r *Remote) Pull(ctx context.Context, key cache.Key, dir string) error {
	tag, err := r.tag(key)
	if err != nil {
		return err
	}
	desc, err := remote.Get(tag, r.options(ctx)...)
	if err != nil {
		if notFound(err) {
			return fmt.Errorf("%s: %w", tag, cache.ErrNotFound)
		}
		return fmt.Errorf("%s: %w", tag, err)
	}
	corrupt := func(format string, args ...any) error {
		return fmt.Errorf("%s: %w: %s", tag, cache.ErrCorrupt, fmt.Sprintf(format, args...))
	}
	if desc.MediaType != types.OCIManifestSchema1 {
		return corrupt("manifest media type %s, want %s", desc.MediaType, types.OCIManifestSchema1)
	}
	m, err := v1.ParseManifest(bytes.NewReader(desc.Manifest))
	if err != nil {
		return corrupt("manifest: %v", err)
	}
	if m.Config.MediaType != ConfigMediaType {
		return corrupt("config media type %s, want %s (not a stx-build cache entry)", m.Config.MediaType, ConfigMediaType)
	}
	if m.Config.Size > maxConfigSize || m.Config.Digest.Algorithm != "sha256" {
		return corrupt("config blob %s of %d bytes refused", m.Config.Digest, m.Config.Size)
	}
	if len(r.trusted) > 0 {
		if err := verify(r.trusted, m.Annotations[AnnotationSignature], key, m.Config.Digest); err != nil {
			return fmt.Errorf("%s: %w", tag, err)
		}
	}
	img, err := desc.Image()
	if err != nil {
		return fmt.Errorf("%s: %w", tag, err)
	}
	raw, err := img.RawConfigFile()
	if err != nil {
		return blobError(tag, "config", err)
	}
	if err := checkBlob(raw, m.Config); err != nil {
		return corrupt("config: %v", err)
	}
	cm, err := cache.ParseManifest(raw)
	if err != nil {
		return corrupt("config: %v", err)
	}
	if cm.Key != key {
		return corrupt("config is for key %s", cm.Key.Short())
	}
	if len(m.Layers) != len(cm.Files) {
		return corrupt("%d layers, config lists %d files", len(m.Layers), len(cm.Files))
	}
	for i, l := range m.Layers {
		f := cm.Files[i]
		if l.Annotations[AnnotationTitle] != f.Name || l.Size != f.Size || l.Digest.Algorithm != "sha256" || l.Digest.Hex != f.SHA256 {
			return corrupt("layer %d (%s %s, %d bytes) does not match file %s (sha256:%s, %d bytes) in the config",
				i, l.Annotations[AnnotationTitle], l.Digest, l.Size, f.Name, f.SHA256, f.Size)
		}
		if err := r.pullFile(img, l, f, filepath.Join(dir, f.Name)); err != nil {
			if errors.Is(err, cache.ErrCorrupt) {
				return fmt.Errorf("%s: %w", tag, err)
			}
			return blobError(tag, f.Name, err)
		}
	}
	return os.WriteFile(filepath.Join(dir, cache.ManifestFile), raw, 0o644)
}

// blobError classifies a failed blob read: go-containerregistry's own
// digest and size checks fail with "error verifying ..." messages.
func blobError(tag name.Tag, what string, err error) error {
	if strings.Contains(err.Error(), "error verifying") {
		return fmt.Errorf("%s: %s: %w: %v", tag, what, cache.ErrCorrupt, err)
	}
	return fmt.Errorf("%s: %s: %w", tag, what, err)
}

func checkBlob(data []byte, d v1.Descriptor) error {
	sum := sha256.Sum256(data)
	if int64(len(data)) != d.Size || hex.EncodeToString(sum[:]) != d.Digest.Hex {
		return fmt.Errorf("blob is sha256:%x, %d bytes; manifest says %s, %d bytes", sum, len(data), d.Digest, d.Size)
	}
	return nil
}

// pullFile copies one layer into path, hashing what it writes and reading
// at most one byte more than the expected size.
func (r *Remote) pullFile(img v1.Image, d v1.Descriptor, f cache.File, path string) error {
	l, err := img.LayerByDigest(d.Digest)
	if err != nil {
		return err
	}
	rc, err := l.Compressed()
	if err != nil {
		return err
	}
	defer rc.Close()
	out, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(out, h), io.LimitReader(rc, f.Size+1))
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if sum := hex.EncodeToString(h.Sum(nil)); n != f.Size || sum != f.SHA256 {
		return fmt.Errorf("%s: %w: got sha256:%s, %d bytes; want sha256:%s, %d bytes", f.Name, cache.ErrCorrupt, sum, n, f.SHA256, f.Size)
	}
	return nil
}

// newArtifact is a cache entry as a v1.Image, its layers read from the
// entry's files when pushed.
func newArtifact(e *cache.Entry, signKey ed25519.PrivateKey) (v1.Image, error) {
	config, err := os.ReadFile(filepath.Join(e.Dir, cache.ManifestFile))
	if err != nil {
		return nil, err
	}
	b := e.Manifest.Build
	a := registry.Artifact{
		ArtifactType: ArtifactType, Config: config, ConfigType: ConfigMediaType,
		Annotations: map[string]string{
			AnnotationKey: string(b.Key), AnnotationPackage: b.Package,
			AnnotationVersion: b.Version, AnnotationArch: b.Arch,
		},
	}
	if signKey != nil {
		sum := sha256.Sum256(config)
		a.Annotations[AnnotationSignature] = sign(signKey, b.Key, v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])})
	}
	for _, f := range e.Manifest.Files {
		a.Files = append(a.Files, registry.File{Name: f.Name, Path: e.Path(f.Name), Size: f.Size, SHA256: f.SHA256, MediaType: mediaType(f.Name)})
	}
	return a.Image()
}

func mediaType(file string) types.MediaType {
	switch filepath.Ext(file) {
	case ".deb", ".udeb", ".ddeb":
		return DebMediaType
	}
	return FileMediaType
}
