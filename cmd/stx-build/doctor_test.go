package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// A command that needs a program the machine lacks stops before any work,
// naming the program, its package and the install line; commands that
// need nothing from the host are not stopped.
func TestPreflight(t *testing.T) {
	example := localExample(t)
	t.Setenv(noPreflightEnv, "")
	t.Setenv("PATH", t.TempDir()) // nothing found through PATH
	_, err := run(t, "image", "-C", example, "--no-build")
	if err == nil {
		t.Fatal("image ran with an empty PATH")
	}
	for _, want := range []string{
		"image: this machine lacks what it needs",
		"mmdebstrap (package mmdebstrap)",
		"arch-test (package arch-test): mmdebstrap needs it for a root with a foreign architecture",
		"fix: apt-get install --no-install-recommends ",
		"stx-build doctor",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	// --arch amd64 alone needs no arch-test.
	_, err = run(t, "image", "-C", example, "--no-build", "--arch", "amd64")
	if err == nil || strings.Contains(err.Error(), "arch-test") || !strings.Contains(err.Error(), "mmdebstrap") {
		t.Errorf("amd64-only image: %v", err)
	}
	if _, err := run(t, "graph", "-C", example, "--arch", "amd64"); err != nil {
		t.Errorf("graph needs nothing from the host: %v", err)
	}
}

func TestDoctorJSON(t *testing.T) {
	t.Setenv(noPreflightEnv, "")
	t.Setenv("PATH", t.TempDir())
	out, err := run(t, "doctor", "--dev", "--output", "json")
	if err == nil {
		t.Error("doctor passed with an empty PATH")
	}
	var doc struct {
		OK      bool   `json:"ok"`
		Install string `json:"install"`
		Checks  []struct {
			Name, Package, Status string
		} `json:"checks"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if doc.OK || !strings.Contains(doc.Install, " arch-test ") || !strings.Contains(doc.Install, " mmdebstrap ") {
		t.Errorf("ok %v, install %q", doc.OK, doc.Install)
	}
	found := false
	for _, c := range doc.Checks {
		if c.Name == "arch-test" {
			found = c.Status == "missing" && c.Package == "arch-test"
		}
	}
	if !found {
		t.Errorf("arch-test not reported missing: %s", out)
	}
}
