package report

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"golang.org/x/sys/unix"
)

// IsTerminal says whether f is a terminal (a live view makes sense).
func IsTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// Live shows a live view on a terminal: finished builds scroll by as
// plain lines; below them a block redrawn every second lists the running
// builds with their elapsed time and the last line of their log, and the
// counts with the ETA from the plan. Close clears the block.
func Live(f *os.File) Closer {
	l := &live{out: f, fd: int(f.Fd()), running: map[string]*liveTask{}, stop: make(chan struct{}), done: make(chan struct{})}
	go l.tick()
	return l
}

type liveTask struct {
	e       Event
	started time.Time
}

type live struct {
	out io.Writer
	fd  int

	mu      sync.Mutex
	running map[string]*liveTask
	last    Event // the latest event, for counts and ETA
	start   time.Time
	lines   int // lines of the block on screen
	closed  bool

	stop, done chan struct{}
}

func (l *live) tick() {
	defer close(l.done)
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
			l.mu.Lock()
			l.redraw("")
			l.mu.Unlock()
		}
	}
}

func (l *live) Event(e Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return
	}
	if l.start.IsZero() || e.Kind == KindPlan { // the run's clock starts with the plan
		l.start = time.Now().Add(-time.Duration(e.Elapsed * float64(time.Second)))
	}
	if e.Total > 0 {
		l.last = e
	}
	var above strings.Builder
	switch e.Kind {
	case KindStart:
		if e.Slot > 0 {
			l.running[e.ID] = &liveTask{e: e, started: time.Now()}
		}
	case KindBuilt, KindFailed, KindSkipped, KindNotStarted:
		delete(l.running, e.ID)
	}
	if e.Kind != KindStart { // starts show in the block
		Text(&above).Event(e)
	}
	l.redraw(above.String())
}

// redraw clears the block, prints text above it, and draws it again.
func (l *live) redraw(above string) {
	if l.closed {
		return
	}
	var b strings.Builder
	if l.lines > 0 {
		fmt.Fprintf(&b, "\r\x1b[%dA\x1b[J", l.lines)
	}
	b.WriteString(above)
	width := 100
	if ws, err := unix.IoctlGetWinsize(l.fd, unix.TIOCGWINSZ); err == nil && ws.Col > 20 {
		width = int(ws.Col)
	}
	ids := make([]string, 0, len(l.running))
	for id := range l.running {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, c string) int { return l.running[a].e.Slot - l.running[c].e.Slot })
	lines := 0
	for _, id := range ids {
		r := l.running[id]
		head := fmt.Sprintf(" %2d  %-28s %6s  %-5s j%-2d ", r.e.Slot, id, clock(time.Since(r.started)), r.e.Where, r.e.Jobs)
		tail := lastLogLine(r.e.Log + ".partial")
		b.WriteString(fit(head+"| "+tail, width))
		b.WriteByte('\n')
		lines++
	}
	if !l.start.IsZero() {
		e := l.last
		status := fmt.Sprintf(" [%d/%d done, %d running] elapsed %s", e.Done, e.Total, len(l.running), clock(time.Since(l.start)))
		if e.ETA > 0 {
			left := time.Until(l.start.Add(time.Duration(e.ETA * float64(time.Second))))
			status += ", ETA " + clock(max(left, 0))
		}
		b.WriteString(fit(status, width))
		b.WriteByte('\n')
		lines++
	}
	l.lines = lines
	io.WriteString(l.out, b.String())
}

func (l *live) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	if l.lines > 0 {
		fmt.Fprintf(l.out, "\r\x1b[%dA\x1b[J", l.lines)
	}
	l.closed = true
	l.mu.Unlock()
	close(l.stop)
	<-l.done
	return nil
}

// fit cuts s to width columns (counting runes) and drops control
// characters, so a line never wraps and the block keeps its height.
func fit(s string, width int) string {
	var b strings.Builder
	n := 0
	for _, r := range s {
		if r < ' ' || r == 0x7f {
			r = ' '
		}
		if n >= width-1 {
			break
		}
		b.WriteRune(r)
		n++
	}
	return b.String()
}

// lastLogLine is the last non-empty line of a log being written.
func lastLogLine(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return ""
	}
	const tail = 4096
	off := max(fi.Size()-tail, 0)
	buf := make([]byte, fi.Size()-off)
	n, _ := f.ReadAt(buf, off)
	lines := strings.Split(strings.TrimRight(string(buf[:n]), "\r\n "), "\n")
	last := strings.TrimSpace(lines[len(lines)-1])
	// A progress bar rewrites its line with \r: keep the newest part.
	if i := strings.LastIndexByte(last, '\r'); i >= 0 {
		last = last[i+1:]
	}
	if !utf8.ValidString(last) {
		last = strings.ToValidUTF8(last, "?")
	}
	return last
}

// clock formats a duration as m:ss or h:mm:ss.
func clock(d time.Duration) string {
	s := int(d.Round(time.Second).Seconds())
	if s >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}
