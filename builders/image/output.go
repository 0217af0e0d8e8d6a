package image

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/stx-build/stx-build/internal/atomicfile"
	"github.com/stx-build/stx-build/registry"
)

// LayoutTag is the tag (org.opencontainers.image.ref.name) of the image
// index in an image's OCI layout: oci:OUT/images/<name>:latest.
const LayoutTag = "latest"

// imageIndex returns the image index of builds: each platform's image, sorted
// by platform, then each platform's SBOM artifact (platform
// unknown/unknown, so runtimes never pick it; annotated with the digest of
// the image it describes, which is also its subject).
func imageIndex(builds []*archImage) (v1.ImageIndex, error) {
	var entries []indexEntry
	for _, ai := range builds {
		p := ai.platform
		desc, err := describe(ai.image, &p, nil, "")
		if err != nil {
			return nil, err
		}
		entries = append(entries, indexEntry{img: ai.image, desc: desc, key: "0 " + p.String()})
		if ai.artifact == nil {
			continue
		}
		sd, err := describe(ai.artifact, &v1.Platform{OS: "unknown", Architecture: "unknown"},
			map[string]string{AnnotationSBOMFor: desc.Digest.String()}, SPDXMediaType)
		if err != nil {
			return nil, err
		}
		entries = append(entries, indexEntry{img: ai.artifact, desc: sd, key: "1 " + p.String()})
	}
	return makeIndex(entries), nil
}

// write makes each platform's SBOM, the index, and writes the layout and
// the SBOM files.
func (b *Builder) write(name string, builds []*archImage) (*Result, error) {
	imagesDir := filepath.Join(b.outDir, "images")
	res := &Result{Name: name, Layout: filepath.Join(imagesDir, name)}
	sboms := map[string][]byte{}
	for _, ai := range builds {
		desc, err := describe(ai.image, nil, nil, "")
		if err != nil {
			return nil, err
		}
		doc, err := makeSBOM(sbomInput{
			Project: b.project.Name, Image: name, Suite: b.project.Suite, Arch: ai.arch,
			Manifest: desc.Digest, Epoch: ai.epoch, Packages: ai.packages,
		})
		if err != nil {
			return nil, err
		}
		title := fmt.Sprintf("%s-%s.spdx.json", name, ai.arch)
		if ai.artifact, err = newSBOMArtifact(doc, desc, title, ai.epoch); err != nil {
			return nil, err
		}
		sboms[ai.arch] = doc
	}
	idx, err := imageIndex(builds)
	if err != nil {
		return nil, err
	}
	if res.Digest, err = idx.Digest(); err != nil {
		return nil, err
	}
	if err := writeLayout(res.Layout, idx); err != nil {
		return nil, err
	}
	for _, ai := range builds {
		pr := PlatformResult{Arch: ai.arch, Platform: ai.platform, Epoch: ai.epoch, Packages: ai.packages, Duration: ai.duration}
		if pr.Manifest, err = ai.image.Digest(); err != nil {
			return nil, err
		}
		if pr.SBOMDigest, err = ai.artifact.Digest(); err != nil {
			return nil, err
		}
		m, err := ai.image.Manifest()
		if err != nil {
			return nil, err
		}
		raw, err := ai.image.RawManifest()
		if err != nil {
			return nil, err
		}
		pr.Size = int64(len(raw)) + m.Config.Size
		for i, lf := range ai.layers {
			pr.Size += lf.Size
			pr.Uncompressed += lf.TarSize
			pr.Layers = append(pr.Layers, LayerInfo{Digest: lf.Digest, DiffID: lf.DiffID, Size: lf.Size, TarSize: lf.TarSize, Entries: lf.Entries, CreatedBy: ai.history[i]})
		}
		pr.SBOM = filepath.Join(imagesDir, fmt.Sprintf("%s-%s.spdx.json", name, ai.arch))
		if err := atomicfile.Write(pr.SBOM, sboms[ai.arch], 0o644); err != nil {
			return nil, err
		}
		res.Platforms = append(res.Platforms, pr)
	}
	return res, nil
}

// writeLayout writes idx as an OCI layout at dir, replacing what is there
// only once the new layout is complete.
func writeLayout(dir string, idx v1.ImageIndex) error {
	parent := filepath.Dir(dir)
	tmp, err := os.MkdirTemp(parent, ".tmp-"+filepath.Base(dir)+"-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	top := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex), mutate.IndexAddendum{
		Add:        idx,
		Descriptor: v1.Descriptor{Annotations: map[string]string{"org.opencontainers.image.ref.name": LayoutTag}},
	})
	if _, err := layout.Write(tmp, top); err != nil {
		return fmt.Errorf("image: write layout: %w", err)
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	old := dir + ".old"
	_ = os.RemoveAll(old)
	if err := os.Rename(dir, old); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if err := os.Rename(tmp, dir); err != nil {
		return err
	}
	return os.RemoveAll(old)
}

// ReadLayout returns the image index in an image's OCI layout (the entry
// tagged LayoutTag).
func ReadLayout(dir string) (v1.ImageIndex, error) {
	p, err := layout.FromPath(dir)
	if err != nil {
		return nil, fmt.Errorf("image: read layout %s: %w", dir, err)
	}
	top, err := p.ImageIndex()
	if err != nil {
		return nil, fmt.Errorf("image: read layout %s: %w", dir, err)
	}
	m, err := top.IndexManifest()
	if err != nil {
		return nil, err
	}
	for _, d := range m.Manifests {
		if d.Annotations["org.opencontainers.image.ref.name"] == LayoutTag && d.MediaType == types.OCIImageIndex {
			return top.ImageIndex(d.Digest)
		}
	}
	return nil, fmt.Errorf("image: layout %s has no image index tagged %q", dir, LayoutTag)
}

// PlatformImage returns the image for a Debian architecture from an index.
func PlatformImage(idx v1.ImageIndex, arch string) (v1.Image, error) {
	want, err := Platform(arch)
	if err != nil {
		return nil, err
	}
	m, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	for _, d := range m.Manifests {
		if d.Platform != nil && d.Platform.Equals(want) {
			return idx.Image(d.Digest)
		}
	}
	return nil, fmt.Errorf("image: no %s image in the index", want)
}

// Push uploads the image index in layout dir (and every image and SBOM in
// it) to ref, with credentials from the standard Docker config
// (authn.DefaultKeychain).
func Push(ctx context.Context, dir, ref string) (name.Digest, error) {
	idx, err := ReadLayout(dir)
	if err != nil {
		return name.Digest{}, err
	}
	r, err := registry.ParseReference(ref)
	if err != nil {
		return name.Digest{}, fmt.Errorf("push: %w", err)
	}
	if err := remote.WriteIndex(r, idx, remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain)); err != nil {
		return name.Digest{}, fmt.Errorf("push %s: %w", r, err)
	}
	d, err := idx.Digest()
	if err != nil {
		return name.Digest{}, err
	}
	return r.Context().Digest(d.String()), nil
}

// WriteDockerArchive writes the image for arch from layout dir as a
// docker-archive tarball (docker load / podman load) tagged tag.
func WriteDockerArchive(dir, arch, file, tag string) error {
	idx, err := ReadLayout(dir)
	if err != nil {
		return err
	}
	img, err := PlatformImage(idx, arch)
	if err != nil {
		return err
	}
	t, err := name.NewTag(tag)
	if err != nil {
		return fmt.Errorf("docker archive: tag: %w", err)
	}
	tmp := file + ".tmp"
	if err := tarball.MultiRefWriteToFile(tmp, map[name.Reference]v1.Image{t: img}); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("docker archive %s: %w", file, err)
	}
	return os.Rename(tmp, file)
}
