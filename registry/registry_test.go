package registry

import "testing"

func TestLoopback(t *testing.T) {
	for ref, want := range map[string]bool{
		"localhost/a":            true,
		"localhost:5000/a/b":     true,
		"127.0.0.1:5000/stx":     true,
		"127.1.2.3/stx":          true,
		"[::1]:5000/stx/cache":   true,
		"registry.example/a":     false,
		"10.0.0.1:5000/stx":      false,
		"localhost.example/a:1":  false,
		"[2001:db8::1]:5000/stx": false,
	} {
		if got := Loopback(ref); got != want {
			t.Errorf("Loopback(%q) = %v, want %v", ref, got, want)
		}
	}
}

func TestParseReference(t *testing.T) {
	for ref, scheme := range map[string]string{
		"127.0.0.1:5000/a/b:1":      "http",
		"localhost:5000/a:1":        "http",
		"registry.example/a:1":      "https",
		"oci.example.net/org/a:1.0": "https",
	} {
		r, err := ParseReference(ref)
		if err != nil {
			t.Fatal(err)
		}
		if got := r.Context().Registry.Scheme(); got != scheme {
			t.Errorf("%s: scheme %s, want %s", ref, got, scheme)
		}
	}
}

func TestParseRepository(t *testing.T) {
	for _, tc := range []struct {
		ref      string
		insecure bool
		scheme   string
	}{
		{"127.0.0.1:5000/stx/cache", false, "http"},
		{"registry.example/team/cache", false, "https"},
		{"registry.example/team/cache", true, "http"},
	} {
		r, err := ParseRepository(tc.ref, tc.insecure)
		if err != nil {
			t.Fatal(err)
		}
		if got := r.Registry.Scheme(); got != tc.scheme {
			t.Errorf("%s (insecure %v): scheme %s, want %s", tc.ref, tc.insecure, got, tc.scheme)
		}
	}
	for _, bad := range []string{"registry.example/a:tag", "cache", ""} {
		if _, err := ParseRepository(bad, false); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
