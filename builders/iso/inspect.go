package iso

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strings"
	"unicode/utf16"

	"github.com/kdomanski/iso9660"
)

// Info is what Inspect reads from an ISO.
type Info struct {
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	Label  string `json:"label"`
	// CatalogSector is where the El Torito boot catalogue is (0: none).
	CatalogSector uint32      `json:"catalog_sector,omitempty"`
	Boot          []BootEntry `json:"boot"`
	MBR           []Partition `json:"mbr,omitempty"`
	GPT           []Partition `json:"gpt,omitempty"`
	GPTDiskGUID   string      `json:"gpt_disk_guid,omitempty"`
	Files         []FileInfo  `json:"files"`
}

// BootEntry is one El Torito boot entry.
type BootEntry struct {
	// Platform is "bios" (80x86) or "uefi".
	Platform  string `json:"platform"`
	Bootable  bool   `json:"bootable"`
	Emulation string `json:"emulation"`
	// Sector is the image's first 2048-byte sector; Sectors the count of
	// 512-byte sectors loaded (BIOS) as recorded.
	Sector  uint32 `json:"sector"`
	Sectors uint16 `json:"sectors"`
	// Image is the file at Sector, when one starts there.
	Image string `json:"image,omitempty"`
}

// Partition is one MBR or GPT partition entry.
type Partition struct {
	Number int    `json:"number"`
	Type   string `json:"type"`
	Start  uint64 `json:"start"` // in 512-byte sectors
	Size   uint64 `json:"size"`  // in 512-byte sectors
	Name   string `json:"name,omitempty"`
	GUID   string `json:"guid,omitempty"`
}

// FileInfo is one file of the ISO 9660 tree (Rock Ridge names).
type FileInfo struct {
	Path string `json:"path"`
	Size int64  `json:"size"`
	Dir  bool   `json:"dir,omitempty"`
}

const sector = 2048

// Inspect reads an ISO back with an ISO 9660 reader that is independent
// of the tool that wrote it: the volume label and file tree (through
// github.com/kdomanski/iso9660, with Rock Ridge names), the El Torito boot
// catalogue (found through the boot record volume descriptor, which that
// library reads but does not interpret) and the MBR and GPT of the
// hybrid image.
func Inspect(file string) (*Info, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	info := &Info{Path: file, Size: st.Size()}
	if info.SHA256, _, err = sha256File(file); err != nil {
		return nil, err
	}
	img, err := iso9660.OpenImage(f)
	if err != nil {
		return nil, fmt.Errorf("%s: not an ISO 9660 image: %w", file, err)
	}
	if info.Label, err = img.Label(); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	info.Label = strings.TrimRight(info.Label, " \x00")
	root, err := img.RootDir()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	files := map[string]*iso9660.File{}
	if err := walkISO(root, "", &info.Files, files); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if info.CatalogSector, err = bootCatalogSector(f); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if info.CatalogSector != 0 {
		if info.Boot, err = readBootCatalog(f, info.CatalogSector); err != nil {
			return nil, fmt.Errorf("%s: boot catalogue: %w", file, err)
		}
		for i := range info.Boot {
			info.Boot[i].Image = imageAt(f, info.Boot[i].Sector, files)
		}
	}
	info.MBR = readMBR(f)
	info.GPT, info.GPTDiskGUID = readGPT(f)
	return info, nil
}

func walkISO(dir *iso9660.File, prefix string, out *[]FileInfo, files map[string]*iso9660.File) error {
	children, err := dir.GetChildren()
	if err != nil {
		return err
	}
	sort.Slice(children, func(i, j int) bool { return children[i].Name() < children[j].Name() })
	for _, c := range children {
		p := prefix + "/" + c.Name()
		if c.IsDir() {
			*out = append(*out, FileInfo{Path: p, Dir: true})
			if err := walkISO(c, p, out, files); err != nil {
				return err
			}
			continue
		}
		*out = append(*out, FileInfo{Path: p, Size: c.Size()})
		files[p] = c
	}
	return nil
}

// bootCatalogSector finds the El Torito boot record among the volume
// descriptors (sector 16 on) and returns the catalogue's sector.
func bootCatalogSector(r io.ReaderAt) (uint32, error) {
	buf := make([]byte, sector)
	for s := int64(16); s < 16+64; s++ {
		if _, err := r.ReadAt(buf, s*sector); err != nil {
			return 0, fmt.Errorf("volume descriptor %d: %w", s, err)
		}
		if string(buf[1:6]) != "CD001" {
			return 0, fmt.Errorf("volume descriptor %d: no CD001 signature", s)
		}
		switch buf[0] {
		case 0: // boot record
			if strings.TrimRight(string(buf[7:39]), "\x00 ") == "EL TORITO SPECIFICATION" {
				return binary.LittleEndian.Uint32(buf[71:75]), nil
			}
		case 255: // terminator
			return 0, nil
		}
	}
	return 0, errors.New("no volume descriptor set terminator")
}

// readBootCatalog parses the validation entry, the default entry and the
// section entries of an El Torito catalogue.
func readBootCatalog(r io.ReaderAt, at uint32) ([]BootEntry, error) {
	buf := make([]byte, sector)
	if _, err := r.ReadAt(buf, int64(at)*sector); err != nil {
		return nil, err
	}
	v := buf[:32]
	if v[0] != 1 || v[30] != 0x55 || v[31] != 0xAA {
		return nil, errors.New("no validation entry")
	}
	var sum uint16
	for i := 0; i < 32; i += 2 {
		sum += binary.LittleEndian.Uint16(v[i:])
	}
	if sum != 0 {
		return nil, errors.New("validation entry checksum does not add up")
	}
	entries := []BootEntry{bootEntry(platformName(v[1]), buf[32:64])}
	for off := 64; off+32 <= len(buf); {
		h := buf[off : off+32]
		if h[0] != 0x90 && h[0] != 0x91 {
			break
		}
		n := int(binary.LittleEndian.Uint16(h[2:4]))
		platform := platformName(h[1])
		off += 32
		for i := 0; i < n && off+32 <= len(buf); i++ {
			entries = append(entries, bootEntry(platform, buf[off:off+32]))
			off += 32
		}
		if h[0] == 0x91 {
			break
		}
	}
	return entries, nil
}

func platformName(id byte) string {
	switch id {
	case 0:
		return "bios"
	case 0xEF:
		return "uefi"
	}
	return fmt.Sprintf("platform 0x%02x", id)
}

func bootEntry(platform string, e []byte) BootEntry {
	emu := map[byte]string{0: "none", 1: "1.2M floppy", 2: "1.44M floppy", 3: "2.88M floppy", 4: "hard disk"}[e[1]&0x0f]
	return BootEntry{
		Platform:  platform,
		Bootable:  e[0] == 0x88,
		Emulation: emu,
		Sectors:   binary.LittleEndian.Uint16(e[6:8]),
		Sector:    binary.LittleEndian.Uint32(e[8:12]),
	}
}

// imageAt names the file whose content starts at sector s: the reader
// does not tell where files are, so the first sector is compared.
func imageAt(r io.ReaderAt, s uint32, files map[string]*iso9660.File) string {
	want := make([]byte, sector)
	n, _ := r.ReadAt(want, int64(s)*sector)
	want = want[:n]
	names := make([]string, 0, len(files))
	for p := range files {
		names = append(names, p)
	}
	sort.Strings(names)
	for _, p := range names {
		f := files[p]
		if f.Size() == 0 {
			continue
		}
		got := make([]byte, min(int64(len(want)), f.Size()))
		if _, err := io.ReadFull(f.Reader(), got); err != nil {
			continue
		}
		if bytes.Equal(got, want[:len(got)]) && len(got) > 0 {
			return strings.TrimPrefix(p, "/")
		}
	}
	return ""
}

// readMBR lists the MBR's partitions (none without the 0x55AA signature).
func readMBR(r io.ReaderAt) []Partition {
	b := make([]byte, 512)
	if _, err := r.ReadAt(b, 0); err != nil || b[510] != 0x55 || b[511] != 0xAA {
		return nil
	}
	var out []Partition
	for i := 0; i < 4; i++ {
		e := b[446+16*i : 446+16*(i+1)]
		if e[4] == 0 {
			continue
		}
		out = append(out, Partition{
			Number: i + 1,
			Type:   fmt.Sprintf("0x%02x", e[4]),
			Start:  uint64(binary.LittleEndian.Uint32(e[8:12])),
			Size:   uint64(binary.LittleEndian.Uint32(e[12:16])),
		})
	}
	return out
}

var gptTypes = map[string]string{
	"C12A7328-F81F-11D2-BA4B-00A0C93EC93B": "EFI system",
	"EBD0A0A2-B9E5-4433-87C0-68B6B72699C7": "basic data",
	"21686148-6449-6E6F-744E-656564454649": "BIOS boot",
}

// readGPT lists the GPT's partitions and the disk GUID, if there is a GPT
// at LBA 1.
func readGPT(r io.ReaderAt) ([]Partition, string) {
	h := make([]byte, 512)
	if _, err := r.ReadAt(h, 512); err != nil || string(h[:8]) != "EFI PART" {
		return nil, ""
	}
	disk := guid(h[56:72])
	start := binary.LittleEndian.Uint64(h[72:80])
	n := binary.LittleEndian.Uint32(h[80:84])
	size := binary.LittleEndian.Uint32(h[84:88])
	if size < 128 || n > 1024 {
		return nil, disk
	}
	buf := make([]byte, int(n)*int(size))
	if _, err := r.ReadAt(buf, int64(start)*512); err != nil {
		return nil, disk
	}
	var out []Partition
	for i := 0; i < int(n); i++ {
		e := buf[i*int(size) : (i+1)*int(size)]
		if bytes.Equal(e[:16], make([]byte, 16)) {
			continue
		}
		t := guid(e[:16])
		if name, ok := gptTypes[t]; ok {
			t = name
		}
		first, last := binary.LittleEndian.Uint64(e[32:40]), binary.LittleEndian.Uint64(e[40:48])
		u := make([]uint16, 36)
		for j := range u {
			u[j] = binary.LittleEndian.Uint16(e[56+2*j:])
		}
		name := strings.TrimRight(string(utf16.Decode(u)), "\x00")
		out = append(out, Partition{Number: i + 1, Type: t, Start: first, Size: last - first + 1, Name: name, GUID: guid(e[16:32])})
	}
	return out, disk
}

// guid formats a GPT GUID (its first three fields little-endian).
func guid(b []byte) string {
	return fmt.Sprintf("%08X-%04X-%04X-%X-%X",
		binary.LittleEndian.Uint32(b[0:4]), binary.LittleEndian.Uint16(b[4:6]), binary.LittleEndian.Uint16(b[6:8]), b[8:10], b[10:16])
}

// WriteText prints info for people.
func (info *Info) WriteText(w io.Writer) {
	fmt.Fprintf(w, "iso:     %s\n", info.Path)
	fmt.Fprintf(w, "size:    %d bytes (%.1f MiB)\n", info.Size, float64(info.Size)/(1<<20))
	fmt.Fprintf(w, "sha256:  %s\n", info.SHA256)
	fmt.Fprintf(w, "label:   %s\n", info.Label)
	if info.CatalogSector == 0 {
		fmt.Fprintln(w, "boot:    no El Torito boot record")
	} else {
		fmt.Fprintf(w, "boot catalogue at sector %d:\n", info.CatalogSector)
		for _, e := range info.Boot {
			boot := "bootable"
			if !e.Bootable {
				boot = "not bootable"
			}
			img := e.Image
			if img == "" {
				img = "(no file starts there)"
			}
			fmt.Fprintf(w, "  %-5s %s, emulation %s, sector %d: %s\n", e.Platform, boot, e.Emulation, e.Sector, img)
		}
	}
	if len(info.MBR) > 0 {
		fmt.Fprintln(w, "mbr partitions:")
		for _, p := range info.MBR {
			fmt.Fprintf(w, "  %d  type %s  start %d  sectors %d\n", p.Number, p.Type, p.Start, p.Size)
		}
	}
	if len(info.GPT) > 0 {
		fmt.Fprintf(w, "gpt (disk %s):\n", info.GPTDiskGUID)
		for _, p := range info.GPT {
			fmt.Fprintf(w, "  %d  %s  start %d  sectors %d  %q\n", p.Number, p.Type, p.Start, p.Size, p.Name)
		}
	}
	fmt.Fprintf(w, "files:\n")
	for _, f := range info.Files {
		if f.Dir {
			fmt.Fprintf(w, "  %s/\n", f.Path)
			continue
		}
		fmt.Fprintf(w, "  %-50s %12d\n", f.Path, f.Size)
	}
}

// HasFile reports whether the ISO has a file at p (absolute, Rock Ridge
// name).
func (info *Info) HasFile(p string) bool {
	p = path.Clean("/" + p)
	for _, f := range info.Files {
		if f.Path == p && !f.Dir {
			return true
		}
	}
	return false
}
