package report

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/stx-build/stx-build/ramdisk"
)

// Text writes one plain line per event, for logs and terminals that are
// not a TTY. A failed build's line is followed by the end of its log.
func Text(w io.Writer) Sink { return &text{w: w} }

type text struct{ w io.Writer }

// TailLines is how many lines of a failed build's log are shown.
const TailLines = 25

func (t *text) Event(e Event) {
	if line := Line(e); line != "" {
		fmt.Fprintln(t.w, line)
	}
	if e.Kind == KindFailed && e.Log != "" && e.Error != Interrupted {
		io.WriteString(t.w, LogTail(e.Log, TailLines, "    | "))
	}
	if e.Kind == KindSummary {
		writeSummary(t.w, e)
	}
}

// Line is the plain-text line for an event ("" for events shown otherwise).
func Line(e Event) string {
	head := fmt.Sprintf("[%d/%d] %s %s %s:", e.Done, e.Total, e.Arch, e.Package, e.Version)
	switch e.Kind {
	case KindInfo:
		return e.Message
	case KindPlan:
		p := e.Plan
		budget := "none"
		if p.Budget > 0 {
			budget = ramdisk.FormatSize(p.Budget)
		}
		s := fmt.Sprintf("plan: %d builds on %d slots (%d cores, tmpfs budget %s): predicted %s, lower bound %s",
			len(p.Tasks), p.Slots, p.Cores, budget, Seconds(p.Makespan), Seconds(p.LowerBound))
		if len(p.CriticalPath) > 1 {
			s += "; critical path " + strings.Join(p.CriticalPath, " -> ")
		}
		for _, n := range p.Notes {
			s += "\nnote: " + n
		}
		return s
	case KindStart:
		if e.Slot == 0 {
			return ""
		}
		if e.Restore {
			return fmt.Sprintf("%s restoring from the cache (slot %d)", head, e.Slot)
		}
		on := ""
		if e.Worker != "" {
			on = " (worker " + e.Worker + ")"
		}
		return fmt.Sprintf("%s building (%s%s) on slot %d%s, %s, parallel=%d", head, e.What, modeText(e.Mode), e.Slot, on, e.Where, e.Jobs)
	case KindBuilt:
		if strings.HasPrefix(e.What, "Architecture: all, taken from") {
			return fmt.Sprintf("%s %s", head, e.What)
		}
		if e.Cached != "" {
			return fmt.Sprintf("%s not rebuilt: cached (%s)", head, e.Cached)
		}
		where := e.Where
		if e.Retried {
			where = "disk (tmpfs ran out of space)"
		}
		layer := "new deps layer"
		if e.LayerCached {
			layer = "cached deps layer"
		}
		return fmt.Sprintf("%s ok in %s (setup %s, build %s; %s, %s%s) log: %s",
			head, Seconds(e.Seconds), Seconds(e.Setup), Seconds(e.Build), where, layer, modeText(e.Mode), e.Log)
	case KindFailed:
		if e.Error == Interrupted {
			return fmt.Sprintf("%s interrupted, log: %s", head, e.Log)
		}
		return fmt.Sprintf("%s FAILED: %s", head, e.Error)
	case KindSkipped:
		return fmt.Sprintf("%s skipped: needs failed %s", head, strings.Join(e.Cause, ", "))
	}
	return ""
}

// modeText is ", emulated (qemu-user)" for an emulated build, else "".
func modeText(mode string) string {
	if mode == ModeEmulated {
		return ", emulated (qemu-user)"
	}
	return ""
}

func writeSummary(w io.Writer, e Event) {
	s := e.Summary
	restored := ""
	if len(s.Restored) > 0 {
		restored = fmt.Sprintf(" (%d of them restored from the cache)", len(s.Restored))
	}
	fmt.Fprintf(w, "summary: %d built%s, %d failed, %d skipped, %d not started in %s",
		len(s.Built), restored, len(s.Failed), len(s.Skipped), len(s.NotStarted), Seconds(e.Elapsed))
	if e.Estimate > 0 {
		fmt.Fprintf(w, " (predicted %s", Seconds(e.Estimate))
		if pe := PredictionError(e.Estimate, e.Elapsed); pe != 0 && !s.Interrupted {
			fmt.Fprintf(w, ", %s", FormatError(pe))
		}
		fmt.Fprint(w, ")")
	}
	if s.Interrupted {
		fmt.Fprint(w, "; interrupted")
	}
	fmt.Fprintln(w)
	for _, l := range []struct {
		name string
		ids  []string
	}{{"failed", s.Failed}, {"skipped", s.Skipped}, {"not started", s.NotStarted}, {"built", s.Built}, {"emulated (qemu-user)", s.Emulated}} {
		if len(l.ids) > 0 {
			fmt.Fprintf(w, "  %s: %s\n", l.name, strings.Join(l.ids, ", "))
		}
	}
	if s.Report != "" {
		fmt.Fprintf(w, "report: %s\n", s.Report)
	}
}

// Seconds formats a duration in seconds to a tenth of a second: "41.2s",
// "2m3.4s".
func Seconds(s float64) string {
	return time.Duration(s * float64(time.Second)).Round(100 * time.Millisecond).String()
}

// LogTail returns the last n lines of a log file, each with prefix, and a
// line naming the file; "" if it cannot be read.
func LogTail(path string, n int, prefix string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := bytes.Split(bytes.TrimRight(data, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(prefix)
		b.Write(l)
		b.WriteByte('\n')
	}
	fmt.Fprintf(&b, "    full log: %s\n", path)
	return b.String()
}
