package mountinfo

import (
	"reflect"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	in := `22 27 0:21 / /proc rw,relatime - proc proc rw
42 27 0:39 / /var/lib/stx\040build/tmpfs/a rw,relatime shared:1 - tmpfs stx-build rw,size=1024k,mode=755
43 42 0:40 / /x\011y\134z ro,nosuid master:2 propagate_from:1 - ext4 /dev/sda1 rw
`
	got, err := Parse(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []Mount{
		{"/proc", "rw,relatime", "proc", "rw"},
		{"/var/lib/stx build/tmpfs/a", "rw,relatime", "tmpfs", "rw,size=1024k,mode=755"},
		{"/x\ty\\z", "ro,nosuid", "ext4", "rw"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q\nwant %q", got, want)
	}
	for _, bad := range []string{"1 2 3\n", "22 27 0:21 / /proc rw proc proc rw\n"} {
		if _, err := Parse(strings.NewReader(bad)); err == nil {
			t.Errorf("Parse(%q): no error", bad)
		}
	}
}

func TestUnescape(t *testing.T) {
	for in, want := range map[string]string{`/a\040b`: "/a b", `/plain`: "/plain", `/trail\04`: `/trail\04`, `/x\134y`: `/x\y`} {
		if got := Unescape(in); got != want {
			t.Errorf("Unescape(%q) = %q, want %q", in, got, want)
		}
	}
}
