package iso

import (
	"bufio"
	"bytes"
	"compress/gzip"
	_ "embed"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// initScript is the initramfs's /init: it finds the medium by label,
// mounts the squashfs under a tmpfs overlay and switches to the live
// root's init.
//
//go:embed init.sh
var initScript []byte

// moduleSet is what a kernel's modules.dep and modules.builtin say.
type moduleSet struct {
	// deps maps a module's path (relative to the modules directory) to
	// the paths it needs, as listed.
	deps map[string][]string
	// byName maps a module name (with "_" for "-") to its path.
	byName map[string]string
	// builtin holds the names of modules built into the kernel.
	builtin map[string]bool
}

// moduleName turns kernel/fs/isofs/isofs.ko(.xz) or usb-storage into the
// name modprobe uses: isofs, usb_storage.
func moduleName(p string) string {
	base := path.Base(p)
	if i := strings.Index(base, ".ko"); i >= 0 {
		base = base[:i]
	}
	return strings.ReplaceAll(base, "-", "_")
}

// parseModules reads modules.dep and modules.builtin data.
func parseModules(dep, builtin []byte) (*moduleSet, error) {
	ms := &moduleSet{deps: map[string][]string{}, byName: map[string]string{}, builtin: map[string]bool{}}
	s := bufio.NewScanner(bytes.NewReader(dep))
	s.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for line := 1; s.Scan(); line++ {
		l := strings.TrimSpace(s.Text())
		if l == "" {
			continue
		}
		mod, deps, ok := strings.Cut(l, ":")
		if !ok {
			return nil, fmt.Errorf("modules.dep line %d: no colon", line)
		}
		mod = strings.TrimSpace(mod)
		ms.deps[mod] = strings.Fields(deps)
		ms.byName[moduleName(mod)] = mod
	}
	if err := s.Err(); err != nil {
		return nil, err
	}
	for _, l := range strings.Split(string(builtin), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			ms.builtin[moduleName(l)] = true
		}
	}
	return ms, nil
}

// loadOrder returns the module paths to load for the named modules, each
// after what it needs, the names found built into the kernel, and the
// names that are neither: a kernel configured for fewer machines (such as
// a project's own) lacks those drivers, which the caller reports.
func (ms *moduleSet) loadOrder(names []string) (order, builtin, missing []string, err error) {
	done := map[string]bool{}
	var visit func(p string, chain []string) error
	visit = func(p string, chain []string) error {
		if done[p] {
			return nil
		}
		for _, c := range chain {
			if c == p {
				return fmt.Errorf("module dependency cycle: %s", strings.Join(append(chain, p), " -> "))
			}
		}
		deps, ok := ms.deps[p]
		if !ok {
			return fmt.Errorf("module %s is needed (%s) but not in modules.dep", p, strings.Join(chain, " -> "))
		}
		// modprobe loads the listed dependencies last to first.
		for i := len(deps) - 1; i >= 0; i-- {
			if err := visit(deps[i], append(chain, p)); err != nil {
				return err
			}
		}
		done[p] = true
		order = append(order, p)
		return nil
	}
	for _, n := range names {
		n = strings.ReplaceAll(n, "-", "_")
		p, ok := ms.byName[n]
		switch {
		case ok:
			if err := visit(p, nil); err != nil {
				return nil, nil, nil, err
			}
		case ms.builtin[n]:
			builtin = append(builtin, n)
		default:
			missing = append(missing, n)
		}
	}
	return order, builtin, missing, nil
}

// initramfsSpec says what goes into the live initramfs.
type initramfsSpec struct {
	// Busybox is the path of a static busybox for the target architecture.
	Busybox string
	// ModulesDir is the kernel's /lib/modules/<version> in the live root;
	// empty for a kernel without modules (every driver built in).
	ModulesDir string
	// Modules are the module names to load (their dependencies are added).
	Modules []string
}

// initramfsResult tells what was put in.
type initramfsResult struct {
	Modules []string // module paths, in load order
	Builtin []string // requested modules found built into the kernel
	Missing []string // requested modules the kernel has in neither way
}

// writeInitramfs writes the live initramfs as an uncompressed cpio
// archive: /init, busybox, the modules and their load order. It is small
// (a few MiB), so it is left uncompressed: no compressor version can change
// its bytes, and the kernel unpacks it without work.
func writeInitramfs(w io.Writer, spec initramfsSpec, mtime int64) (*initramfsResult, error) {
	res := &initramfsResult{}
	var order []string
	if spec.ModulesDir != "" {
		dep, err := os.ReadFile(filepath.Join(spec.ModulesDir, "modules.dep"))
		if err != nil {
			return nil, fmt.Errorf("initramfs: %w", err)
		}
		builtin, err := os.ReadFile(filepath.Join(spec.ModulesDir, "modules.builtin"))
		if err != nil && !os.IsNotExist(err) {
			return nil, fmt.Errorf("initramfs: %w", err)
		}
		ms, err := parseModules(dep, builtin)
		if err != nil {
			return nil, fmt.Errorf("initramfs: %s: %w", spec.ModulesDir, err)
		}
		if order, res.Builtin, res.Missing, err = ms.loadOrder(spec.Modules); err != nil {
			return nil, fmt.Errorf("initramfs: %w", err)
		}
	}
	bb, err := os.ReadFile(spec.Busybox)
	if err != nil {
		return nil, fmt.Errorf("initramfs: busybox: %w", err)
	}
	entries := []cpioEntry{
		{Name: "init", Mode: 0o755, Data: initScript},
		{Name: "bin", Mode: fs.ModeDir | 0o755},
		{Name: "bin/busybox", Mode: 0o755, Data: bb},
		{Name: "bin/sh", Mode: fs.ModeSymlink | 0o777, Data: []byte("busybox")},
		{Name: "dev", Mode: fs.ModeDir | 0o755},
		// The kernel opens /dev/console for init before devtmpfs is mounted.
		{Name: "dev/console", Mode: fs.ModeDevice | fs.ModeCharDevice | 0o600, Major: 5, Minor: 1},
		{Name: "etc", Mode: fs.ModeDir | 0o755},
		{Name: "etc/stx-live", Mode: fs.ModeDir | 0o755},
		{Name: "lib", Mode: fs.ModeDir | 0o755},
		{Name: "lib/modules", Mode: fs.ModeDir | 0o755},
		{Name: "root", Mode: fs.ModeDir | 0o700},
	}
	dirs := map[string]bool{}
	var list bytes.Buffer
	for _, m := range order {
		data, name, err := readModule(filepath.Join(spec.ModulesDir, m))
		if err != nil {
			return nil, fmt.Errorf("initramfs: %w", err)
		}
		rel := path.Join(path.Dir(m), name)
		for d := path.Dir(rel); d != "." && !dirs[d]; d = path.Dir(d) {
			dirs[d] = true
			entries = append(entries, cpioEntry{Name: "lib/modules/" + d, Mode: fs.ModeDir | 0o755})
		}
		entries = append(entries, cpioEntry{Name: "lib/modules/" + rel, Mode: 0o644, Data: data})
		fmt.Fprintln(&list, rel)
	}
	entries = append(entries, cpioEntry{Name: "etc/stx-live/modules", Mode: 0o644, Data: list.Bytes()})
	if err := writeCpio(w, entries, mtime); err != nil {
		return nil, fmt.Errorf("initramfs: %w", err)
	}
	sort.Strings(res.Builtin)
	res.Modules = order
	return res, nil
}

// readModule returns a module's content, decompressed (busybox's insmod
// reads plain modules only), and its plain file name.
func readModule(p string) ([]byte, string, error) {
	base := filepath.Base(p)
	switch {
	case strings.HasSuffix(base, ".ko"):
		data, err := os.ReadFile(p)
		return data, base, err
	case strings.HasSuffix(base, ".ko.gz"):
		f, err := os.Open(p)
		if err != nil {
			return nil, "", err
		}
		defer f.Close()
		zr, err := gzip.NewReader(f)
		if err != nil {
			return nil, "", fmt.Errorf("%s: %w", p, err)
		}
		data, err := io.ReadAll(zr)
		return data, strings.TrimSuffix(base, ".gz"), err
	case strings.HasSuffix(base, ".ko.xz"), strings.HasSuffix(base, ".ko.zst"):
		tool, ext := "xz", ".xz"
		if strings.HasSuffix(base, ".zst") {
			tool, ext = "zstd", ".zst"
		}
		data, err := exec.Command(tool, "-dc", p).Output()
		if err != nil {
			return nil, "", fmt.Errorf("%s -dc %s: %w", tool, p, err)
		}
		return data, strings.TrimSuffix(base, ext), nil
	}
	return nil, "", fmt.Errorf("%s: not a kernel module", p)
}
