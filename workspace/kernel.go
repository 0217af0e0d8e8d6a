package workspace

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"slices"

	"pault.ag/go/debian/dependency"

	"github.com/stx-build/stx-build/graph"
	"github.com/stx-build/stx-build/manifests"
	"github.com/stx-build/stx-build/sources"
)

// KindKernel is the sources.Fetched kind of a kernel tarball.
const KindKernel = "kernel"

// prepareKernel verifies (or fetches) the kernel tarball, unless tarball
// is false, and synthesizes the graph input: make bindeb-pkg has no
// debian/control to read, so the binaries it produces
// (linux-image-<release>, linux-headers-<release>, linux-libc-dev) and the
// recipe's build-deps are declared here, which is what gives packages
// build-depending on the headers their edge.
func (w *Workspace) prepareKernel(ctx context.Context, pkg *manifests.Package, tarball bool) (*Prepared, error) {
	fetched := &sources.Fetched{Kind: KindKernel}
	var file string
	if tarball {
		var err error
		if file, err = w.kernelTarball(ctx, pkg); err != nil {
			return nil, fmt.Errorf("package %s: %w", pkg.Name, err)
		}
		fetched.Dir = filepath.Dir(file)
	}
	src, err := KernelSource(pkg)
	if err != nil {
		return nil, err
	}
	src.Profiles = slices.Clone(pkg.Build.Profiles)
	if d := pkg.Build.EstimateDuration(); d > 0 {
		src.Cost = d.Seconds()
	}
	return &Prepared{
		Package:       pkg,
		Fetched:       fetched,
		Source:        src,
		KernelTarball: file,
	}, nil
}

// KernelSource is the graph input of a kernel package (pure: reads no file).
// The package is built for the architectures it has a config for, narrowed
// by its architectures field.
func KernelSource(pkg *manifests.Package) (graph.Source, error) {
	k := pkg.Source.Kernel
	bd, err := dependency.Parse(manifests.KernelBuildDepends)
	if err != nil {
		return graph.Source{}, fmt.Errorf("package %s: kernel build-deps: %w", pkg.Name, err)
	}
	anyArch, err := dependency.ParseArchitectures("any")
	if err != nil {
		return graph.Source{}, err
	}
	rel := k.KernelRelease()
	src := graph.Source{
		Name:         pkg.Name,
		Version:      k.Version,
		BuildDepends: *bd,
		Origin:       pkg.File,
	}
	for _, name := range []string{"linux-image-" + rel, "linux-headers-" + rel, "linux-libc-dev"} {
		src.Binaries = append(src.Binaries, graph.Binary{Name: name, Architectures: anyArch})
	}
	for a := range k.Config {
		if len(pkg.Architectures) == 0 || slices.Contains(pkg.Architectures, a) {
			src.Architectures = append(src.Architectures, a)
		}
	}
	slices.Sort(src.Architectures)
	if len(src.Architectures) == 0 {
		return graph.Source{}, fmt.Errorf("%s: source.kernel.config: no config for any of the package's architectures", pkg.File)
	}
	return src, nil
}

// kernelTarball returns the verified tarball: the file in the package
// directory, or the URL's download cached under CACHE/sources/kernel/<sha256>/.
func (w *Workspace) kernelTarball(ctx context.Context, pkg *manifests.Package) (string, error) {
	t := pkg.Source.Kernel.Tarball
	if t.File != "" {
		f := filepath.Join(pkg.Dir, t.File)
		if err := checkSHA256(f, t.SHA256); err != nil {
			return "", err
		}
		return f, nil
	}
	dir := filepath.Join(w.opts.CacheDir, "sources", "kernel", t.SHA256)
	f := filepath.Join(dir, path.Base(t.URL))
	if checkSHA256(f, t.SHA256) == nil {
		return f, nil
	}
	fmt.Fprintf(w.opts.Log, "fetch: %s\n", t.URL)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.URL, nil)
	if err != nil {
		return "", err
	}
	// A machine without the network can still build: the tarball put
	// where the download would go is used as it is.
	offline := fmt.Sprintf("without network, put the tarball at %s", f)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("fetch %s: %w (%s)", t.URL, err, offline)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("fetch %s: %s (%s)", t.URL, resp.Status, offline)
	}
	tmp, err := os.CreateTemp(dir, ".tmp-")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name())
	if _, err := io.Copy(tmp, resp.Body); err != nil {
		tmp.Close()
		return "", fmt.Errorf("fetch %s: %w", t.URL, err)
	}
	if err := tmp.Close(); err != nil {
		return "", err
	}
	if err := checkSHA256(tmp.Name(), t.SHA256); err != nil {
		return "", fmt.Errorf("fetch %s: %w", t.URL, err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return "", err
	}
	return f, os.Rename(tmp.Name(), f)
}

func checkSHA256(file, want string) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != want {
		return fmt.Errorf("%s: sha256 is %s, the manifest says %s", file, got, want)
	}
	return nil
}
