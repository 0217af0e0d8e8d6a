package iso

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/stx-build/stx-build/store"
)

func TestParsePrintURIs(t *testing.T) {
	out := []byte(`'http://mirror.invalid/debian/pool/main/b/busybox/busybox-static_1.35.0-4%2bdeb12u1%2bb1_amd64.deb' busybox-static_1%3a1.35.0-4+deb12u1+b1_amd64.deb 928188 SHA256:3d3fdbe91d4660c873e14b092c213fe81c1da6362daa236eb25d0171eb108744
'http://mirror.invalid/debian/pool/main/g/grub2/grub-pc-bin_2.06-13%2bdeb12u2_amd64.deb' grub-pc-bin_2.06-13+deb12u2_amd64.deb 1001508 SHA256:db6aced5a89f02e10e150140b4df9621196f311c26203baf8558b4c6808e1298
`)
	got, err := parsePrintURIs(out)
	if err != nil {
		t.Fatal(err)
	}
	want := []store.LockedPackage{
		{Name: "busybox-static", Version: "1:1.35.0-4+deb12u1+b1", Arch: "amd64", Size: 928188,
			SHA256: "3d3fdbe91d4660c873e14b092c213fe81c1da6362daa236eb25d0171eb108744",
			Path:   "pool/main/b/busybox/busybox-static_1.35.0-4+deb12u1+b1_amd64.deb"},
		{Name: "grub-pc-bin", Version: "2.06-13+deb12u2", Arch: "amd64", Size: 1001508,
			SHA256: "db6aced5a89f02e10e150140b4df9621196f311c26203baf8558b4c6808e1298",
			Path:   "pool/main/g/grub2/grub-pc-bin_2.06-13+deb12u2_amd64.deb"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
	for _, bad := range []string{
		"E: Unable to locate package grub-pc-bin\n",
		"'http://mirror.invalid/debian/dists/x.deb' x_1_amd64.deb 1 SHA256:00\n",
		"'http://mirror.invalid/debian/pool/main/x/x_1_amd64.deb' x_1_amd64.deb big SHA256:00\n",
	} {
		if _, err := parsePrintURIs([]byte(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

// With a lock in use the boot packages come from the package store at
// the locked versions; one the lock does not name, or the store lacks,
// is an error saying which command fixes it.
func TestLockedDownloader(t *testing.T) {
	st := store.New(t.TempDir())
	put := func(name, version, arch, content string) store.LockedPackage {
		t.Helper()
		sum := sha256.Sum256([]byte(content))
		p := store.LockedPackage{Name: name, Version: version, Arch: arch, Size: int64(len(content)), SHA256: hex.EncodeToString(sum[:]),
			Path: "pool/main/" + name[:1] + "/" + name + "/" + store.DebFileName(name, version, arch)}
		if _, err := st.Put(p.Item(), strings.NewReader(content)); err != nil {
			t.Fatal(err)
		}
		return p
	}
	lock := &store.Lock{}
	set := lock.Set("bookworm", "amd64")
	set.Add(put("busybox-static", "1:1.35.0-4+deb12u1+b1", "amd64", "busybox"))
	set.Add(put("grub-pc-bin", "2.06-13+deb12u2", "amd64", "grub"))
	set.Add(put("grub-efi-amd64-bin", "2.06-13+deb12u2", "amd64", "grub-efi"))
	lock.Set("bookworm", "arm64").Add(store.LockedPackage{Name: "grub-efi-arm64-bin", Version: "2.06-13+deb12u2", Arch: "arm64", Size: 9,
		SHA256: strings.Repeat("a", 64), Path: "pool/main/g/grub2/grub-efi-arm64-bin_2.06-13+deb12u2_arm64.deb"})
	d := LockedDownloader{Lock: lock, Suite: "bookworm", Store: st, Dir: " -C proj"}

	dir := t.TempDir()
	if err := d.Download(context.Background(), dir, []string{"busybox-static:amd64", "grub-pc-bin:amd64"}); err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(dir)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if want := []string{"busybox-static_1%3a1.35.0-4+deb12u1+b1_amd64.deb", "grub-pc-bin_2.06-13+deb12u2_amd64.deb"}; !reflect.DeepEqual(names, want) {
		t.Errorf("downloaded %q, want %q", names, want)
	}
	if data, _ := os.ReadFile(filepath.Join(dir, names[1])); string(data) != "grub" {
		t.Errorf("grub-pc-bin holds %q", data)
	}

	err := d.Download(context.Background(), t.TempDir(), []string{"grub-pc-bin:amd64", "shim-signed:amd64", "grub-pc-bin:arm64"})
	if err == nil || !strings.Contains(err.Error(), "boot packages shim-signed:amd64, grub-pc-bin:arm64") || !strings.Contains(err.Error(), "stx-build lock --update -C proj") {
		t.Errorf("packages not locked: %v", err)
	}
	err = d.Download(context.Background(), t.TempDir(), []string{"grub-efi-arm64-bin:arm64"})
	if err == nil || !strings.Contains(err.Error(), "stx-build fetch -C proj") {
		t.Errorf("locked, not in the store: %v", err)
	}
}

// What the lock records is what the ISO was made from.
func TestCheckDownloaded(t *testing.T) {
	dir := t.TempDir()
	p := store.LockedPackage{Name: "grub-pc-bin", Version: "2.06-13", Arch: "amd64", Size: 4}
	sum := sha256.Sum256([]byte("grub"))
	p.SHA256 = hex.EncodeToString(sum[:])
	if err := os.WriteFile(filepath.Join(dir, "grub-pc-bin_2.06-13_amd64.deb"), []byte("grub"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := checkDownloaded(dir, []store.LockedPackage{p}); err != nil {
		t.Fatal(err)
	}
	p.SHA256 = strings.Repeat("0", 64)
	if err := checkDownloaded(dir, []store.LockedPackage{p}); err == nil {
		t.Error("a file other than the index says was accepted")
	}
}
