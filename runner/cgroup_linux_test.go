package runner

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// TestProbeCgroups finds where sandbox cgroups go on a fake v2 host (own
// cgroup, or its parent when its own cannot delegate), a hybrid v1 host
// and a host without cgroups.
func TestProbeCgroups(t *testing.T) {
	dir := t.TempDir()
	write := func(p, content string) string {
		p = filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	v2 := filepath.Join(dir, "cg2")
	v1pids, v1mem := filepath.Join(dir, "pids"), filepath.Join(dir, "memory")
	mountinfoV2 := write("mountinfo-v2", "40 30 0:37 / "+v2+" rw,relatime - cgroup2 cgroup2 rw\n")
	mountinfoV1 := write("mountinfo-v1", "34 30 0:31 / "+v1mem+" rw,relatime - cgroup cgroup rw,memory\n"+
		"38 30 0:35 / "+v1pids+" rw,relatime - cgroup cgroup rw,pids\n"+
		"40 30 0:37 / "+v2+" rw,relatime - cgroup2 cgroup2 rw\n")
	mountinfoNone := write("mountinfo-none", "22 1 0:21 / /proc rw - proc proc rw\n")

	// own is a/b: the controllers are there; its subtree_control takes them.
	write("cg2/a/b/cgroup.controllers", "cpu memory pids\n")
	write("cg2/a/b/cgroup.subtree_control", "")
	// own is a/c, which holds processes: its subtree_control refuses
	// (a directory here), its parent delegates both.
	write("cg2/a/c/cgroup.controllers", "memory pids\n")
	if err := os.MkdirAll(filepath.Join(v2, "a/c/cgroup.subtree_control"), 0o755); err != nil {
		t.Fatal(err)
	}
	write("cg2/a/cgroup.subtree_control", "memory pids\n")

	tests := []struct {
		name, cgroup, mountinfo string
		want                    CgroupSupport
	}{
		{"v2, own cgroup", "0::/a/b\n", mountinfoV2, CgroupSupport{Version: 2, Parents: map[string]string{"pids": filepath.Join(v2, "a/b"), "memory": filepath.Join(v2, "a/b")}}},
		{"v2, own cgroup holds processes", "0::/a/c\n", mountinfoV2, CgroupSupport{Version: 2, Parents: map[string]string{"pids": filepath.Join(v2, "a"), "memory": filepath.Join(v2, "a")}}},
		{"v1 hierarchies", "8:pids:/\n4:memory:/x/y\n0::/\n", mountinfoV1, CgroupSupport{Version: 1, Parents: map[string]string{"pids": v1pids, "memory": filepath.Join(v1mem, "x/y")}}},
		{"none", "0::/\n", mountinfoNone, CgroupSupport{Parents: map[string]string{}, Missing: []string{
			"pids: no cgroup v2 mount and no v1 hierarchy with this controller",
			"memory: no cgroup v2 mount and no v1 hierarchy with this controller"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := probeCgroups(write("cgroup", tt.cgroup), tt.mountinfo)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}
