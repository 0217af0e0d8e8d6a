package store

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// RootPackages locks what dpkg installed from the archive, with the
// lists' digests and pool paths; the project's own packages (local
// repositories) are left out, and a package no list names is an error.
func TestRootPackages(t *testing.T) {
	root := t.TempDir()
	lists := filepath.Join(root, "var/lib/apt/lists")
	writeFile(t, filepath.Join(root, "var/lib/dpkg/status"),
		"Package: libc6\nStatus: install ok installed\nArchitecture: amd64\nVersion: 2.36-9\n\n"+
			"Package: libc6\nStatus: install ok installed\nArchitecture: arm64\nVersion: 2.36-9\n\n"+
			"Package: stx-hello\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1.0\n\n"+
			"Package: removed\nStatus: deinstall ok config-files\nArchitecture: amd64\nVersion: 1\n")
	writeFile(t, filepath.Join(lists, "mirror.invalid_debian_dists_bookworm_main_binary-amd64_Packages"),
		"Package: libc6\nVersion: 2.36-9\nArchitecture: amd64\nFilename: pool/main/g/glibc/libc6_2.36-9_amd64.deb\nSize: 10\nSHA256: "+sum('a')+"\n")
	writeFile(t, filepath.Join(lists, "mirror.invalid_debian_dists_bookworm_main_binary-arm64_Packages"),
		"Package: libc6\nVersion: 2.36-9\nArchitecture: arm64\nFilename: pool/main/g/glibc/libc6_2.36-9_arm64.deb\nSize: 11\nSHA256: "+sum('b')+"\n")
	writeFile(t, filepath.Join(lists, "_var_cache_repo-amd64_dists_stx_main_binary-amd64_Packages"),
		"Package: stx-hello\nVersion: 1.0\nArchitecture: amd64\nFilename: pool/main/s/stx-hello/stx-hello_1.0_amd64.deb\nSize: 1\nSHA256: "+sum('c')+"\n")
	writeFile(t, filepath.Join(lists, "mirror.invalid_debian_dists_bookworm_InRelease"), "release")
	writeFile(t, filepath.Join(lists, "_var_cache_repo-amd64_dists_stx_InRelease"), "local")
	got, err := RootPackages(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Arch != "amd64" || got[0].SHA256 != sum('a') || got[0].Path != "pool/main/g/glibc/libc6_2.36-9_amd64.deb" || got[1].Size != 11 {
		t.Errorf("RootPackages = %+v", got)
	}
	rel, err := RootReleases(root)
	if err != nil || len(rel) != 1 || rel[0].Name != "bookworm" || rel[0].SHA256 != digestHex([]byte("release")) {
		t.Errorf("RootReleases = %+v, %v", rel, err)
	}
	os.Remove(filepath.Join(lists, "mirror.invalid_debian_dists_bookworm_main_binary-arm64_Packages"))
	if _, err := RootPackages(root); err == nil || !strings.Contains(err.Error(), "libc6 2.36-9 arm64") {
		t.Errorf("a package no list names: %v", err)
	}
}
