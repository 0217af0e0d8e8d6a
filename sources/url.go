package sources

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
)

// MaxDownload bounds one file fetched by URL (kernel and ceph tarballs
// are a few hundred megabytes).
const MaxDownload = 4 << 30

// Download names a file by URL and checksum: SHA256 when known; MD5 only
// when that is all the source gives (weaker, and said so by the caller).
type Download struct {
	URL    string
	SHA256 string
	MD5    string
}

// FetchURL returns the path of d's file in the cache, downloading it when
// it is not there yet. Files are kept by checksum
// (CacheDir/downloads/sha256/<hex>, or md5/<hex>), so a file is fetched
// once whatever its URL, verified before it is published, and a changed
// file at the URL is an error, never a silent substitution.
func (f *Fetcher) FetchURL(ctx context.Context, d Download) (string, error) {
	kind, want := "sha256", strings.ToLower(d.SHA256)
	if want == "" {
		kind, want = "md5", strings.ToLower(d.MD5)
	}
	if want == "" || !isHexLen(want, map[string]int{"sha256": 64, "md5": 32}[kind]) {
		return "", fmt.Errorf("%s: no usable sha256 or md5 to verify it by", d.URL)
	}
	if f.CacheDir == "" {
		return "", errors.New("no cache directory")
	}
	dir := filepath.Join(f.CacheDir, "downloads", kind)
	final := filepath.Join(dir, want)
	if fi, err := os.Stat(final); err == nil && fi.Mode().IsRegular() {
		if got, err := fileSum(final, kind); err == nil && got == want {
			return final, nil
		}
		os.Remove(final) // damaged: fetch again
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	tmp, err := os.CreateTemp(dir, ".tmp-")
	if err != nil {
		return "", err
	}
	tmp.Close()
	os.Remove(tmp.Name())
	defer os.Remove(tmp.Name())
	client := f.HTTP
	if client == nil {
		client = http.DefaultClient
	}
	n, sha, err := download(ctx, client, d.URL, tmp.Name(), MaxDownload)
	if err != nil {
		return "", err
	}
	if n > MaxDownload {
		return "", fmt.Errorf("%s: larger than %d bytes", d.URL, int64(MaxDownload))
	}
	got := sha
	if kind == "md5" {
		if got, err = fileSum(tmp.Name(), kind); err != nil {
			return "", err
		}
	}
	if got != want {
		return "", fmt.Errorf("%s: %s is %s, want %s", d.URL, kind, got, want)
	}
	if err := os.Rename(tmp.Name(), final); err != nil {
		return "", err
	}
	return final, nil
}

func fileSum(file, kind string) (string, error) {
	if kind == "sha256" {
		_, sum, err := hashFile(file)
		return sum, err
	}
	fh, err := os.Open(file)
	if err != nil {
		return "", err
	}
	defer fh.Close()
	h := md5.New()
	if _, err := io.Copy(h, fh); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func isHexLen(s string, n int) bool {
	if len(s) != n {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}
