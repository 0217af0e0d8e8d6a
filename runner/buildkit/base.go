package buildkit

import (
	"compress/gzip"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	digest "github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/stx-build/stx-build/layer"
)

// ExportBase returns root (a base root filesystem directory) as a
// one-layer image in an OCI layout under dir/<key>, writing it the first
// time (in a temporary directory renamed into place, so an interrupted
// export leaves nothing). The layer is stx-build's reproducible tar of
// the tree (sorted, numeric owners, mtimes clamped to epoch).
func ExportBase(root, dir, key, arch string, epoch time.Time) (BaseImage, error) {
	final := filepath.Join(dir, key)
	plat := ocispecs.Platform{OS: "linux", Architecture: arch}
	if b, err := readBase(final, plat); err == nil {
		return b, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return BaseImage{}, err
	}
	tmp, err := os.MkdirTemp(dir, ".tmp-"+key[:min(12, len(key))]+"-")
	if err != nil {
		return BaseImage{}, err
	}
	defer os.RemoveAll(tmp)
	// Fast compression: the layer only travels to the workers.
	lf, err := layer.WriteTree(root, filepath.Join(tmp, "layer.tar.gz"), epoch, layer.WithGzipLevel(gzip.BestSpeed))
	if err != nil {
		return BaseImage{}, fmt.Errorf("export base %s: %w", root, err)
	}
	l, err := lf.Layer()
	if err != nil {
		return BaseImage{}, err
	}
	img, err := mutate.AppendLayers(empty.Image, l)
	if err != nil {
		return BaseImage{}, err
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return BaseImage{}, err
	}
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture = plat.OS, plat.Architecture
	cfg.Created.Time = epoch.UTC()
	if img, err = mutate.ConfigFile(img, cfg); err != nil {
		return BaseImage{}, err
	}
	lp, err := layout.Write(filepath.Join(tmp, "layout"), empty.Index)
	if err != nil {
		return BaseImage{}, err
	}
	if err := lp.AppendImage(img); err != nil {
		return BaseImage{}, fmt.Errorf("export base: %w", err)
	}
	if err := os.Rename(filepath.Join(tmp, "layout"), final); err != nil {
		if b, rerr := readBase(final, plat); rerr == nil {
			return b, nil // made meanwhile by another run
		}
		return BaseImage{}, err
	}
	return readBase(final, plat)
}

// readBase reads the image an ExportBase left in dir.
func readBase(dir string, plat ocispecs.Platform) (BaseImage, error) {
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		return BaseImage{}, err
	}
	m, err := idx.IndexManifest()
	if err != nil {
		return BaseImage{}, err
	}
	if len(m.Manifests) != 1 {
		return BaseImage{}, fmt.Errorf("%s: %d images, want 1", dir, len(m.Manifests))
	}
	return BaseImage{Layout: dir, Manifest: digest.Digest(m.Manifests[0].Digest.String()), Platform: plat}, nil
}
