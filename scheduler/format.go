package scheduler

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"github.com/stx-build/stx-build/ramdisk"
)

// WriteText prints a plan for people: the bounds, then one line per task
// in start order. Critical-path tasks are marked with *.
func WriteText(w io.Writer, p *Plan) error {
	budget := "none (every build on disk)"
	if p.Budget > 0 {
		budget = ramdisk.FormatSize(p.Budget)
	}
	fmt.Fprintf(w, "plan: %d builds, %d slots, %d cores, tmpfs budget %s, disk builds %.2gx slower\n",
		len(p.Items), p.Slots, p.Cores, budget, p.DiskFactor)
	if p.Workers > 0 {
		fmt.Fprintf(w, "  %d slot(s) on %d worker(s) (in brackets); cores and budget are this machine's\n", p.Slots-p.LocalSlots, p.Workers)
	}
	fmt.Fprintf(w, "predicted makespan %s, lower bound %s", FormatSeconds(p.Makespan), FormatSeconds(p.LowerBound))
	if p.LowerBound > 0 {
		fmt.Fprintf(w, " (%+.1f%%)", 100*(p.Makespan/p.LowerBound-1))
	}
	fmt.Fprintln(w)
	if len(p.CriticalPath) > 0 {
		fmt.Fprintf(w, "  critical path %s: %s\n", FormatSeconds(p.CriticalSeconds), strings.Join(p.CriticalPath, " -> "))
	}
	fmt.Fprintf(w, "  work %s / %d slots = %s\n\n", FormatSeconds(p.Work), p.Slots, FormatSeconds(p.Work/float64(p.Slots)))
	idw := len("task")
	for _, it := range p.Items {
		idw = max(idw, len(it.ID)+2)
	}
	fmt.Fprintf(w, "%8s %8s %4s  %-5s %4s  %-*s  %s\n", "start", "end", "slot", "where", "jobs", idw, "task", "estimate")
	for _, it := range p.Items {
		id := it.ID
		if it.Critical {
			id += " *"
		}
		est := FormatSeconds(it.Seconds)
		if it.PeakBytes > 0 {
			est += ", " + ramdisk.FormatSize(it.PeakBytes)
		}
		if it.Source != "" {
			est += " (" + it.Source + ")"
		}
		if p.Workers > 0 {
			on := it.Worker
			if on == "" {
				on = "local"
			}
			if it.Platform != "" {
				on += " " + it.Platform
			}
			est += " [" + on + "]"
		}
		if _, err := fmt.Fprintf(w, "%8s %8s %4d  %-5s %4d  %-*s  %s\n", FormatClock(it.Start), FormatClock(it.End), it.Slot, it.Where, it.Jobs, idw, id, est); err != nil {
			return err
		}
	}
	if len(p.CriticalPath) > 0 {
		fmt.Fprintln(w, "(* on the critical path)")
	}
	for _, n := range p.Notes {
		if _, err := fmt.Fprintf(w, "note: %s\n", n); err != nil {
			return err
		}
	}
	return nil
}

// WriteJSON prints a plan as one indented JSON object.
func WriteJSON(w io.Writer, p *Plan) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(p)
}

// FormatSeconds formats a duration in seconds like "1h02m05s", "3m20s",
// "45s" (whole seconds), "0.4s" under a second.
func FormatSeconds(s float64) string {
	if s < 1 && s > 0 {
		return fmt.Sprintf("%.1fs", s)
	}
	d := time.Duration(math.Round(s)) * time.Second
	h, m, sec := int(d.Hours()), int(d.Minutes())%60, int(d.Seconds())%60
	switch {
	case h > 0:
		return fmt.Sprintf("%dh%02dm%02ds", h, m, sec)
	case m > 0:
		return fmt.Sprintf("%dm%02ds", m, sec)
	}
	return fmt.Sprintf("%ds", sec)
}

// FormatClock formats seconds since the start as m:ss or h:mm:ss.
func FormatClock(s float64) string {
	t := int(math.Round(s))
	if t >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", t/3600, t/60%60, t%60)
	}
	return fmt.Sprintf("%d:%02d", t/60, t%60)
}
