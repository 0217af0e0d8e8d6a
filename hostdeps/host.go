package hostdeps

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"

	"github.com/stx-build/stx-build/ramdisk"
	"github.com/stx-build/stx-build/runner"
)

// Host is the machine stx-build runs on.
type Host struct {
	// Arch is the machine's Debian architecture.
	Arch string
	// KVMCheck says why KVM cannot run a virtual machine (nil: it can).
	// Nil: KVM counts as unusable.
	KVMCheck func() error
}

// sbin directories: a non-root user's PATH often lacks them, though
// the programs there (mkfs.fat) run fine for anyone.
var sbin = []string{"/usr/local/sbin", "/usr/sbin", "/sbin"}

// LookPath implements Env.
func (h Host) LookPath(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, d := range sbin {
		p := filepath.Join(d, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", exec.ErrNotFound
}

// Exists implements Env.
func (Host) Exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// ReadFile implements Env; it reads at most 64 KiB.
func (Host) ReadFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	n, err := f.Read(buf)
	if n == 0 && err != nil {
		return nil, err
	}
	return buf[:n], nil
}

// Euid implements Env.
func (Host) Euid() int { return os.Geteuid() }

// HostArch implements Env.
func (h Host) HostArch() string { return h.Arch }

// FSType implements Env.
func (Host) FSType(path string) (int64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return 0, err
	}
	return int64(st.Type), nil
}

// FreeBytes implements Env: the free space of the nearest existing
// directory at or above path (a cache directory may not exist yet).
func (Host) FreeBytes(path string) (int64, error) {
	p, err := filepath.Abs(path)
	if err != nil {
		return 0, err
	}
	for {
		var st syscall.Statfs_t
		err := syscall.Statfs(p, &st)
		if err == nil {
			return int64(st.Bavail) * int64(st.Bsize), nil
		}
		if !errors.Is(err, os.ErrNotExist) || p == "/" {
			return 0, err
		}
		p = filepath.Dir(p)
	}
}

// KVM implements Env.
func (h Host) KVM() error {
	if h.KVMCheck == nil {
		return errors.New("KVM: not checked")
	}
	return h.KVMCheck()
}

// TmpfsBudget implements Env: ramdisk's default budget.
func (Host) TmpfsBudget() (int64, error) { return ramdisk.DefaultBudget() }

// Cgroups implements Env: how the local sandbox enforces its limits.
func (Host) Cgroups() runner.CgroupSupport { return runner.Cgroups() }
