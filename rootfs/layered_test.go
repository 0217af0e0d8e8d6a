package rootfs

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestSplitPackages(t *testing.T) {
	project := map[string]repoPackage{
		"stx-hello": {name: "stx-hello", depends: "libc6 (>= 2.34), libstx1 (= 1.0)"},
		"libstx1":   {name: "libstx1", depends: "libc6 (>= 2.17), zlib1g | libz-dev"},
		"stx-tools": {name: "stx-tools", depends: "perl:any, stx-hello"},
		"unused":    {name: "unused", depends: "python3"},
	}
	for _, tc := range []struct {
		want                []string
		archive, extra, top []string
	}{
		{want: []string{"stx-hello"}, extra: []string{"libc6", "zlib1g"}, top: []string{"libstx1", "stx-hello"}},
		{want: []string{"systemd-sysv", "stx-tools", "libc6"}, archive: []string{"libc6", "systemd-sysv"}, extra: []string{"perl", "zlib1g"}, top: []string{"libstx1", "stx-hello", "stx-tools"}},
		{want: []string{"systemd-sysv"}, archive: []string{"systemd-sysv"}},
	} {
		archive, extra, top := splitPackages(tc.want, project)
		if !reflect.DeepEqual(archive, tc.archive) || !reflect.DeepEqual(extra, tc.extra) || !reflect.DeepEqual(top, tc.top) {
			t.Errorf("splitPackages(%v):\n got %q %q %q\nwant %q %q %q", tc.want, archive, extra, top, tc.archive, tc.extra, tc.top)
		}
	}
}

// The archive counts as changed when its package indexes do, not when
// its Release files are signed again; the lists of the project's own
// repositories (named from a path, "_...") do not count.
func TestReleaseDigest(t *testing.T) {
	root := t.TempDir()
	lists := filepath.Join(root, "var/lib/apt/lists")
	if err := os.MkdirAll(filepath.Join(lists, "partial"), 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name, content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(lists, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	digest := func() string {
		t.Helper()
		d, err := releaseDigest(root)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	write("mirror_debian_dists_bookworm_InRelease", "Date: Sat, 10 Jan 2026\n")
	write("mirror_debian_dists_bookworm_main_binary-amd64_Packages", "Package: libc6\nVersion: 2.36-9+deb12u9\n")
	write("_var_tmp_out_amd64_repo_dists_stx_main_binary-amd64_Packages", "Package: stx-hello\nVersion: 1.0\n")
	write("lock", "")
	before := digest()
	write("mirror_debian_dists_bookworm_InRelease", "Date: Sun, 11 Jan 2026\n")
	write("_var_tmp_out_amd64_repo_dists_stx_main_binary-amd64_Packages", "Package: stx-hello\nVersion: 1.1\n")
	if got := digest(); got != before {
		t.Errorf("a Release signed again or a project repository changed the archive's digest")
	}
	write("mirror_debian_dists_bookworm_main_binary-amd64_Packages", "Package: libc6\nVersion: 2.36-9+deb12u10\n")
	if got := digest(); got == before {
		t.Errorf("a new package version left the archive's digest unchanged")
	}
}
