package report

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite golden files")

// events is a small run on two slots: libstx and hello in parallel,
// stx-hello after libstx, stx-broken fails and stx-tools, which needs it,
// is skipped.
func events(logDir string) []Event {
	t0 := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	log := func(name string) string { return filepath.Join(logDir, "amd64", "logs", name+".log") }
	ev := []Event{
		{Kind: KindInfo, Message: "base root: bookworm amd64 (+arm64)"},
		{Kind: KindPlan, Plan: &Plan{Slots: 2, Cores: 2, Budget: 8 << 30, Makespan: 70, LowerBound: 60, CriticalPath: []string{"libstx:amd64", "stx-hello:amd64"},
			Tasks: []PlanTask{
				{ID: "libstx:amd64", Seconds: 30, Start: 0, End: 30, Slot: 1, Where: "tmpfs"},
				{ID: "hello:amd64", Seconds: 40, Start: 0, End: 40, Slot: 2, Where: "tmpfs"},
				{ID: "stx-hello:amd64", Deps: []string{"libstx:amd64"}, Seconds: 30, Start: 30, End: 60, Slot: 1, Where: "tmpfs"},
				{ID: "stx-broken:amd64", Seconds: 5, Start: 40, End: 45, Slot: 2, Where: "disk"},
				{ID: "stx-tools:amd64", Deps: []string{"stx-broken:amd64", "stx-hello:amd64"}, Seconds: 10, Start: 60, End: 70, Slot: 1, Where: "tmpfs"},
			}}},
		{Kind: KindStart, Elapsed: 0.1, ID: "libstx:amd64", Package: "libstx", Version: "1.0", Arch: "amd64", What: "all binaries", Slot: 1, Where: "tmpfs", Jobs: 1, Log: log("libstx_1.0"), Total: 5},
		{Kind: KindStart, Elapsed: 0.1, ID: "hello:amd64", Package: "hello", Version: "2.10-3", Arch: "amd64", What: "architecture-specific", Slot: 2, Where: "tmpfs", Jobs: 1, Log: log("hello_2.10-3"), Total: 5},
		{Kind: KindBuilt, Elapsed: 28, ID: "libstx:amd64", Package: "libstx", Version: "1.0", Arch: "amd64", Slot: 1, Where: "tmpfs", Jobs: 1, Seconds: 27.9, Setup: 12, Build: 15.7, PeakBytes: 40 << 20, Log: log("libstx_1.0"), Done: 1, Total: 5, ETA: 68},
		{Kind: KindStart, Elapsed: 28.1, ID: "stx-hello:amd64", Package: "stx-hello", Version: "1.0", Arch: "amd64", What: "all binaries", Slot: 1, Where: "tmpfs", Jobs: 1, Log: log("stx-hello_1.0"), Done: 1, Total: 5},
		{Kind: KindBuilt, Elapsed: 45, ID: "hello:amd64", Package: "hello", Version: "2.10-3", Arch: "amd64", Slot: 2, Where: "disk", Retried: true, LayerCached: true, Jobs: 1, Seconds: 44.9, Setup: 10, Build: 34.5, PeakBytes: 300 << 20, Log: log("hello_2.10-3"), Done: 2, Total: 5},
		{Kind: KindStart, Elapsed: 45.1, ID: "stx-broken:amd64", Package: "stx-broken", Version: "1.0", Arch: "amd64", What: "all binaries", Slot: 2, Where: "disk", Jobs: 1, Log: log("stx-broken_1.0"), Done: 2, Total: 5},
		{Kind: KindFailed, Elapsed: 50, ID: "stx-broken:amd64", Package: "stx-broken", Version: "1.0", Arch: "amd64", Slot: 2, Where: "disk", Jobs: 1, Error: "stx-broken (amd64): dpkg-buildpackage: exit status 2", Log: log("stx-broken_1.0"), Done: 3, Total: 5},
		{Kind: KindSkipped, Elapsed: 50, ID: "stx-tools:amd64", Package: "stx-tools", Version: "1.0", Arch: "amd64", Cause: []string{"stx-broken:amd64"}, Done: 4, Total: 5},
		{Kind: KindBuilt, Elapsed: 61, ID: "stx-hello:amd64", Package: "stx-hello", Version: "1.0", Arch: "amd64", Slot: 1, Where: "tmpfs", Jobs: 1, Seconds: 32.9, Setup: 11, Build: 21.6, Log: log("stx-hello_1.0"), Done: 5, Total: 5},
		{Kind: KindSummary, Elapsed: 61.2, Estimate: 70, Summary: &Summary{
			Built: []string{"hello:amd64", "libstx:amd64", "stx-hello:amd64"}, Failed: []string{"stx-broken:amd64"}, Skipped: []string{"stx-tools:amd64"},
			Report: "out/report/index.html"}},
	}
	for i := range ev {
		ev[i].Time = at(ev[i].Elapsed)
	}
	return ev
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	p := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (make golden)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (make golden to accept):\n--- got\n%s\n--- want\n%s", p, got, want)
	}
}

func TestTextGolden(t *testing.T) {
	dir := t.TempDir()
	logs := filepath.Join(dir, "amd64", "logs")
	if err := os.MkdirAll(logs, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(logs, "stx-broken_1.0.log"), []byte("make: *** [all] Error 1\ndpkg-buildpackage: error: debian/rules build subprocess returned exit status 2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	s := Text(&b)
	for _, e := range events("LOGS") {
		if e.Log != "" && strings.Contains(e.Log, "stx-broken") {
			e.Log = strings.Replace(e.Log, "LOGS", dir, 1)
		}
		s.Event(e)
	}
	golden(t, "text.golden", []byte(strings.ReplaceAll(b.String(), dir, "OUT")))
}

func TestJSONLinesGolden(t *testing.T) {
	var b bytes.Buffer
	s := JSON(&b)
	evs := events("/out")
	for _, e := range evs {
		s.Event(e)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != len(evs) {
		t.Fatalf("%d lines for %d events", len(lines), len(evs))
	}
	var e Event
	if err := json.Unmarshal([]byte(lines[9]), &e); err != nil {
		t.Fatal(err)
	}
	if e.Kind != KindSkipped || e.ID != "stx-tools:amd64" || e.Cause[0] != "stx-broken:amd64" {
		t.Errorf("line 10: %+v", e)
	}
	golden(t, "events.jsonl.golden", b.Bytes())
}

func TestCollectorAndHTML(t *testing.T) {
	out := t.TempDir()
	c := NewCollector("example")
	for _, e := range events(out) {
		c.Event(e)
	}
	r := c.Run()
	if got := strings.Join(r.CriticalPath, " "); got != "libstx:amd64 stx-hello:amd64" {
		t.Errorf("critical path %q", got)
	}
	if r.Elapsed != 61.2 || r.Predicted != 70 || r.Slots != 2 {
		t.Errorf("run: %+v", r)
	}
	var order []string
	for _, tk := range r.Tasks {
		order = append(order, tk.ID+"="+tk.Status)
	}
	if got := strings.Join(order, " "); got != "libstx:amd64=built hello:amd64=built stx-hello:amd64=built stx-broken:amd64=failed stx-tools:amd64=skipped" {
		t.Errorf("tasks %s", got)
	}
	r.Notes = []string{"amd64: gettext -> libxml2 (via libxml2-dev) taken from the archive: cycle-breaks"}
	index, err := WriteHTML(filepath.Join(out, "report"), r)
	if err != nil {
		t.Fatal(err)
	}
	page, err := os.ReadFile(index)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`<li>amd64: gettext -&gt; libxml2 (via libxml2-dev) taken from the archive: cycle-breaks</li>`, // cut edges
		`href="../amd64/logs/stx-broken_1.0.log"`,                                                      // log links, relative
		`class="tmpfs crit"`,             // critical path bars
		`class="disk"`, `class="failed"`, // placement and failure
		`<td>stx-broken:amd64</td></tr>`,         // skipped, with its cause
		`libstx:amd64 → stx-hello:amd64`,         // critical path text
		`tmpfs, then disk (ran out of space)`,    // retried build's tooltip
		`<span class="c-failed">1 failed</span>`, // counts
		`predicted 1m10s (&#43;14.4%) · the plan's lower bound 1m0s (took 1.02×)`,
		`<td class="num">30s</td><td class="num">&#43;7.5%</td>`, // libstx: predicted, error
		`<th>predicted</th><th>error</th>`,
	} {
		if !bytes.Contains(page, []byte(want)) {
			t.Errorf("index.html lacks %s", want)
		}
	}
	if _, err := os.Stat(filepath.Join(out, "report", "run.json")); err != nil {
		t.Error(err)
	}
}

// The live view draws running builds with their log's last line under the
// finished ones, and clears its block on Close.
func TestLive(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "hello.log")
	if err := os.WriteFile(log+".partial", []byte("checking for gcc... gcc\nmake[2]: Entering directory '/build/hello'\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(filepath.Join(dir, "screen"))
	if err != nil {
		t.Fatal(err)
	}
	l := Live(f)
	l.Event(Event{Kind: KindPlan, Plan: &Plan{Slots: 2}})
	l.Event(Event{Kind: KindStart, ID: "hello:amd64", Package: "hello", Arch: "amd64", Slot: 1, Where: "tmpfs", Jobs: 2, Log: log, Total: 2, ETA: 90})
	l.Event(Event{Kind: KindBuilt, ID: "libstx:amd64", Package: "libstx", Version: "1.0", Arch: "amd64", Seconds: 5, Done: 1, Total: 2, ETA: 60})
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	screen, _ := os.ReadFile(f.Name())
	for _, want := range []string{
		"  1  hello:amd64", "tmpfs j2  | make[2]: Entering directory '/build/hello'",
		"[1/2] amd64 libstx 1.0: ok in 5s", "[1/2 done, 1 running]", ", ETA 1:0",
	} {
		if !bytes.Contains(screen, []byte(want)) {
			t.Errorf("screen lacks %q:\n%q", want, screen)
		}
	}
	if !bytes.HasSuffix(screen, []byte("\x1b[J")) {
		t.Errorf("block not cleared at the end: %q", screen[max(0, len(screen)-20):])
	}
}

// A build restored from the artifact cache is drawn as such.
func TestCachedBuild(t *testing.T) {
	c := NewCollector("x")
	c.Event(Event{Kind: KindPlan, Plan: &Plan{Slots: 1}})
	c.Event(Event{Kind: KindStart, ID: "libstx:amd64", Package: "libstx", Arch: "amd64", Slot: 1, Where: "disk", Restore: true})
	c.Event(Event{Kind: KindBuilt, Elapsed: 1, ID: "libstx:amd64", Package: "libstx", Arch: "amd64", Slot: 1, Where: "disk", Cached: "local, key d4d5b76560ad"})
	if got := Line(Event{Kind: KindStart, Done: 0, Total: 1, Arch: "amd64", Package: "libstx", Version: "1.0", Slot: 1, Restore: true}); got != "[0/1] amd64 libstx 1.0: restoring from the cache (slot 1)" {
		t.Errorf("start line %q", got)
	}
	r := c.Run()
	if r.Tasks[0].Where != "cache" {
		t.Errorf("where %q", r.Tasks[0].Where)
	}
	index, err := WriteHTML(t.TempDir(), r)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := os.ReadFile(index)
	if !bytes.Contains(page, []byte(`class="cached crit"`)) || !bytes.Contains(page, []byte("restored from the artifact cache")) {
		t.Error("the report does not show the restored build")
	}
}
