// Package report tells people and machines what a build run does: events,
// the progress display (plain lines, or a live view on a terminal), JSON
// lines for CI, and an HTML report with a timeline after the run.
//
// A run sends Events to a Sink. Text, Live and JSON are sinks for the
// three progress formats; a Collector gathers the run for WriteHTML.
package report

import (
	"sync"
	"time"
)

// Event kinds.
const (
	KindInfo       = "info"        // a message (base root ready, ...)
	KindPlan       = "plan"        // the schedule predicted at the start
	KindStart      = "start"       // a build started
	KindBuilt      = "built"       // a build finished
	KindFailed     = "failed"      // a build failed
	KindSkipped    = "skipped"     // not started: needs a failed build
	KindNotStarted = "not-started" // not started: the run stopped
	KindSummary    = "summary"     // the run is over
)

// Build modes of a foreign architecture's package (Event.Mode).
const (
	ModeCross    = "cross"    // dpkg-buildpackage --host-arch on the build machine
	ModeEmulated = "emulated" // natively in the target's own root, under qemu-user
)

// Interrupted is the Error of a build stopped by an interrupt (Ctrl-C):
// not a build failure, so no log tail is shown.
const Interrupted = "interrupted"

// Event is one thing that happened in a run; with --output json each is
// one line of JSON.
type Event struct {
	Time time.Time `json:"time"`
	// Elapsed is seconds since the run started.
	Elapsed float64 `json:"elapsed"`
	Kind    string  `json:"event"`
	// ID names a task: "<package>:<arch>".
	ID      string `json:"id,omitempty"`
	Package string `json:"package,omitempty"`
	Version string `json:"version,omitempty"`
	Arch    string `json:"arch,omitempty"`
	// What says what the task builds ("architecture-specific", "all
	// binaries", "Architecture: all", or "Architecture: all, taken from
	// amd64" for a publish-only task).
	What string `json:"what,omitempty"`
	// Slot, Where ("tmpfs" or "disk") and Jobs (make parallelism) say how
	// a build runs.
	Slot  int    `json:"slot,omitempty"`
	Where string `json:"where,omitempty"`
	Jobs  int    `json:"jobs,omitempty"`
	// Worker names the BuildKit worker a build runs on ("": this machine).
	Worker string `json:"worker,omitempty"`
	// Mode says how a foreign architecture's package is built: ModeCross
	// or ModeEmulated ("": natively, on the build machine's architecture).
	Mode string `json:"mode,omitempty"`
	// Seconds is a finished build's wall time; Setup the part before
	// dpkg-buildpackage, Build dpkg-buildpackage's; Estimate what the plan
	// expected.
	Seconds  float64 `json:"seconds,omitempty"`
	Setup    float64 `json:"setup_seconds,omitempty"`
	Build    float64 `json:"build_seconds,omitempty"`
	Estimate float64 `json:"estimate,omitempty"`
	// PeakBytes is the peak size of the build tree; Retried says tmpfs ran
	// out of space and the build ran again on disk; LayerCached says the
	// build-dependency layer was reused.
	PeakBytes   int64 `json:"peak_bytes,omitempty"`
	Retried     bool  `json:"retried,omitempty"`
	LayerCached bool  `json:"layer_cached,omitempty"`
	// Phases are the times of a finished build's phases, in order
	// (unpack, resolve, environment, build, collect).
	Phases []Phase `json:"phases,omitempty"`
	// Cached says a finished task was not built but restored from the
	// artifact cache, and from where ("local" or a registry), with the key.
	Cached string `json:"cached,omitempty"`
	// Restore says a starting task is expected to be restored from the
	// artifact cache rather than built.
	Restore bool `json:"restore,omitempty"`
	// Log is the build log (written as Log+".partial" while it runs).
	Log   string `json:"log,omitempty"`
	Error string `json:"error,omitempty"`
	// Cause lists, for a skipped task, the failed tasks it needs.
	Cause []string `json:"cause,omitempty"`
	// Done counts finished tasks (any outcome) of Total.
	Done  int `json:"done,omitempty"`
	Total int `json:"total,omitempty"`
	// ETA is the predicted end of the run, in seconds since its start.
	ETA     float64  `json:"eta,omitempty"`
	Message string   `json:"message,omitempty"`
	Plan    *Plan    `json:"plan,omitempty"`
	Summary *Summary `json:"summary,omitempty"`
}

// Phase is the time one phase of a build took.
type Phase struct {
	Name    string  `json:"name"`
	Seconds float64 `json:"seconds"`
	// Cached says the phase's result came from a cache.
	Cached bool `json:"cached,omitempty"`
}

// Plan is the schedule predicted when the run starts.
type Plan struct {
	Slots  int   `json:"slots"`
	Cores  int   `json:"cores"`
	Budget int64 `json:"tmpfs_budget"`
	// Makespan is the predicted duration; LowerBound max(critical path,
	// work / slots).
	Makespan     float64    `json:"makespan"`
	LowerBound   float64    `json:"lower_bound"`
	CriticalPath []string   `json:"critical_path"`
	Tasks        []PlanTask `json:"tasks"`
	// Notes say what the plan decided beyond the builds: the
	// build-dependency edges cut to break cycles, taken from the archive,
	// and why.
	Notes []string `json:"notes,omitempty"`
}

// PlanTask is one task of the plan with its estimate.
type PlanTask struct {
	ID        string   `json:"id"`
	Deps      []string `json:"deps,omitempty"`
	Seconds   float64  `json:"seconds"`
	PeakBytes int64    `json:"peak_bytes,omitempty"`
	Source    string   `json:"source,omitempty"`
	Start     float64  `json:"start"`
	End       float64  `json:"end"`
	Slot      int      `json:"slot"`
	Where     string   `json:"where"`
	Mode      string   `json:"mode,omitempty"`
}

// Summary is how the run ended.
type Summary struct {
	// Built are the tasks that ended well; Restored those of them that
	// came from the artifact cache instead of a build.
	Built    []string `json:"built"`
	Restored []string `json:"restored,omitempty"`
	// Emulated are the tasks built (or restored) emulated under qemu-user.
	Emulated []string `json:"emulated,omitempty"`
	Failed   []string `json:"failed"`
	Skipped  []string `json:"skipped"`
	// NotStarted were left when the run stopped (a failure without
	// --keep-going, or an interrupt).
	NotStarted  []string `json:"not_started"`
	Interrupted bool     `json:"interrupted,omitempty"`
	// Report is the HTML report's path.
	Report string `json:"report,omitempty"`
}

// Sink receives a run's events, one at a time, in order.
type Sink interface {
	Event(Event)
}

// Closer is a Sink with something to finish (a live view to clear).
type Closer interface {
	Sink
	Close() error
}

type multi []Sink

// Multi sends every event to each sink in turn; Close closes those that
// are Closers.
func Multi(sinks ...Sink) Closer { return multi(sinks) }

func (m multi) Event(e Event) {
	for _, s := range m {
		s.Event(e)
	}
}

func (m multi) Close() error {
	var first error
	for _, s := range m {
		if c, ok := s.(Closer); ok {
			if err := c.Close(); err != nil && first == nil {
				first = err
			}
		}
	}
	return first
}

// Locked makes a sink safe for concurrent use.
func Locked(s Sink) Sink { return &locked{s: s} }

type locked struct {
	mu sync.Mutex
	s  Sink
}

func (l *locked) Event(e Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.s.Event(e)
}
