package image

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/stx-build/stx-build/internal/flock"
	"github.com/stx-build/stx-build/layer"
	"github.com/stx-build/stx-build/rootfs"
)

// The archive layer. The bottom image of a chain whose root is made on a
// cached archive root (rootfs's layered assembly) is written as two
// layers: the archive's packages (the archive root, normalized and cleaned
// up as the image says), then the project's packages on top: the
// difference between that and the finished root. Both trees have every
// mtime set to the epoch (rootfs.ClampTimes), so the two layers give
// exactly the finished root, the one a single layer would hold
// (TestArchiveLayer). The first layer depends
// only on the archive root, the image's cleanup and the epoch: it is kept
// in the layer cache and reused, so a change to a project package
// rewrites only the small second layer, and registries and hosts keep the
// first once for every image and every build on the same archive state.

// LayersDir is the usual directory of cached archive layers in a cache
// directory (WithLayerCache).
const LayersDir = "image-layers"

// archiveLayerRecipe changes when the way an archive layer is made does.
const archiveLayerRecipe = "1"

// Files of a layer cache entry.
const (
	layerTree = "tree"         // the normalized, cleaned-up archive root
	layerBlob = "layer.tar.gz" // its layer
	layerMeta = "layer.json"   // layer.File without Path
)

// archiveLayer is a cached archive layer and the tree it was written from
// (the lower tree of the project's layer).
type archiveLayer struct {
	file *layer.File
	tree string
}

// archiveLayerKey is the digest of what an archive layer is made from.
func archiveLayerKey(archiveKey string, cleanup []string, epoch time.Time) string {
	data, _ := json.Marshal(struct {
		Recipe, Archive string
		Cleanup         []string
		Epoch           int64
		Gzip            int
	}{archiveLayerRecipe, archiveKey, cleanup, epoch.Unix(), layer.DefaultGzipLevel})
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// archiveLayer returns the archive layer of the cached archive root
// cached (cache key archiveKey), making it in the layer cache dir when
// it is not there. Concurrent builds wait on <dir>/<key>.lock for the one
// making it; a made entry never changes.
func (b *Builder) archiveLayer(ctx context.Context, spec rootfs.AssembleSpec, archiveKey, cached string, cleanup []string, epoch time.Time, dir string, mu *sync.Mutex) (*archiveLayer, error) {
	key := archiveLayerKey(archiveKey, cleanup, epoch)
	entry := filepath.Join(dir, key)
	if al, err := loadArchiveLayer(entry); err != nil || al != nil {
		return al, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	unlock, err := flock.LockPathWait(ctx, entry+".lock", flock.Exclusive, func() {
		b.statusf(mu, "image: waiting for another build making archive layer %s\n", key[:12])
	})
	if err != nil {
		return nil, fmt.Errorf("archive layer %s: %w", key[:12], err)
	}
	defer unlock()
	if al, err := loadArchiveLayer(entry); err != nil || al != nil {
		return al, err
	}
	tmp, err := os.MkdirTemp(dir, ".tmp-"+key[:12]+"-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	tree := filepath.Join(tmp, layerTree)
	if err := rootfs.ArchivePart(ctx, spec, cached, tree); err != nil {
		return nil, err
	}
	if _, err := removePaths(tree, cleanup); err != nil {
		return nil, err
	}
	if err := rootfs.ClampTimes(tree, epoch); err != nil {
		return nil, err
	}
	lf, err := layer.WriteTree(tree, filepath.Join(tmp, layerBlob), epoch)
	if err != nil {
		return nil, err
	}
	meta := *lf
	meta.Path = ""
	data, err := json.Marshal(meta)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(tmp, layerMeta), data, 0o644); err != nil {
		return nil, err
	}
	if err := os.RemoveAll(entry); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp, entry); err != nil {
		return nil, fmt.Errorf("store archive layer %s: %w", key[:12], err)
	}
	return loadArchiveLayer(entry)
}

// loadArchiveLayer reads a layer cache entry; nil when there is none.
func loadArchiveLayer(entry string) (*archiveLayer, error) {
	data, err := os.ReadFile(filepath.Join(entry, layerMeta))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	lf := &layer.File{}
	if err := json.Unmarshal(data, lf); err != nil {
		return nil, fmt.Errorf("archive layer %s: %w", entry, err)
	}
	lf.Path = filepath.Join(entry, layerBlob)
	// A cut-short entry (a disk that filled up) is made again.
	if fi, err := os.Stat(lf.Path); err != nil || fi.Size() != lf.Size {
		return nil, nil
	}
	return &archiveLayer{file: lf, tree: filepath.Join(entry, layerTree)}, nil
}
