package buildrun_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stx-build/stx-build/buildrun"
)

// Two stx-build processes at once on one empty cache — the example's
// packages for amd64 and arm64, and the amd64 image (which builds the
// packages it needs first) — both succeed, every package and architecture
// is built by exactly one of them (the other waits and restores it), the
// one that waits says so, and the .debs equal a sequential build's.
func TestConcurrentRunsShareCache(t *testing.T) {
	needBuildHost(t)
	bin := filepath.Join(t.TempDir(), "stx-build")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/stx-build").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	dir := copyProject(t, t.TempDir(), false)
	shared, err := os.MkdirTemp("/var/tmp", "stx-concurrent-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(shared) })
	outA, outB := filepath.Join(dir, "out-build"), filepath.Join(dir, "out-image")

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	runs := []struct {
		name string
		args []string
		out  bytes.Buffer
		err  error
		took time.Duration
	}{
		{name: "build", args: []string{"build", "-C", dir, "-o", outA}},
		{name: "image", args: []string{"image", "-C", dir, "-o", outB, "--arch", "amd64"}},
	}
	var wg sync.WaitGroup
	for i := range runs {
		r := &runs[i]
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			cmd := exec.CommandContext(ctx, bin, append([]string{"--cache-dir", shared}, r.args...)...)
			cmd.Stdout, cmd.Stderr = &r.out, &r.out
			r.err = cmd.Run()
			r.took = time.Since(start)
		}()
	}
	wg.Wait()
	for _, r := range runs {
		t.Logf("stx-build %s: %v in %s", r.name, r.err, r.took.Round(time.Second))
		if r.err != nil {
			t.Errorf("stx-build %s: %v\n%s", r.name, r.err, lastLines(r.out.Bytes(), 30))
		}
	}
	if t.Failed() {
		return
	}
	waited := false
	for _, r := range runs {
		waited = waited || strings.Contains(r.out.String(), "waiting for another stx-build run")
	}
	if !waited {
		t.Errorf("neither run said it waited for the other:\n%s\n%s", lastLines(runs[0].out.Bytes(), 20), lastLines(runs[1].out.Bytes(), 20))
	}

	// A build writes a log; a restore does not.
	builtA, builtB := builtLogs(t, outA), builtLogs(t, outB)
	for _, b := range builtB {
		if slices.Contains(builtA, b) {
			t.Errorf("%s was built by both runs", b)
		}
	}
	seq := copyProject(t, t.TempDir(), false)
	if _, _, err := build(t, seq, buildrun.Options{}); err != nil {
		t.Fatal(err)
	}
	union := append(slices.Clone(builtA), builtB...)
	slices.Sort(union)
	if want := builtLogs(t, filepath.Join(seq, "out")); !reflect.DeepEqual(union, want) {
		t.Errorf("the two runs built %q, a sequential run builds %q", union, want)
	}
	t.Logf("build run built %q; image run built %q", builtA, builtB)

	want := debDigests(t, filepath.Join(seq, "out"))
	if got := debDigests(t, outA); !reflect.DeepEqual(got, want) {
		t.Errorf("the concurrent build's debs differ from a sequential build's:\n%v\n%v", got, want)
	}
	gotB := debDigests(t, outB)
	for k, v := range gotB {
		if want[k] != v {
			t.Errorf("%s from the image run: %s, sequential %s", k, v, want[k])
		}
	}
	if len(gotB) == 0 {
		t.Error("the image run published no debs")
	}
	if _, err := os.Stat(filepath.Join(outB, "images")); err != nil {
		t.Errorf("the image run wrote no image: %v", err)
	}
}

// builtLogs lists "arch/log" for every build log under out, sorted.
func builtLogs(t *testing.T, out string) []string {
	t.Helper()
	logs, err := filepath.Glob(filepath.Join(out, "*", "logs", "*.log"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, l := range logs {
		names = append(names, filepath.Base(filepath.Dir(filepath.Dir(l)))+"/"+filepath.Base(l))
	}
	slices.Sort(names)
	return names
}
