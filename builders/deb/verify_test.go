package deb

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestMatchClaim(t *testing.T) {
	for _, tc := range []struct {
		name                      string
		pkg, src, ver, arch, want string
	}{
		{"same source and version", "libstx1", "libstx", "1.0-1", "amd64", ""},
		{"no Source field: the package is its source", "libstx", "", "1.0-1", "amd64", ""},
		{"arch all", "stx-doc", "libstx", "1.0-1", "all", ""},
		{"binNMU names the source version", "libstx1", "libstx (1.0-1)", "1.0-1+b1", "amd64", ""},
		{"other source", "tiny", "tiny", "1.0-1", "amd64", `built from source "tiny", not libstx`},
		{"other version", "libstx1", "libstx", "1.0-2", "amd64", `version "1.0-2" of libstx, not 1.0-1`},
		{"other architecture", "libstx1", "libstx", "1.0-1", "arm64", `architecture "arm64", not amd64`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := matchClaim(tc.pkg, tc.src, tc.ver, tc.arch, "libstx", "1.0-1", "amd64")
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

// makeDeb builds a minimal binary package with dpkg-deb.
func makeDeb(t *testing.T, dir, control string) string {
	t.Helper()
	root := filepath.Join(dir, "root")
	if err := os.MkdirAll(filepath.Join(root, "DEBIAN"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "DEBIAN", "control"), []byte(control), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "x.deb")
	if b, err := exec.Command("dpkg-deb", "--root-owner-group", "--build", root, out).CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb: %v: %s", err, b)
	}
	return out
}

func TestCheckArtifacts(t *testing.T) {
	if _, err := exec.LookPath("dpkg-deb"); err != nil {
		t.Skip("no dpkg-deb")
	}
	ctx := context.Background()
	dir := t.TempDir()
	good := makeDeb(t, filepath.Join(dir, "good"), "Package: stx-bootmarker\nVersion: 1.0-1\nArchitecture: all\nMaintainer: x <x@example.org>\nDescription: x\n")
	swapped := makeDeb(t, filepath.Join(dir, "swapped"), "Package: tiny\nVersion: 1.0-1\nArchitecture: amd64\nMaintainer: x <x@example.org>\nDescription: x\n")
	info := filepath.Join(dir, "stx-bootmarker_1.0-1_amd64.buildinfo")
	if err := os.WriteFile(info, []byte("Format: 1.0\nSource: stx-bootmarker\nVersion: 1.0-1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := CheckArtifacts(ctx, "stx-bootmarker", "1.0-1", "amd64", []string{good, info}); err != nil {
		t.Fatalf("genuine artifacts refused: %v", err)
	}
	err := CheckArtifacts(ctx, "stx-bootmarker", "1.0-1", "amd64", []string{swapped, info})
	if err == nil || !strings.Contains(err.Error(), `package tiny says it was built from source "tiny"`) {
		t.Fatalf("swapped .deb: err = %v", err)
	}
	if err := CheckArtifacts(ctx, "stx-bootmarker", "1.0-2", "amd64", []string{info}); err == nil {
		t.Fatal("a .buildinfo of another version was accepted")
	}
	garbage := filepath.Join(dir, "g.deb")
	if err := os.WriteFile(garbage, []byte("not a deb"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := CheckArtifacts(ctx, "stx-bootmarker", "1.0-1", "amd64", []string{garbage}); err == nil {
		t.Fatal("garbage .deb accepted")
	}
	link := filepath.Join(dir, "l.deb")
	if err := os.Symlink(good, link); err != nil {
		t.Fatal(err)
	}
	if err := CheckArtifacts(ctx, "stx-bootmarker", "1.0-1", "amd64", []string{link}); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Fatalf("symlink: err = %v", err)
	}
}
