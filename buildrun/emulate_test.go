package buildrun_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stx-build/stx-build/buildrun"
	"github.com/stx-build/stx-build/report"
	"github.com/stx-build/stx-build/rootfs"
	"github.com/stx-build/stx-build/scheduler"
	"github.com/stx-build/stx-build/scheduler/history"
	"github.com/stx-build/stx-build/workspace"
)

// emulatedProject is a project of libstx alone, its Build-Depends
// naming g++ without :native as well: apt-get build-dep -a arm64 then
// wants g++:arm64, which cannot be installed beside the build machine's,
// while a native build has g++ already. cross is the manifest's
// build.cross ("" leaves it out). It returns the project and a function
// that rewrites build.cross.
func emulatedProject(t *testing.T, cross string) (string, func(string)) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "project")
	pkg := filepath.Join(dir, "packages", "libstx")
	if err := copyDir(filepath.Join("..", "examples", "packages", "libstx"), pkg, nil); err != nil {
		t.Fatal(err)
	}
	edit := func(file, old, new string) {
		t.Helper()
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(data, []byte(old)) {
			t.Fatalf("%s lacks %q:\n%s", file, old, data)
		}
		if err := os.WriteFile(file, bytes.Replace(data, []byte(old), []byte(new), 1), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	edit(filepath.Join(pkg, "src", "debian", "control"), "Build-Depends: debhelper-compat (= 13)\n", "Build-Depends: debhelper-compat (= 13), g++\n")
	manifest := filepath.Join(pkg, "package.yaml")
	orig, err := os.ReadFile(manifest)
	if err != nil {
		t.Fatal(err)
	}
	setCross := func(cross string) {
		t.Helper()
		data := slices.Clone(orig)
		if cross != "" {
			data = append(data, "  cross: "+cross+"\n"...)
		}
		if err := os.WriteFile(manifest, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.HasSuffix(orig, []byte("\nbuild:\n  estimate: 30s\n")) {
		t.Fatalf("%s no longer ends with its build section:\n%s", manifest, orig)
	}
	setCross(cross)
	// A project name of its own: a cache (STX_TEST_CACHE) remembers
	// switches to emulation per project.
	stx := fmt.Sprintf("name: emulated-%d\nsuite: bookworm\narchitectures: [amd64, arm64]\npackages: [packages]\n", time.Now().UnixNano())
	if err := os.WriteFile(filepath.Join(dir, "stx.yaml"), []byte(stx), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, setCross
}

// events reads JSON event lines.
func events(t *testing.T, data []byte) []report.Event {
	t.Helper()
	var out []report.Event
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var e report.Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("event %q: %v", sc.Text(), err)
		}
		out = append(out, e)
	}
	return out
}

// TestEmulatedBuild builds libstx for arm64 emulated twice: forced by
// build.cross: false, then, without it, in a fresh output directory and
// without the artifact cache, through the fallback (its cross
// build-dependencies cannot be installed). The .debs are bit-identical,
// the builds were native (no --host-arch), and the runs' JSON events and
// summaries say emulated (the second also why). A third run, build.cross:
// false again, restores the first build under its emulated key.
func TestEmulatedBuild(t *testing.T) {
	needBuildHost(t)
	if err := rootfs.CheckBinfmt(context.Background(), "arm64"); err != nil {
		t.Skipf("no qemu-user for arm64: %v", err)
	}
	dir, setCross := emulatedProject(t, "false")
	artifacts := t.TempDir()
	run := func(out string, withCache bool) ([]report.Event, *buildrun.Result) {
		t.Helper()
		var js bytes.Buffer
		opts := buildrun.Options{Archs: []string{"arm64"}, OutDir: out, Events: report.Multi(report.JSON(&js), report.Text(testWriter{t}))}
		if withCache {
			opts.Cache = openCache(t, artifacts, "", "")
		}
		res, _, err := build(t, dir, opts)
		if err != nil {
			t.Fatal(err)
		}
		return events(t, js.Bytes()), res
	}

	out1, out2 := filepath.Join(dir, "out1"), filepath.Join(dir, "out2")
	evs, res := run(out1, true)
	if got := builtNames(res); !reflect.DeepEqual(got, []string{"libstx"}) {
		t.Fatalf("built %q, want libstx", got)
	}
	checkEmulatedEvents(t, evs, "build.cross is false", false)
	deb := filepath.Join(out1, "arm64", "debs", "libstx_1.0", "libstx1_1.0_arm64.deb")
	if got := debField(t, deb, "Architecture"); got != "arm64" {
		t.Errorf("%s: Architecture %q", deb, got)
	}
	log, err := os.ReadFile(filepath.Join(out1, "arm64", "logs", "libstx_1.0.log"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(log, []byte("$ dpkg-buildpackage --no-sign -B")) || bytes.Contains(log, []byte("--host-arch")) {
		t.Errorf("the build log does not show a native dpkg-buildpackage:\n%s", lastLines(log, 30))
	}

	setCross("")
	evs, res = run(out2, false)
	if got := builtNames(res); !reflect.DeepEqual(got, []string{"libstx"}) {
		t.Fatalf("second run built %q, want libstx", got)
	}
	if !slices.ContainsFunc(evs, func(e report.Event) bool {
		return e.Kind == report.KindInfo && e.ID == "libstx:arm64" && e.Mode == report.ModeEmulated &&
			strings.Contains(e.Message, "not cross-buildable") && strings.Contains(e.Message, "g++:arm64")
	}) {
		t.Error("the second run does not say that libstx falls back to an emulated build")
	}
	checkEmulatedEvents(t, evs, "", false)
	if _, err := os.Stat(filepath.Join(out2, "arm64", "logs", "libstx_1.0.cross.log")); err != nil {
		t.Errorf("the cross attempt's log: %v", err)
	}
	a, b := debDigests(t, out1), debDigests(t, out2)
	if !reflect.DeepEqual(a, b) {
		t.Errorf("emulated builds differ:\n%v\n%v", a, b)
	}
	for _, d := range []string{"libstx1_1.0_arm64.deb", "libstx-dev_1.0_arm64.deb"} {
		if a[filepath.Join("arm64", "debs", "libstx_1.0", d)] == "" {
			t.Errorf("no %s among %v", d, a)
		}
	}

	setCross("false")
	evs, res = run(filepath.Join(dir, "out3"), true)
	if got := builtNames(res); len(got) != 0 {
		t.Errorf("third run built %q, want it restored", got)
	}
	checkEmulatedEvents(t, evs, "build.cross is false", true)
}

// checkEmulatedEvents checks that a run's events say libstx:arm64 is
// emulated: in the plan (why: the reason its note gives; "" for a
// fallback, which the plan cannot know), its end, and the summary.
func checkEmulatedEvents(t *testing.T, evs []report.Event, why string, restored bool) {
	t.Helper()
	var plan, built, summary bool
	for _, e := range evs {
		switch e.Kind {
		case report.KindPlan:
			i := slices.IndexFunc(e.Plan.Tasks, func(pt report.PlanTask) bool { return pt.ID == "libstx:arm64" })
			// A fallback happens after the plan: then the plan says cross.
			plan = why == "" || i >= 0 && e.Plan.Tasks[i].Mode == report.ModeEmulated &&
				slices.ContainsFunc(e.Plan.Notes, func(n string) bool {
					return strings.Contains(n, "libstx builds emulated under qemu-user ("+why+")")
				})
		case report.KindBuilt:
			built = e.ID == "libstx:arm64" && e.Mode == report.ModeEmulated && (e.Cached != "") == restored
		case report.KindSummary:
			summary = slices.Equal(e.Summary.Emulated, []string{"libstx:arm64"})
		}
	}
	if !plan || !built || !summary {
		t.Errorf("events do not say libstx:arm64 is emulated (plan %v, built %v, summary %v)", plan, built, summary)
	}
}

// TestPlanEmulated: build.cross: false plans the arm64 build emulated,
// local only and EmulationFactor times the estimate, with a note; a
// package an earlier run switched to emulation (workspace.Emulate) is
// planned so for that version, and a new version tries cross again.
func TestPlanEmulated(t *testing.T) {
	cache := t.TempDir()
	dir, _ := emulatedProject(t, "false")
	p := planOf(t, dir, cache, buildrun.Options{Archs: []string{"arm64"}})
	if it := itemOf(p, "libstx:arm64"); it.Seconds != 30*scheduler.EmulationFactor || it.Source != "manifest" {
		t.Errorf("libstx:arm64 estimate %g (%s), want %d (manifest)", it.Seconds, it.Source, 30*scheduler.EmulationFactor)
	}
	if !slices.ContainsFunc(p.Notes, func(n string) bool {
		return strings.Contains(n, "arm64: libstx builds emulated under qemu-user (build.cross is false)")
	}) {
		t.Errorf("no note on the emulated build: %q", p.Notes)
	}

	// The example: stx-hello cross-builds, until a run switches it.
	example := copyProject(t, t.TempDir(), false)
	p = planOf(t, example, cache, buildrun.Options{Archs: []string{"arm64"}, Packages: []string{"stx-hello"}})
	cross := itemOf(p, "stx-hello:arm64").Seconds
	if len(p.Notes) != 0 {
		t.Errorf("notes on a cross build: %q", p.Notes)
	}
	ws, err := workspace.Open(workspace.Options{Dir: example, CacheDir: cache})
	if err != nil {
		t.Fatal(err)
	}
	prepared, err := ws.Prepare(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(prepared, func(pr *workspace.Prepared) bool { return pr.Package.Name == "stx-hello" })
	hello := *prepared[i]
	if err := ws.Emulate(&hello, "arm64", "cross build-dependencies cannot be installed"); err != nil {
		t.Fatal(err)
	}
	p = planOf(t, example, cache, buildrun.Options{Archs: []string{"arm64"}, Packages: []string{"stx-hello"}})
	if got := itemOf(p, "stx-hello:arm64").Seconds; got != cross*scheduler.EmulationFactor {
		t.Errorf("switched stx-hello:arm64 estimate %g, want %g", got, cross*scheduler.EmulationFactor)
	}
	if !slices.ContainsFunc(p.Notes, func(n string) bool {
		return strings.Contains(n, "stx-hello builds emulated under qemu-user (cross build-dependencies cannot be installed)")
	}) {
		t.Errorf("no note on the switched build: %q", p.Notes)
	}
	hello.Source.Version = "1.1"
	if err := ws.Emulate(&hello, "arm64", "cross build-dependencies cannot be installed"); err != nil {
		t.Fatal(err)
	}
	p = planOf(t, example, cache, buildrun.Options{Archs: []string{"arm64"}, Packages: []string{"stx-hello"}})
	if got := itemOf(p, "stx-hello:arm64").Seconds; got != cross || len(p.Notes) != 0 {
		t.Errorf("stx-hello 1.0 after a switch of 1.1: estimate %g, notes %q; want %g (cross), none", got, p.Notes, cross)
	}

	// History of an emulated build: as it is for an emulated one, a tenth
	// for a cross one.
	hist := &history.Store{Dir: filepath.Join(cache, "history")}
	if err := hist.Add(history.Record{Package: "stx-hello", Version: "1.0", Arch: "arm64", Seconds: 500, OnTmpfs: true, Emulated: true}); err != nil {
		t.Fatal(err)
	}
	p = planOf(t, example, cache, buildrun.Options{Archs: []string{"arm64"}, Packages: []string{"stx-hello"}})
	if got := itemOf(p, "stx-hello:arm64").Seconds; got != 500/scheduler.EmulationFactor {
		t.Errorf("cross stx-hello:arm64 from an emulated build's history: estimate %g, want %d", got, 500/scheduler.EmulationFactor)
	}
	hello.Source.Version = "1.0"
	if err := ws.Emulate(&hello, "arm64", "cross build-dependencies cannot be installed"); err != nil {
		t.Fatal(err)
	}
	p = planOf(t, example, cache, buildrun.Options{Archs: []string{"arm64"}, Packages: []string{"stx-hello"}})
	if got := itemOf(p, "stx-hello:arm64").Seconds; got != 500 {
		t.Errorf("emulated stx-hello:arm64 from an emulated build's history: estimate %g, want 500", got)
	}
}

func planOf(t *testing.T, dir, cache string, opts buildrun.Options) *scheduler.Plan {
	t.Helper()
	ws, err := workspace.Open(workspace.Options{Dir: dir, CacheDir: cache})
	if err != nil {
		t.Fatal(err)
	}
	p, err := buildrun.Plan(context.Background(), ws, opts)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func itemOf(p *scheduler.Plan, id string) scheduler.Item {
	for _, it := range p.Items {
		if it.ID == id {
			return it
		}
	}
	return scheduler.Item{}
}
