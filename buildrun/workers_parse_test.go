package buildrun

import "testing"

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
