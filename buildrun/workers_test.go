package buildrun_test

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stx-build/stx-build/buildrun"
	"github.com/stx-build/stx-build/internal/buildkittest"
	"github.com/stx-build/stx-build/internal/registrytest"
	"github.com/stx-build/stx-build/report"
)

// sinkFunc is a report.Sink.
type sinkFunc func(report.Event)

func (f sinkFunc) Event(e report.Event) { f(e) }

// workerUse records, from a run's events, which worker built what.
type workerUse struct {
	mu      sync.Mutex
	started map[string][]string // worker -> task IDs started there
	infos   []string
	onStart func(report.Event)
}

func (u *workerUse) Event(e report.Event) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.started == nil {
		u.started = map[string][]string{}
	}
	switch e.Kind {
	case report.KindStart:
		if e.Slot > 0 && !e.Restore && !strings.Contains(e.What, "taken from") {
			u.started[e.Worker] = append(u.started[e.Worker], e.ID)
		}
		if u.onStart != nil {
			u.onStart(e)
		}
	case report.KindInfo:
		u.infos = append(u.infos, e.Message)
	}
}

func compareDebs(t *testing.T, what string, want, got map[string]string) {
	t.Helper()
	var diff []string
	for k, v := range want {
		if got[k] != v {
			diff = append(diff, fmt.Sprintf("%s: %s vs %s", k, short(v), short(got[k])))
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			diff = append(diff, k+": only in "+what)
		}
	}
	sort.Strings(diff)
	if len(diff) > 0 {
		t.Errorf("%s differs from the local build:\n%s", what, strings.Join(diff, "\n"))
	} else {
		t.Logf("%s: %d .deb files bit-identical to the local build", what, len(want))
	}
}

// TestBuildKitWorkers builds the example locally, then on one real
// buildkitd (every package build there, with the build environments
// exported to a registry), then on two fresh buildkitd instances that
// import those environments: both receive work; and once more on two
// fresh instances, killing one of them (by PID) while it builds: the run
// still completes, the lost builds run on the other worker. Every run's
// .deb files are bit-identical to the local runner's.
func TestBuildKitWorkers(t *testing.T) {
	needBuildHost(t)
	buildkittest.Bin(t)
	reg := registrytest.Start(t)
	dir := copyProject(t, t.TempDir(), true)

	t0 := time.Now()
	if _, _, err := build(t, dir, buildrun.Options{OutDir: filepath.Join(dir, "out-local"), Jobs: 2}); err != nil {
		t.Fatal(err)
	}
	local := debDigests(t, filepath.Join(dir, "out-local"))
	t.Logf("local build: %s", time.Since(t0).Round(time.Second))

	cacheRef := reg.Addr + "/stx/buildkit-cache"
	run := func(name string, workers []*buildkittest.Daemon, slots int, use *workerUse) map[string]string {
		t.Helper()
		opts := buildrun.Options{
			OutDir: filepath.Join(dir, "out-"+name), NoLocal: true, Events: report.Multi(use, report.Text(testWriter{t})),
			BuildKitCache: cacheRef, InsecureRegistry: true,
		}
		for _, w := range workers {
			opts.Workers = append(opts.Workers, buildrun.Worker{Addr: w.Addr, Slots: slots})
		}
		t0 := time.Now()
		if _, _, err := build(t, dir, opts); err != nil {
			logs, _ := filepath.Glob(filepath.Join(opts.OutDir, "*", "logs", "*.log"))
			for _, l := range logs {
				data, _ := os.ReadFile(l)
				if strings.Contains(string(data), "FAILED") {
					t.Logf("%s:\n%s", l, lastLines(data, 60))
				}
			}
			t.Fatalf("%s: %v", name, err)
		}
		t.Logf("%s: %s; builds per worker: %v", name, time.Since(t0).Round(time.Second), use.started)
		// Every package really built on a worker: BuildKit never serves
		// a build step from its cache.
		logs, _ := filepath.Glob(filepath.Join(opts.OutDir, "*", "logs", "*.log"))
		ran := regexp.MustCompile(`\] stx-build build: .*: done in`)
		for _, l := range logs {
			data, _ := os.ReadFile(l)
			if !ran.Match(data) {
				t.Errorf("%s: %s does not show the build step running on a worker", name, l)
			}
		}
		if len(logs) == 0 {
			t.Errorf("%s: no build logs", name)
		}
		return debDigests(t, opts.OutDir)
	}

	// One worker, two slots.
	one := buildkittest.Start(t)
	use := &workerUse{}
	compareDebs(t, "one worker", local, run("one-worker", []*buildkittest.Daemon{one}, 2, use))
	if n := len(use.started[one.Addr]); n == 0 || len(use.started[""]) > 0 {
		t.Errorf("builds per worker %v: want all on %s", use.started, one.Addr)
	}
	log, err := os.ReadFile(filepath.Join(dir, "out-one-worker", "amd64", "logs", "stx-hello_1.0.log"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"[buildkit " + one.Addr + "] stx-build build: stx-hello", "Setting up libstx-dev", "build tree on tmpfs"} {
		if !strings.Contains(string(log), want) {
			t.Errorf("stx-hello's log lacks %q", want)
		}
	}
	resp, err := http.Get("http://" + cacheRef[:strings.Index(cacheRef, "/")] + "/v2/stx/buildkit-cache/tags/list")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("no build environments exported to the registry: tags/list %s", resp.Status)
	}
	one.Kill()

	// Two fresh workers, one slot each: both build.
	a, b := buildkittest.Start(t), buildkittest.Start(t)
	use = &workerUse{}
	compareDebs(t, "two workers", local, run("two-workers", []*buildkittest.Daemon{a, b}, 1, use))
	if len(use.started[a.Addr]) == 0 || len(use.started[b.Addr]) == 0 {
		t.Errorf("builds per worker %v: want both workers used", use.started)
	}
	// Fresh daemons: the environments came from the registry cache.
	logs, _ := filepath.Glob(filepath.Join(dir, "out-two-workers", "*", "logs", "*.log"))
	imported := 0
	for _, l := range logs {
		data, _ := os.ReadFile(l)
		if regexp.MustCompile(`stx-build environment: .*: cached`).Match(data) {
			imported++
		}
	}
	if imported == 0 {
		t.Errorf("no build on the fresh workers reused an environment from the registry cache (%d logs)", len(logs))
	} else {
		t.Logf("%d of %d builds on fresh workers imported their environment from the registry", imported, len(logs))
	}
	a.Kill()
	b.Kill()

	// Two fresh workers; the second dies a few seconds into its first build.
	a, b = buildkittest.Start(t), buildkittest.Start(t)
	var once sync.Once
	use = &workerUse{onStart: func(e report.Event) {
		if e.Worker == b.Addr {
			once.Do(func() {
				go func() {
					time.Sleep(4 * time.Second)
					t.Logf("killing buildkitd %s while it builds %s", b.Addr, e.ID)
					b.Kill()
				}()
			})
		}
	}}
	compareDebs(t, "worker killed", local, run("worker-killed", []*buildkittest.Daemon{a, b}, 1, use))
	requeued := false
	for _, m := range use.infos {
		if strings.Contains(m, "went away") && strings.Contains(m, b.Addr) {
			requeued = true
			t.Log(m)
		}
	}
	if !requeued {
		t.Errorf("no build was run again after %s died: %v", b.Addr, use.infos)
	}
}
