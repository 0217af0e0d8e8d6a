package repo

import (
	"strings"
	"testing"
)

func TestParseControl(t *testing.T) {
	tests := []struct {
		name    string
		raw     string
		want    binary // Control compared separately
		control string // "" : the same as raw
		err     string
	}{
		{
			name: "plain",
			raw:  "Package: hello\nVersion: 2.10-3\nArchitecture: amd64\nDescription: hi\n there\n .\n  x\n",
			want: binary{Package: "hello", Version: "2.10-3", Architecture: "amd64", Source: "hello"},
		},
		{
			name: "source with version, CRLF, comments, blank lines, index fields dropped",
			raw: "\r\n# made by hand\r\nPackage: libfoo1\r\nSource: foo (1:2.0-1)\r\nVersion: 1:2.0-1+b1\r\n" +
				"Architecture: all\r\nSHA256: 00\r\nSize: 1\r\nMD5sum:\r\n 00 1 x\r\nMulti-Arch: foreign\r\n\r\n\r\n",
			want:    binary{Package: "libfoo1", Version: "1:2.0-1+b1", Architecture: "all", Source: "foo"},
			control: "Package: libfoo1\nSource: foo (1:2.0-1)\nVersion: 1:2.0-1+b1\nArchitecture: all\nMulti-Arch: foreign\n",
		},
		{
			name: "udeb by Package-Type",
			raw:  "Package: di-utils\nVersion: 1.0\nArchitecture: amd64\nPackage-Type: udeb\n",
			want: binary{Package: "di-utils", Version: "1.0", Architecture: "amd64", Source: "di-utils", Udeb: true},
		},
		{name: "two stanzas", raw: "Package: a1\nVersion: 1\nArchitecture: all\n\nPackage: b1\n", err: "line 5: more than one stanza"},
		{name: "continuation first", raw: " x\nPackage: a1\n", err: "line 1: continuation line"},
		{name: "not a field", raw: "Package: a1\nbogus\n", err: `line 2: "bogus" is not a field`},
		{name: "empty", raw: "\n\n", err: "no fields"},
		{name: "bad name", raw: "Package: ../x\nVersion: 1\nArchitecture: all\n", err: "field Package"},
		{name: "bad source", raw: "Package: ab\nSource: A/B\nVersion: 1\nArchitecture: all\n", err: "field Source"},
		{name: "two archs", raw: "Package: ab\nVersion: 1\nArchitecture: amd64 arm64\n", err: "field Architecture"},
		{name: "bad version", raw: "Package: ab\nVersion: 1/2\nArchitecture: all\n", err: "field Version"},
		{name: "no version", raw: "Package: ab\nArchitecture: all\n", err: "field Version"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseControl([]byte(tt.raw))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want one containing %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := tt.control
			if want == "" {
				want = tt.raw
			}
			if got.Control != want {
				t.Errorf("Control:\n%q\nwant\n%q", got.Control, want)
			}
			got.Control = ""
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestPoolPath(t *testing.T) {
	tests := []struct {
		b    binary
		want string
	}{
		{binary{Package: "hello", Source: "hello", Version: "2.10-3", Architecture: "amd64"},
			"pool/main/h/hello/hello_2.10-3_amd64.deb"},
		{binary{Package: "libfoo-dev", Source: "libfoo", Version: "1:2.0-1", Architecture: "arm64"},
			"pool/main/libf/libfoo/libfoo-dev_2.0-1_arm64.deb"},
		{binary{Package: "lib", Source: "lib", Version: "1", Architecture: "all"},
			"pool/main/l/lib/lib_1_all.deb"},
		{binary{Package: "foo-udeb", Source: "foo", Version: "1.0", Architecture: "amd64", Udeb: true},
			"pool/main/f/foo/foo-udeb_1.0_amd64.udeb"},
	}
	for _, tt := range tests {
		if got := poolPath(tt.b); got != tt.want {
			t.Errorf("poolPath(%s) = %s, want %s", tt.b.Package, got, tt.want)
		}
	}
}

// TestRenderDistsOrder: stanzas sort by package, then dpkg version order
// (not string order), then architecture, whatever the input order.
func TestRenderDistsOrder(t *testing.T) {
	mk := func(p, v, a string) binary {
		return binary{Package: p, Version: v, Architecture: a, Control: "Package: " + p + "\n",
			Filename: "pool/main/x/x/" + p + "_" + v + "_" + a + ".deb"}
	}
	in := []binary{mk("b", "1.0", "amd64"), mk("a", "1.10", "amd64"), mk("a", "1.9", "amd64"),
		mk("a", "1.0~rc1", "all"), mk("a", "1.0~rc1", "amd64"), mk("a", "1:0.1", "amd64")}
	opts := Options{Date: testDate}.withDefaults()
	want := renderDists("amd64", in, opts)
	var order []string
	for _, line := range strings.Split(string(want[1].data), "\n") {
		if f, ok := strings.CutPrefix(line, "Filename: "); ok {
			order = append(order, f[len("pool/main/x/x/"):])
		}
	}
	wantOrder := "a_1.0~rc1_all.deb a_1.0~rc1_amd64.deb a_1.9_amd64.deb a_1.10_amd64.deb a_1:0.1_amd64.deb b_1.0_amd64.deb"
	if got := strings.Join(order, " "); got != wantOrder {
		t.Errorf("order %s\nwant  %s", got, wantOrder)
	}
	for i := range in { // rotations of the input give the same bytes
		rot := append(append([]binary{}, in[i:]...), in[:i]...)
		got := renderDists("amd64", rot, opts)
		for j := range got {
			if got[j].path != want[j].path || string(got[j].data) != string(want[j].data) {
				t.Fatalf("rotation %d: %s differs", i, got[j].path)
			}
		}
	}
}
