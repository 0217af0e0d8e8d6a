package hostdeps

import (
	"errors"
	"os/exec"
	"slices"
	"testing"

	"github.com/stx-build/stx-build/runner"
)

// fakeEnv is a machine with the given programs and files.
type fakeEnv struct {
	programs, files map[string]bool
	procFS          string
	euid            int
	free, budget    int64
	cgroup2         bool
}

func (f fakeEnv) LookPath(name string) (string, error) {
	if f.programs[name] {
		return "/usr/bin/" + name, nil
	}
	return "", exec.ErrNotFound
}
func (f fakeEnv) Exists(p string) bool { return f.files[p] }
func (f fakeEnv) ReadFile(p string) ([]byte, error) {
	if p == "/proc/filesystems" {
		return []byte(f.procFS), nil
	}
	return nil, errors.New("no file")
}
func (f fakeEnv) Euid() int        { return f.euid }
func (f fakeEnv) HostArch() string { return "amd64" }
func (f fakeEnv) FSType(string) (int64, error) {
	if f.cgroup2 {
		return 0x63677270, nil // CGROUP2_SUPER_MAGIC
	}
	return 0x1021994, nil
}
func (f fakeEnv) FreeBytes(string) (int64, error) { return f.free, nil }
func (f fakeEnv) KVM() error                      { return errors.New("KVM: no /dev/kvm") }
func (f fakeEnv) TmpfsBudget() (int64, error)     { return f.budget, nil }
func (f fakeEnv) Cgroups() runner.CgroupSupport {
	if !f.cgroup2 {
		return runner.CgroupSupport{Missing: []string{"pids: no cgroup v2 mount and no v1 hierarchy with this controller"}}
	}
	return runner.CgroupSupport{Version: 2, Parents: map[string]string{"pids": "/sys/fs/cgroup/stx", "memory": "/sys/fs/cgroup/stx"}}
}

// complete has everything the table names.
func complete() fakeEnv {
	f := fakeEnv{programs: map[string]bool{}, files: map[string]bool{}, procFS: "nodev\ttmpfs\nnodev\toverlay\nnodev\tbinfmt_misc\n",
		free: 100 << 30, budget: 8 << 30, cgroup2: true}
	for _, r := range Table() {
		f.programs[r.Name] = true
		f.files[r.Name] = true
	}
	for _, ns := range []string{"mnt", "pid", "uts", "ipc", "net"} {
		f.files["/proc/self/ns/"+ns] = true
	}
	return f
}

func statuses(res []Result) map[string]Status {
	m := map[string]Status{}
	for _, r := range res {
		m[r.Name] = r.Status
	}
	return m
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name    string
		env     func(f fakeEnv) fakeEnv
		opts    Options
		want    map[string]Status // checked and with this status
		absent  []string          // not checked at all
		install string
	}{
		{name: "complete machine, every command", env: func(f fakeEnv) fakeEnv { return f },
			want: map[string]Status{"mmdebstrap": OK, "arch-test": OK, "xorriso": OK, "qemu-system-aarch64": OK, "kvm": Degraded}},
		{name: "arch-test missing fails the image", env: func(f fakeEnv) fakeEnv { f.programs["arch-test"] = false; return f },
			opts: Options{Commands: []string{CmdImage}, Archs: []string{"amd64", "arm64"}},
			want: map[string]Status{"arch-test": Missing, "mmdebstrap": OK}, absent: []string{"xorriso", "dpkg-source", "podman"},
			install: "apt-get install --no-install-recommends arch-test"},
		{name: "native-only runs need no arch-test nor qemu-user", env: func(f fakeEnv) fakeEnv {
			f.programs["arch-test"], f.programs["qemu-aarch64-static"] = false, false
			return f
		}, opts: Options{Commands: []string{CmdBuild, CmdImage}, Archs: []string{"amd64"}},
			want: map[string]Status{"mmdebstrap": OK}, absent: []string{"arch-test", "qemu-aarch64-static", "binfmt_misc"}},
		{name: "not root, no overlay, little disk", env: func(f fakeEnv) fakeEnv {
			f.euid, f.procFS, f.free = 1000, "nodev\ttmpfs\n", 1<<30
			return f
		}, opts: Options{Commands: []string{CmdBuild}, Archs: []string{"amd64"}},
			want: map[string]Status{"root": Missing, "overlayfs": Missing, "free disk": Missing, "tmpfs": OK}},
		{name: "optional ones only degrade", env: func(f fakeEnv) fakeEnv {
			f.cgroup2, f.procFS, f.budget, f.free = false, "nodev\toverlay\n", 100<<20, 10<<30
			return f
		}, opts: Options{Commands: []string{CmdBuild}, Archs: []string{"amd64"}},
			want: map[string]Status{"cgroup limits": Degraded, "tmpfs": Degraded, "tmpfs budget": Degraded, "free disk": Degraded}},
		{name: "boot checks the ISO's architecture only", env: func(f fakeEnv) fakeEnv { f.programs["qemu-system-x86_64"] = false; return f },
			opts: Options{Commands: []string{CmdBoot}, Archs: []string{"arm64"}},
			want: map[string]Status{"qemu-system-aarch64": OK, "/usr/share/AAVMF/AAVMF_CODE.fd": OK}, absent: []string{"qemu-system-x86_64", "kvm", "mmdebstrap"}},
		{name: "dev adds the test tools", env: func(f fakeEnv) fakeEnv { f.programs["docker-registry"] = false; return f },
			opts: Options{Commands: []string{CmdDev}}, want: map[string]Status{"docker-registry": Missing, "podman": OK}, absent: []string{"mmdebstrap"},
			install: "apt-get install --no-install-recommends docker-registry"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := Check(tt.env(complete()), tt.opts)
			got := statuses(res)
			for name, want := range tt.want {
				if got[name] != want {
					t.Errorf("%s: %q, want %q", name, got[name], want)
				}
			}
			for _, name := range tt.absent {
				if _, ok := got[name]; ok {
					t.Errorf("%s checked, want not", name)
				}
			}
			for _, r := range res {
				if r.Status != OK && r.Fix == "" {
					t.Errorf("%s is %s with no fix", r.Name, r.Status)
				}
			}
			if line := InstallLine(res); line != tt.install {
				t.Errorf("install line %q, want %q", line, tt.install)
			}
			wantFail := slices.ContainsFunc(res, func(r Result) bool { return r.Status == Missing })
			if (len(Failed(res)) > 0) != wantFail {
				t.Errorf("Failed = %v", Failed(res))
			}
		})
	}
}

// Every requirement says why it is there and names its commands; a
// program or file comes with the package that provides it.
func TestTableComplete(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range Table() {
		if r.Why == "" || len(r.Commands) == 0 || r.check == nil {
			t.Errorf("%s: incomplete requirement", r.Name)
		}
		if seen[r.Name] {
			t.Errorf("%s listed twice", r.Name)
		}
		seen[r.Name] = true
		for _, c := range r.Commands {
			if !slices.Contains(Commands, c) {
				t.Errorf("%s: unknown command %q", r.Name, c)
			}
		}
		if r.Package == "" && r.Fix == "" && !r.Optional {
			t.Errorf("%s: neither a package nor a fix", r.Name)
		}
	}
}
