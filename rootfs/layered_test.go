package rootfs

import (
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
