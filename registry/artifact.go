package registry

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// AnnotationTitle names a layer's file (the OCI image spec's
// org.opencontainers.image.title, as ORAS uses it).
const AnnotationTitle = "org.opencontainers.image.title"

// File is one file of a FileArtifact: one layer holding the file as it
// is (not a tar), whose digest is the file's sha256.
type File struct {
	// Name is the file's name (the layer's title annotation); Path is
	// where it is read from when pushed.
	Name, Path string
	Size       int64
	SHA256     string
	MediaType  types.MediaType
}

// Artifact describes an OCI artifact made of files: an image manifest
// with an artifactType, a config blob and one layer per file.
type Artifact struct {
	ArtifactType string
	// Config is the config blob, of ConfigType.
	Config     []byte
	ConfigType types.MediaType
	// Annotations are the manifest's.
	Annotations map[string]string
	// Files become the layers, in order. Files with the same content are
	// one blob, with a layer descriptor for each.
	Files []File
}

// Image returns a as a v1.Image (through partial), whose layers are read
// from the files when pushed.
func (a Artifact) Image() (v1.Image, error) {
	sum := sha256.Sum256(a.Config)
	m := v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.OCIManifestSchema1,
		ArtifactType:  a.ArtifactType,
		Config: v1.Descriptor{
			MediaType: a.ConfigType,
			Size:      int64(len(a.Config)),
			Digest:    v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])},
		},
		Annotations: a.Annotations,
	}
	img := &fileImage{config: a.Config, layers: map[v1.Hash]*fileLayer{}}
	for _, f := range a.Files {
		d := v1.Hash{Algorithm: "sha256", Hex: f.SHA256}
		img.layers[d] = &fileLayer{path: f.Path, size: f.Size, digest: d, mt: f.MediaType}
		m.Layers = append(m.Layers, v1.Descriptor{
			MediaType: f.MediaType, Size: f.Size, Digest: d,
			Annotations: map[string]string{AnnotationTitle: f.Name},
		})
	}
	var err error
	if img.manifest, err = json.Marshal(m); err != nil {
		return nil, err
	}
	return partial.CompressedToImage(img)
}

// fileImage is an Artifact as partial.CompressedImageCore.
type fileImage struct {
	config, manifest []byte
	layers           map[v1.Hash]*fileLayer
}

func (a *fileImage) RawConfigFile() ([]byte, error)      { return a.config, nil }
func (a *fileImage) RawManifest() ([]byte, error)        { return a.manifest, nil }
func (a *fileImage) MediaType() (types.MediaType, error) { return types.OCIManifestSchema1, nil }

func (a *fileImage) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	if l, ok := a.layers[h]; ok {
		return l, nil
	}
	return nil, fmt.Errorf("artifact has no blob %s", h)
}

// fileLayer is a file stored as it is.
type fileLayer struct {
	path   string
	size   int64
	digest v1.Hash
	mt     types.MediaType
}

func (l *fileLayer) Digest() (v1.Hash, error)             { return l.digest, nil }
func (l *fileLayer) DiffID() (v1.Hash, error)             { return l.digest, nil }
func (l *fileLayer) Size() (int64, error)                 { return l.size, nil }
func (l *fileLayer) MediaType() (types.MediaType, error)  { return l.mt, nil }
func (l *fileLayer) Compressed() (io.ReadCloser, error)   { return os.Open(l.path) }
func (l *fileLayer) Uncompressed() (io.ReadCloser, error) { return os.Open(l.path) }
