package iso

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stx-build/stx-build/arch/amd64"
	"github.com/stx-build/stx-build/rootfs"
)

// needTools skips the test when a host tool is missing.
func needTools(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed (scripts/install-deps.sh)", tool)
		}
	}
}

// masterTree makes the boot files with the host's GRUB modules and fake
// live files in dir/medium, and masters dir/out.iso.
func masterTree(t *testing.T, dir string) string {
	t.Helper()
	p := amd64.Profile()
	tree := filepath.Join(dir, "medium")
	if err := os.MkdirAll(filepath.Join(tree, "live"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string]string{kernelPath: "kernel", initrdPath: "initrd", squashfsPath: "squashfs", packagesPath: "p 1 all\n"} {
		if err := os.WriteFile(filepath.Join(tree, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	tools := &toolRunner{epoch: testEpoch}
	cfg := grubConfig(p.Boot.GrubTerminal, 1, []menuEntry{{Title: "t", Args: []string{"stx.live=STX_TEST"}}})
	if err := bootFiles(ctx, tools, p, "/", "STX_TEST", filepath.Join(dir, "grub"), tree, cfg, testEpoch); err != nil {
		t.Fatal(err)
	}
	if err := rootfs.ClampTimes(tree, time.Unix(testEpoch, 0)); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out.iso")
	spec := masterSpec{Tree: tree, Output: out, Label: "STX_TEST", Epoch: testEpoch, EFIImage: efiImgPath,
		BIOSImage: biosImgPath, HybridMBR: "/" + p.Boot.BIOS.HybridMBR}
	if err := tools.run(ctx, "xorriso", xorrisoArgs(spec)...); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestMasterReproducible masters a small tree twice, in different
// directories a second apart, and reads the result back.
func TestMasterReproducible(t *testing.T) {
	needTools(t, "xorriso", "grub-mkimage", "mkfs.fat", "mcopy")
	p := amd64.Profile()
	for _, d := range []string{"/usr/lib/grub/" + p.Boot.BIOS.Platform, "/usr/lib/grub/" + p.Boot.EFI.Platform} {
		if _, err := os.Stat(d); err != nil {
			t.Skipf("%s: install grub-pc-bin and grub-efi-amd64-bin", d)
		}
	}
	base := t.TempDir()
	a := masterTree(t, filepath.Join(base, "a"))
	time.Sleep(1100 * time.Millisecond)
	b := masterTree(t, filepath.Join(base, "second", "b"))
	da, _ := os.ReadFile(a)
	db, _ := os.ReadFile(b)
	if !bytes.Equal(da, db) {
		t.Fatalf("two masterings differ (%d and %d bytes)", len(da), len(db))
	}

	info, err := Inspect(a)
	if err != nil {
		t.Fatal(err)
	}
	if info.Label != "STX_TEST" {
		t.Errorf("label %q", info.Label)
	}
	if len(info.Boot) != 2 || info.Boot[0].Platform != "bios" || info.Boot[0].Image != biosImgPath || !info.Boot[0].Bootable ||
		info.Boot[1].Platform != "uefi" || info.Boot[1].Image != efiImgPath || info.Boot[1].Emulation != "none" {
		t.Errorf("boot catalogue: %+v", info.Boot)
	}
	var esp bool
	for _, part := range info.GPT {
		esp = esp || part.Type == "EFI system"
	}
	if !esp || len(info.MBR) == 0 {
		t.Errorf("hybrid: MBR %+v GPT %+v", info.MBR, info.GPT)
	}
	for _, f := range []string{"/boot/grub/grub.cfg", "/EFI/BOOT/BOOTX64.EFI", "/live/vmlinuz", "/live/filesystem.squashfs"} {
		if !info.HasFile(f) {
			t.Errorf("no %s in %v", f, info.Files)
		}
	}
	var text bytes.Buffer
	info.WriteText(&text)
	if !bytes.Contains(text.Bytes(), []byte("bios  bootable, emulation none")) {
		t.Errorf("text:\n%s", text.String())
	}
}
