package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/stx-build/stx-build/internal/atomicfile"
	"github.com/stx-build/stx-build/ramdisk"
)

// Timeline geometry, in pixels.
const (
	plotLeft  = 70
	plotWidth = 1100
	rowHeight = 28
	barHeight = 20
	axisSpace = 28
)

// WriteHTML writes dir/index.html (the report: summary, timeline, tables
// with links to the logs) and dir/run.json (the same data), each through
// a temporary file and a rename.
func WriteHTML(dir string, r *Run) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	var page bytes.Buffer
	if err := pageTmpl.Execute(&page, newView(abs, r)); err != nil {
		return "", fmt.Errorf("report: %w", err)
	}
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return "", fmt.Errorf("report: %w", err)
	}
	index := filepath.Join(abs, "index.html")
	for _, f := range []struct {
		path string
		data []byte
	}{{filepath.Join(abs, "run.json"), append(data, '\n')}, {index, page.Bytes()}} {
		if err := atomicfile.Write(f.path, f.data, 0o644); err != nil {
			return "", fmt.Errorf("report: %w", err)
		}
	}
	return index, nil
}

type view struct {
	*Run
	Width, Height       int
	PlotLeft, PlotWidth int
	AxisY               int
	SlotRows            []slotRow
	Ticks               []tick
	Bars                []bar
	Built, Failed       []*row
	Skipped, NotStarted []*row
	CriticalText        string
	Ratio               string
	ErrorTxt            string // the run's PredictionError, "" without one
	BudgetText          string
}

type slotRow struct {
	Y, LabelY int
	Label     string
	Shade     bool
}

type tick struct {
	X     float64
	Label string
}

type bar struct {
	X, Y, W  float64
	Class    string
	Critical bool
	Label    string
	LabelX   float64
	LabelY   float64
	Title    string
	Href     string
}

type row struct {
	*Task
	Href     string
	Duration string
	StartTxt string
	PeakTxt  string
	EstTxt   string
	ErrTxt   string // the task's PredictionError, "" without one
}

func newView(dir string, r *Run) *view {
	v := &view{Run: r, PlotLeft: plotLeft, PlotWidth: plotWidth}
	slots := max(r.Slots, 1)
	for _, t := range r.Tasks {
		slots = max(slots, t.Slot)
	}
	span := max(r.Elapsed, 1)
	for _, t := range r.Tasks {
		span = max(span, t.End)
	}
	scale := float64(plotWidth) / span
	v.Width = plotLeft + plotWidth + 20
	v.AxisY = slots*rowHeight + 4
	v.Height = v.AxisY + axisSpace
	for s := 1; s <= slots; s++ {
		y := (s - 1) * rowHeight
		v.SlotRows = append(v.SlotRows, slotRow{Y: y, LabelY: y + rowHeight/2 + 5, Label: fmt.Sprintf("slot %d", s), Shade: s%2 == 0})
	}
	step := tickStep(span)
	for x := 0.0; x <= span+1e-9; x += step {
		v.Ticks = append(v.Ticks, tick{X: plotLeft + x*scale, Label: clockSeconds(x)})
	}
	for _, t := range r.Tasks {
		rw := &row{Task: t, Href: relLog(dir, t.Log)}
		rw.Duration = Seconds(t.End - t.Start)
		rw.StartTxt = clockSeconds(t.Start)
		if t.PeakBytes > 0 {
			rw.PeakTxt = ramdisk.FormatSize(t.PeakBytes)
		}
		if t.Predicted > 0 {
			rw.EstTxt = Seconds(t.Predicted)
		}
		if t.PredictionError != 0 {
			rw.ErrTxt = FormatError(t.PredictionError)
		}
		switch t.Status {
		case KindBuilt, "running":
			v.Built = append(v.Built, rw)
		case KindFailed:
			v.Failed = append(v.Failed, rw)
		case KindSkipped:
			v.Skipped = append(v.Skipped, rw)
		default:
			v.NotStarted = append(v.NotStarted, rw)
		}
		if t.Slot == 0 || !(t.Status == KindBuilt || t.Status == KindFailed || t.Status == "running") {
			continue
		}
		b := bar{
			X: plotLeft + t.Start*scale, Y: float64((t.Slot-1)*rowHeight + (rowHeight-barHeight)/2),
			W: max((t.End-t.Start)*scale, 2), Critical: t.Critical, Href: rw.Href,
		}
		switch {
		case t.Status == KindFailed:
			b.Class = "failed"
		case t.Status == "running":
			b.Class = "cut"
		case t.Where == "disk":
			b.Class = "disk"
		case t.Where == "cache":
			b.Class = "cached"
		default:
			b.Class = "tmpfs"
		}
		// The task ID ("hello:arm64") if it fits, else the package's name.
		for _, name := range []string{t.ID, t.Package} {
			if name != "" && float64(len(name))*6.6+8 < b.W {
				b.Label, b.LabelX, b.LabelY = name, b.X+4, b.Y+barHeight/2+4
				break
			}
		}
		where := t.Where
		if t.Retried {
			where = "tmpfs, then disk (ran out of space)"
		}
		if t.Where == "cache" {
			where = "restored from the artifact cache"
		}
		b.Title = fmt.Sprintf("%s %s: %s, %s to %s (%s), slot %d, %s, parallel=%d", t.ID, t.Version, t.Status,
			clockSeconds(t.Start), clockSeconds(t.End), Seconds(t.End-t.Start), t.Slot, where, t.Jobs)
		if t.Worker != "" {
			b.Title += ", worker " + t.Worker
		}
		if t.Estimate > 0 {
			b.Title += ", estimate " + Seconds(t.Estimate)
		}
		if t.Critical {
			b.Title += "; on the critical path"
		}
		v.Bars = append(v.Bars, b)
	}
	v.CriticalText = strings.Join(r.CriticalPath, " → ")
	if r.PredictionError != 0 {
		v.ErrorTxt = FormatError(r.PredictionError)
	}
	if r.LowerBound > 0 {
		v.Ratio = fmt.Sprintf("%.2f", r.Elapsed/r.LowerBound)
	}
	v.BudgetText = "none"
	if r.Budget > 0 {
		v.BudgetText = ramdisk.FormatSize(r.Budget)
	}
	return v
}

// tickStep is a round step giving 5 to 12 ticks over span seconds.
func tickStep(span float64) float64 {
	for _, s := range []float64{1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600} {
		if span/s <= 12 {
			return s
		}
	}
	return math.Ceil(span/12/3600) * 3600
}

func clockSeconds(s float64) string {
	t := int(math.Round(s))
	if t >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", t/3600, t/60%60, t%60)
	}
	return fmt.Sprintf("%d:%02d", t/60, t%60)
}

// relLog is the log's path relative to the report directory, as a URL.
func relLog(dir, log string) string {
	if log == "" {
		return ""
	}
	abs, err := filepath.Abs(log)
	if err != nil {
		return ""
	}
	rel, err := filepath.Rel(dir, abs)
	if err != nil {
		return ""
	}
	return filepath.ToSlash(rel)
}

var pageTmpl = template.Must(template.New("page").Funcs(template.FuncMap{
	"seconds": Seconds,
	"join":    func(xs []string) string { return strings.Join(xs, ", ") },
}).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>stx-build report: {{.Title}}</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #222; }
h1 { font-size: 20px; margin: 0 0 4px; }
h2 { font-size: 16px; margin: 24px 0 8px; }
.meta { color: #555; }
.counts span { display: inline-block; padding: 2px 10px; border-radius: 10px; margin-right: 6px; color: #fff; font-weight: 600; }
.c-built { background: #3b7a3b; } .c-failed { background: #c0392b; } .c-skipped { background: #b9770e; } .c-not { background: #777; }
svg text { font: 11px system-ui, sans-serif; }
.tmpfs { fill: #4e79a7; } .disk { fill: #f28e2b; } .failed { fill: #e15759; } .cut { fill: #bab0ac; } .cached { fill: #59a14f; }
.crit { stroke: #111; stroke-width: 2.5; }
.bar-label { fill: #fff; pointer-events: none; }
.bar-label.critlabel { font-weight: 700; }
.shade { fill: #f4f4f4; }
.axis { stroke: #999; } .grid { stroke: #e2e2e2; }
.legend span { display: inline-block; margin-right: 16px; }
.legend i { display: inline-block; width: 14px; height: 10px; margin-right: 4px; vertical-align: middle; }
table { border-collapse: collapse; margin-top: 4px; }
th, td { padding: 3px 10px; text-align: left; border-bottom: 1px solid #e4e4e4; vertical-align: top; }
th { background: #f0f0f0; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.err { color: #c0392b; font-family: monospace; white-space: pre-wrap; max-width: 700px; }
code { font-size: 13px; }
</style>
</head>
<body>
<h1>stx-build report: {{.Title}}</h1>
<div class="meta">started {{.Started.Format "2006-01-02 15:04:05 MST"}} · took <b>{{seconds .Elapsed}}</b>{{if .Predicted}} · predicted {{seconds .Predicted}}{{if .ErrorTxt}} ({{.ErrorTxt}}){{end}}{{end}}{{if .LowerBound}} · the plan's lower bound {{seconds .LowerBound}} (took {{.Ratio}}×){{end}} · {{.Slots}} slots, {{.Cores}} cores, tmpfs budget {{.BudgetText}}{{if .Interrupted}} · <b>interrupted</b>{{end}}</div>
<p class="counts"><span class="c-built">{{len .Built}} built</span><span class="c-failed">{{len .Failed}} failed</span><span class="c-skipped">{{len .Skipped}} skipped</span><span class="c-not">{{len .NotStarted}} not started</span></p>

<h2>Timeline</h2>
<div class="legend"><span><i class="tmpfs" style="background:#4e79a7"></i>tmpfs</span><span><i style="background:#f28e2b"></i>disk</span><span><i style="background:#e15759"></i>failed</span><span><i style="background:#59a14f"></i>restored from the cache</span><span><i style="background:#fff;border:2.5px solid #111;height:6px;width:10px"></i>critical path</span></div>
<svg width="{{.Width}}" height="{{.Height}}" viewBox="0 0 {{.Width}} {{.Height}}" role="img" aria-label="build timeline">
{{range .SlotRows}}{{if .Shade}}<rect class="shade" x="{{$.PlotLeft}}" y="{{.Y}}" width="{{$.PlotWidth}}" height="28"/>{{end}}<text x="4" y="{{.LabelY}}">{{.Label}}</text>
{{end}}{{range .Ticks}}<line class="grid" x1="{{.X}}" x2="{{.X}}" y1="0" y2="{{$.AxisY}}"/><text x="{{.X}}" y="{{$.Height}}" text-anchor="middle" dy="-8">{{.Label}}</text>
{{end}}<line class="axis" x1="{{.PlotLeft}}" x2="{{.PlotLeft}}" y1="0" y2="{{.AxisY}}"/>
{{range .Bars}}<a{{if .Href}} href="{{.Href}}"{{end}}><rect class="{{.Class}}{{if .Critical}} crit{{end}}" x="{{printf "%.1f" .X}}" y="{{.Y}}" width="{{printf "%.1f" .W}}" height="20" rx="3"><title>{{.Title}}</title></rect>{{if .Label}}<text class="bar-label{{if .Critical}} critlabel{{end}}" x="{{printf "%.1f" .LabelX}}" y="{{.LabelY}}">{{.Label}}</text>{{end}}</a>
{{end}}</svg>
{{if .CriticalPath}}<p>Critical path (the chain that set the end): {{.CriticalText}}</p>{{end}}
{{if .Notes}}<p>Build-dependency edges cut to break cycles (taken from the archive):</p><ul>{{range .Notes}}<li>{{.}}</li>{{end}}</ul>{{end}}

{{if .Failed}}<h2>Failed</h2>
<table><tr><th>package</th><th>arch</th><th>version</th><th>error</th><th>log</th></tr>
{{range .Failed}}<tr><td>{{.Package}}</td><td>{{.Arch}}</td><td>{{.Version}}</td><td class="err">{{.Error}}</td><td>{{if .Href}}<a href="{{.Href}}">log</a>{{end}}</td></tr>
{{end}}</table>{{end}}
{{if .Skipped}}<h2>Skipped</h2>
<table><tr><th>package</th><th>arch</th><th>version</th><th>needs the failed</th></tr>
{{range .Skipped}}<tr><td>{{.Package}}</td><td>{{.Arch}}</td><td>{{.Version}}</td><td>{{join .Cause}}</td></tr>
{{end}}</table>{{end}}
{{if .NotStarted}}<h2>Not started</h2>
<p>{{range $i, $t := .NotStarted}}{{if $i}}, {{end}}{{$t.ID}}{{end}}</p>{{end}}
{{if .Built}}<h2>Built</h2>
<table><tr><th>package</th><th>arch</th><th>version</th><th>start</th><th>took</th><th>predicted</th><th>error</th><th>slot</th><th>where</th><th>jobs</th><th>peak</th><th>log</th></tr>
{{range .Built}}<tr><td>{{if .Critical}}<b>{{.Package}}</b>{{else}}{{.Package}}{{end}}</td><td>{{.Arch}}</td><td>{{.Version}}</td><td class="num">{{.StartTxt}}</td><td class="num">{{.Duration}}</td><td class="num">{{.EstTxt}}</td><td class="num">{{.ErrTxt}}</td>{{if .Slot}}<td class="num">{{.Slot}}</td><td>{{.Where}}{{if .Retried}} (after tmpfs ran out){{end}}{{if eq .Mode "emulated"}}, emulated (qemu-user){{end}}</td><td class="num">{{.Jobs}}</td>{{else}}<td></td><td title="{{.What}}">published</td><td></td>{{end}}<td class="num">{{.PeakTxt}}</td><td>{{if .Href}}<a href="{{.Href}}">log</a>{{end}}</td></tr>
{{end}}</table>{{end}}
</body>
</html>
`))
