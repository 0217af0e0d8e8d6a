package buildrun

import (
	"fmt"
	"testing"
)

func TestParseWorker(t *testing.T) {
	for _, tc := range []struct {
		in    string
		addr  string
		slots int
		err   bool
	}{
		{in: "unix:///run/buildkit/buildkitd.sock", addr: "unix:///run/buildkit/buildkitd.sock", slots: 1},
		{in: "tcp://builder2:1234=4", addr: "tcp://builder2:1234", slots: 4},
		{in: "tcp://builder2:1234=0", err: true},
		{in: "tcp://builder2:1234=two", err: true},
		{in: "tcp://builder2:1234=02", err: true},
		{in: "builder2:1234", err: true},
		{in: "", err: true},
	} {
		w, err := ParseWorker(tc.in)
		if tc.err {
			if err == nil {
				t.Errorf("%q: no error, got %+v", tc.in, w)
			}
			continue
		}
		if err != nil || w.Addr != tc.addr || w.Slots != tc.slots {
			t.Errorf("%q: %+v, %v; want %s with %d slots", tc.in, w, err, tc.addr, tc.slots)
		}
	}
}

// TestPoolArchs: every place builds its native architecture; one that
// some place runs natively is built only natively there; the others are
// cross-built by the places of the host's architecture only.
func TestPoolArchs(t *testing.T) {
	for _, tc := range []struct {
		name           string
		archs, natives []string
		want           [][]string
	}{
		{"amd64 workers", []string{"amd64", "arm64"}, []string{"amd64", "amd64", "amd64"},
			[][]string{{"amd64", "arm64"}, {"amd64", "arm64"}, {"amd64", "arm64"}}},
		{"an arm64 worker takes the arm64 builds", []string{"amd64", "arm64"}, []string{"amd64", "arm64", "amd64"},
			[][]string{{"amd64"}, {"arm64"}, {"amd64"}}},
		{"an arm64-only project", []string{"arm64"}, []string{"amd64", "amd64"},
			[][]string{{"amd64", "arm64"}, {"amd64", "arm64"}}},
		{"a worker of no project architecture", []string{"amd64"}, []string{"amd64", "riscv64"},
			[][]string{{"amd64"}, {"riscv64"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := poolArchs("amd64", tc.archs, tc.natives)
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("poolArchs(%v, %v) = %v, want %v", tc.archs, tc.natives, got, tc.want)
			}
		})
	}
}
