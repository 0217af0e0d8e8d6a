package image

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/stx-build/stx-build/manifests"
	"github.com/stx-build/stx-build/rootfs"
)

// normalized is assemble followed by the normalization rootfs.Assemble
// gives every root.
func normalized(assemble AssembleFunc) AssembleFunc {
	return func(ctx context.Context, spec rootfs.AssembleSpec, target string, log io.Writer) error {
		if err := assemble(ctx, spec, target, log); err != nil {
			return err
		}
		return rootfs.Normalize(target, time.Unix(spec.Epoch, 0))
	}
}

// fakeLayered assembles as rootfs's layered way does: when the image
// holds project packages ("stx-…"), the archive part (the others) is made
// once into spec.Cache and handed to spec.ArchiveRoot; the root itself is
// fakeAssemble's, normalized. made counts the archive parts made.
func fakeLayered(made *atomic.Int32) AssembleFunc {
	return func(ctx context.Context, spec rootfs.AssembleSpec, target string, log io.Writer) error {
		var archive []string
		for _, p := range spec.Packages {
			if !strings.HasPrefix(p, "stx-") {
				archive = append(archive, p)
			}
		}
		if len(archive) == len(spec.Packages) || spec.Cache == "" {
			return normalized(fakeAssemble)(ctx, spec, target, log)
		}
		sum := sha256.Sum256([]byte(fmt.Sprint(spec.Arch, spec.Epoch, archive)))
		key := fmt.Sprintf("%x", sum)
		entry := filepath.Join(spec.Cache, key, "root")
		if _, err := os.Stat(entry); err != nil {
			part := spec
			part.Packages = archive
			if err := fakeAssemble(ctx, part, entry, log); err != nil {
				return err
			}
			made.Add(1)
		}
		if err := normalized(fakeAssemble)(ctx, spec, target, log); err != nil {
			return err
		}
		return spec.ArchiveRoot(key, entry)
	}
}

// flatten lists what an image's layers give, applied in order (path:
// type, mode, owner, mtime, link, content digest, xattrs).
func flatten(t *testing.T, img v1.Image) map[string]string {
	t.Helper()
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	out := map[string]string{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.New()
		if _, err := io.Copy(sum, tr); err != nil {
			t.Fatal(err)
		}
		out[h.Name] = fmt.Sprintf("%c %o %d:%d %d %q %x %v", h.Typeflag, h.Mode, h.Uid, h.Gid, h.ModTime.Unix(), h.Linkname, sum.Sum(nil), h.PAXRecords)
	}
}

func platformImage(t *testing.T, res *Result, arch string) v1.Image {
	t.Helper()
	idx, err := ReadLayout(res.Layout)
	if err != nil {
		t.Fatal(err)
	}
	img, err := PlatformImage(idx, arch)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// An image whose root is made on a cached archive root has the archive's
// packages as a layer of its own, kept in the layer cache: a build on the
// cached layer equals a cold one bit for bit, and the two layers give the
// very root the one-layer image of the same packages holds.
func TestArchiveLayer(t *testing.T) {
	if _, err := exec.LookPath("cp"); err != nil {
		t.Skip("no cp")
	}
	ctx := context.Background()
	p, images := testProject(t)
	images = append(images, &manifests.Image{Name: "solo", Display: "images/solo.yaml",
		Packages: []string{"ca-certificates", "stx-hello"}, Cleanup: []string{"/usr/share/doc/*/changelog*"}})
	build := func(assemble AssembleFunc, roots, layers string) *Result {
		t.Helper()
		b, err := New(WithProject(p, images), WithOutDir(t.TempDir()), WithWorkDir(t.TempDir()),
			WithAssembler(assemble), WithChangelogs(map[string]time.Time{"stx-hello": testEpoch}),
			WithRootCache(roots), WithLayerCache(layers))
		if err != nil {
			t.Fatal(err)
		}
		res, err := b.Build(ctx, "solo", nil)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	var made atomic.Int32
	roots, layers := t.TempDir(), t.TempDir()
	cold := build(fakeLayered(&made), roots, layers)
	for _, pr := range cold.Platforms {
		if len(pr.Layers) != 2 || !strings.Contains(pr.Layers[0].CreatedBy, "the archive's packages") {
			t.Fatalf("%s: want the archive layer and the project's, got %+v", pr.Arch, pr.Layers)
		}
	}
	entries, _ := filepath.Glob(filepath.Join(layers, "*", layerMeta))
	if made.Load() != 2 || len(entries) != 2 {
		t.Fatalf("cold build: %d archive roots made, %d archive layers cached; want 2 and 2", made.Load(), len(entries))
	}
	stamp := map[string]time.Time{}
	for _, e := range entries {
		fi, _ := os.Stat(e)
		stamp[e] = fi.ModTime()
	}

	// Again on the cached layers: nothing of the archive part is made,
	// the result is the cold one.
	warm := build(fakeLayered(&made), roots, layers)
	if warm.Digest != cold.Digest {
		t.Errorf("on cached archive layers %s, cold %s", warm.Digest, cold.Digest)
	}
	for e, ts := range stamp {
		if fi, err := os.Stat(e); err != nil || !fi.ModTime().Equal(ts) {
			t.Errorf("%s made again", e)
		}
	}
	if made.Load() != 2 {
		t.Errorf("archive roots made again: %d", made.Load())
	}
	// No caches given: made in the work directory, the same image.
	if none := build(fakeLayered(&made), "", ""); none.Digest != cold.Digest {
		t.Errorf("without caches %s, with %s", none.Digest, cold.Digest)
	}

	// The two layers give exactly the root of a one-layer image.
	one := build(normalized(fakeAssemble), t.TempDir(), t.TempDir())
	for _, arch := range []string{"amd64", "arm64"} {
		if n := len(one.Platforms[0].Layers); n != 1 {
			t.Fatalf("one-run root: %d layers", n)
		}
		got, want := flatten(t, platformImage(t, cold, arch)), flatten(t, platformImage(t, one, arch))
		if !reflect.DeepEqual(got, want) {
			var diff []string
			for n := range want {
				if got[n] != want[n] {
					diff = append(diff, fmt.Sprintf("%s: %q, want %q", n, got[n], want[n]))
				}
			}
			for n := range got {
				if _, ok := want[n]; !ok {
					diff = append(diff, n+": extra")
				}
			}
			sort.Strings(diff)
			t.Errorf("%s: the layers give another root than the one-layer image:\n%s", arch, strings.Join(diff, "\n"))
		}
	}
}
