package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The plan of the example (without hello, which comes from the archive)
// with given costs, on 2 slots and a 3 GiB budget: a golden schedule.
func TestPlanGolden(t *testing.T) {
	dir := localExample(t)
	costs, err := filepath.Abs(filepath.Join("testdata", "plan-costs.json"))
	if err != nil {
		t.Fatal(err)
	}
	common := []string{"plan", "-C", dir, "--jobs", "2", "--cores", "4", "--tmpfs-budget", "3GiB", "--costs", costs}
	for _, tc := range []struct {
		golden string
		args   []string
	}{
		{"plan-text.golden", common},
		{"plan-json.golden", append(common, "--format", "json")},
		{"plan-arm64-disk.golden", []string{"plan", "-C", dir, "--arch", "arm64", "--jobs", "3", "--cores", "3", "--no-tmpfs", "--costs", costs, "stx-tools"}},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			out, err := run(t, tc.args...)
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			golden(t, tc.golden, out)
		})
	}
}

func TestPlanJSONShape(t *testing.T) {
	costs, _ := filepath.Abs(filepath.Join("testdata", "plan-costs.json"))
	out, err := run(t, "plan", "-C", localExample(t), "--jobs", "2", "--tmpfs-budget", "3GiB", "--costs", costs, "--format", "json")
	if err != nil {
		t.Fatal(err)
	}
	var p struct {
		Makespan   float64 `json:"makespan"`
		LowerBound float64 `json:"lower_bound"`
		Tasks      []struct {
			ID    string  `json:"id"`
			Start float64 `json:"start"`
			End   float64 `json:"end"`
			Slot  int     `json:"slot"`
			Where string  `json:"where"`
		} `json:"tasks"`
	}
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		t.Fatal(err)
	}
	if len(p.Tasks) != 10 || p.Makespan < p.LowerBound || p.LowerBound <= 0 {
		t.Errorf("plan: %+v", p)
	}
}

func TestPlanErrors(t *testing.T) {
	dir := localExample(t)
	bad := filepath.Join(t.TempDir(), "bad.json")
	if err := os.WriteFile(bad, []byte(`{"libstx": {"secs": 3}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"plan", "-C", dir, "--format", "dot"}, `--format "dot": want text or json`},
		{[]string{"plan", "-C", dir, "--costs", bad}, `--costs: ` + bad + `: json: unknown field "secs"`},
		{[]string{"plan", "-C", dir, "--costs", "/nonexistent.json"}, "--costs: open /nonexistent.json"},
		{[]string{"plan", "-C", dir, "--tmpfs-budget", "lots"}, "--tmpfs-budget:"},
		{[]string{"plan", "-C", dir, "--arch", "amd64", "nope"}, "unknown package(s) on amd64: nope"},
	} {
		_, err := run(t, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: err = %v, want %q", tc.args[3:], err, tc.want)
		}
	}
}
