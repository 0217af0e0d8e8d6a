package image

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/stx-build/stx-build/manifests"
)

// defaultPath is the PATH of an image whose manifests do not set one (as
// Debian's own images have it).
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Platform returns the OCI platform of a Debian architecture.
func Platform(arch string) (v1.Platform, error) {
	switch arch {
	case "amd64":
		return v1.Platform{OS: "linux", Architecture: "amd64"}, nil
	case "arm64":
		return v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}, nil
	}
	return v1.Platform{}, fmt.Errorf("image: no OCI platform for architecture %q", arch)
}

// applyManifest sets the container configuration of img on top of base
// (the configuration inherited from a base image, or empty):
// entrypoint and cmd replace (a new entrypoint also drops the base's
// cmd, as in a Dockerfile), env and labels merge (img wins), ports add up,
// user and workdir replace when set.
func applyManifest(base v1.Config, img *manifests.Image) v1.Config {
	c := base
	c.Env = slices.Clone(base.Env)
	if len(img.Entrypoint) > 0 {
		c.Entrypoint = slices.Clone(img.Entrypoint)
		c.Cmd = nil
	}
	if len(img.Cmd) > 0 {
		c.Cmd = slices.Clone(img.Cmd)
	}
	keys := slices.Sorted(maps.Keys(img.Env))
	for _, k := range keys {
		kv := k + "=" + img.Env[k]
		i := slices.IndexFunc(c.Env, func(e string) bool { return strings.HasPrefix(e, k+"=") })
		if i >= 0 {
			c.Env[i] = kv
		} else {
			c.Env = append(c.Env, kv)
		}
	}
	if !slices.ContainsFunc(c.Env, func(e string) bool { return strings.HasPrefix(e, "PATH=") }) {
		c.Env = append([]string{"PATH=" + defaultPath}, c.Env...)
	}
	if img.User != "" {
		c.User = img.User
	}
	if img.Workdir != "" {
		c.WorkingDir = img.Workdir
	}
	if len(img.Labels) > 0 {
		labels := maps.Clone(base.Labels)
		if labels == nil {
			labels = map[string]string{}
		}
		maps.Copy(labels, img.Labels)
		c.Labels = labels
	}
	if ports := img.NormalizedPorts(); len(ports) > 0 {
		exposed := maps.Clone(base.ExposedPorts)
		if exposed == nil {
			exposed = map[string]struct{}{}
		}
		for _, p := range ports {
			exposed[p] = struct{}{}
		}
		c.ExposedPorts = exposed
	}
	return c
}

// appendLayer returns base (nil: an empty OCI image) with one more layer
// and the configuration cfg, its created time and the new history entry
// set to epoch.
func appendLayer(base v1.Image, layer v1.Layer, platform v1.Platform, cfg v1.Config, history v1.History, epoch time.Time) (v1.Image, error) {
	if base == nil {
		base = mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	}
	history.Created = v1.Time{Time: epoch.UTC()}
	img, err := mutate.Append(base, mutate.Addendum{Layer: layer, History: history, MediaType: types.OCILayer})
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.Architecture, cf.OS, cf.Variant = platform.Architecture, platform.OS, platform.Variant
	cf.Created = v1.Time{Time: epoch.UTC()}
	cf.Config = cfg
	// Nothing of the build machine: no container id or docker version.
	cf.Container, cf.DockerVersion, cf.Author = "", "", ""
	return mutate.ConfigFile(img, cf)
}

// indexEntry is one manifest of an image index.
type indexEntry struct {
	img  v1.Image
	desc v1.Descriptor
	// sort key: platform string, then digest
	key string
}

// plainDescriptor makes an image report exactly desc in an index (mutate
// would add an artifactType to every image descriptor otherwise).
type plainDescriptor struct {
	v1.Image
	desc v1.Descriptor
}

func (p plainDescriptor) Descriptor() (*v1.Descriptor, error) { d := p.desc; return &d, nil }

// makeIndex combines per-platform images (and their SBOM artifacts) into
// one OCI image index: platform images sorted by platform, then the SBOM
// artifacts in the same order.
func makeIndex(entries []indexEntry) v1.ImageIndex {
	sort.SliceStable(entries, func(i, j int) bool { return entries[i].key < entries[j].key })
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	var adds []mutate.IndexAddendum
	for _, e := range entries {
		adds = append(adds, mutate.IndexAddendum{Add: plainDescriptor{e.img, e.desc}})
	}
	return mutate.AppendManifests(idx, adds...)
}

// describe returns img's descriptor in an index with the given platform.
func describe(img v1.Image, platform *v1.Platform, annotations map[string]string, artifactType string) (v1.Descriptor, error) {
	d, err := img.Digest()
	if err != nil {
		return v1.Descriptor{}, err
	}
	size, err := img.Size()
	if err != nil {
		return v1.Descriptor{}, err
	}
	mt, err := img.MediaType()
	if err != nil {
		return v1.Descriptor{}, err
	}
	return v1.Descriptor{MediaType: mt, Size: size, Digest: d, Platform: platform, Annotations: annotations, ArtifactType: artifactType}, nil
}
