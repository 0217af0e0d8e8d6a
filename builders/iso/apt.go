package iso

import (
	"context"

	"github.com/stx-build/stx-build/aptenv"
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
