package iso

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/stx-build/stx-build/aptenv"
	"github.com/stx-build/stx-build/store"
)

// AptDownloader downloads packages with apt-get download in a private apt
// environment (see aptenv) that has binary indexes for the ISO's
// architectures.
type AptDownloader struct {
	Env *aptenv.Env
}

// Download implements Downloader.
func (a AptDownloader) Download(ctx context.Context, dir string, pkgs []string) error {
	return a.Env.Run(ctx, dir, append([]string{"download"}, pkgs...)...)
}

// Locate implements Locator: the archive files apt-get download takes for
// pkgs (apt-get download --print-uris).
func (a AptDownloader) Locate(ctx context.Context, pkgs []string) ([]store.LockedPackage, error) {
	out, err := a.Env.Output(ctx, "apt-get", append([]string{"download", "--print-uris"}, pkgs...)...)
	if err != nil {
		return nil, err
	}
	return parsePrintURIs(out)
}

// Locator says where in the archive a Downloader's packages come from:
// how stx-build lock records the ISO's boot packages.
type Locator interface {
	Locate(ctx context.Context, pkgs []string) ([]store.LockedPackage, error)
}

// parsePrintURIs reads apt-get download --print-uris: one line per file,
// 'URI' FILE SIZE SHA256:HEX.
func parsePrintURIs(out []byte) ([]store.LockedPackage, error) {
	var pkgs []store.LockedPackage
	s := bufio.NewScanner(bytes.NewReader(out))
	for s.Scan() {
		line := strings.TrimSpace(s.Text())
		if line == "" {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 4 || !strings.HasPrefix(f[0], "'") || !strings.HasSuffix(f[0], "'") || !strings.HasPrefix(f[3], "SHA256:") {
			return nil, fmt.Errorf("apt-get download --print-uris: unexpected line %q", line)
		}
		path, err := store.ArchivePath(strings.Trim(f[0], "'"))
		if err != nil {
			return nil, fmt.Errorf("apt-get download --print-uris: %q: %w", line, err)
		}
		name, version, arch, err := store.ParseDebFileName(f[1])
		if err != nil {
			return nil, fmt.Errorf("apt-get download --print-uris: %w", err)
		}
		size, err := strconv.ParseInt(f[2], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("apt-get download --print-uris: %q: size: %w", line, err)
		}
		pkgs = append(pkgs, store.LockedPackage{Name: name, Version: version, Arch: arch, Size: size, SHA256: strings.TrimPrefix(f[3], "SHA256:"), Path: path})
	}
	return pkgs, s.Err()
}

// LockedDownloader takes the boot packages from the lock in use: the
// version stx.lock names for the ISO's architecture, from the package
// store (workspace.UseLock fetched every locked file into it). A boot
// package the lock does not name is an error, never a download of
// today's version.
type LockedDownloader struct {
	Lock  *store.Lock
	Suite string
	Store *store.Store
	// Dir names the project in the refresh hint (" -C DIR"), may be "".
	Dir string
}

// Download implements Downloader.
func (d LockedDownloader) Download(ctx context.Context, dir string, pkgs []string) error {
	var items []store.Item
	var missing []string
	for _, p := range pkgs {
		name, arch, _ := strings.Cut(p, ":")
		it, ok := d.locked(name, arch)
		if !ok {
			missing = append(missing, p)
			continue
		}
		items = append(items, it)
	}
	if len(missing) > 0 {
		return fmt.Errorf("%s names no version of the ISO's boot packages %s: stx-build lock --update%s records them",
			store.LockFile, strings.Join(missing, ", "), d.Dir)
	}
	if m := d.Store.Missing(items); len(m) > 0 {
		return fmt.Errorf("the package store %s lacks %d locked boot package(s), %s first: stx-build fetch%s", d.Store.Dir, len(m), m[0].Name, d.Dir)
	}
	return d.Store.Link(items, dir)
}

// locked is the locked file of package name for arch (or "all").
func (d LockedDownloader) locked(name, arch string) (store.Item, bool) {
	set := d.Lock.Find(d.Suite, arch)
	if set == nil {
		return store.Item{}, false
	}
	for _, p := range set.Versions(name) {
		if p.Arch == arch || p.Arch == "all" {
			return p.Item(), true
		}
	}
	return store.Item{}, false
}
