package termview

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/gantry-ci/gantry/internal/engine"
)

// Live redraws a block of the terminal: one line per job with its state and
// duration, and under each running job the last lines of its log. It is a
// plain ANSI redraw (cursor up, clear to the end) on a timer, so a burst of
// events costs one redraw, not one per event.
type Live struct {
	mu      sync.Mutex
	w       io.Writer
	width   int
	tail    int
	jobs    []*liveJob
	byName  map[string]*liveJob
	drawn   int // lines drawn last time, to move back over them
	dirty   bool
	stop    chan struct{}
	stopped chan struct{}
}

type liveJob struct {
	name, stage string
	status      engine.Status
	started     time.Time
	duration    time.Duration
	lines       []string // last lines of the log
	partial     string
	note        string
}

// NewLive draws on w (a terminal width columns wide), showing tail log
// lines under each running job, redrawn every interval.
func NewLive(w io.Writer, width, tail int, interval time.Duration) *Live {
	l := &Live{w: w, width: max(width, 40), tail: tail, byName: map[string]*liveJob{},
		stop: make(chan struct{}), stopped: make(chan struct{})}
	go l.loop(interval)
	return l
}

func (l *Live) loop(interval time.Duration) {
	defer close(l.stopped)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			l.redraw()
			return
		case <-t.C:
			l.redraw()
		}
	}
}

// Close draws the final state and stops redrawing.
func (l *Live) Close() {
	select {
	case <-l.stop:
	default:
		close(l.stop)
	}
	<-l.stopped
}

// Emit implements engine.Sink.
func (l *Live) Emit(e engine.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.dirty = true
	switch e := e.(type) {
	case engine.PipelineStarted:
		for _, j := range e.Jobs {
			lj := &liveJob{name: j.Name, stage: j.Stage, status: "created"}
			l.jobs = append(l.jobs, lj)
			l.byName[j.Name] = lj
		}
	case engine.JobQueued:
		if j := l.byName[e.Job]; j != nil {
			j.status = e.Status
		}
	case engine.JobScheduled:
		if j := l.byName[e.Job]; j != nil {
			j.status, j.note = e.Status, "starts in "+e.StartIn.String()
		}
	case engine.JobStarted:
		if j := l.byName[e.Job]; j != nil {
			j.status, j.started, j.lines, j.partial, j.note = e.Status, e.Time, nil, "", ""
			if e.Attempt > 1 {
				j.note = fmt.Sprintf("attempt %d", e.Attempt)
			}
		}
	case engine.JobLog:
		if j := l.byName[e.Job]; j != nil {
			parts := strings.Split(j.partial+e.Chunk, "\n")
			j.partial = parts[len(parts)-1]
			for _, line := range parts[:len(parts)-1] {
				line = sectionMarker.ReplaceAllString(strings.TrimSuffix(line, "\r"), "")
				if line != "" {
					j.lines = append(j.lines, line)
				}
			}
			if len(j.lines) > l.tail {
				j.lines = j.lines[len(j.lines)-l.tail:]
			}
		}
	case engine.JobFinished:
		if j := l.byName[e.Job]; j != nil {
			j.status, j.duration, j.note = e.Status, e.Duration, ""
			if e.Status != engine.StatusSuccess || e.WillRetry {
				j.note = describe(e)
			}
		}
	}
}

var statusMark = map[engine.Status]string{
	engine.StatusSuccess:  "\x1b[32m✔\x1b[0m",
	engine.StatusFailed:   "\x1b[31m✘\x1b[0m",
	engine.StatusSkipped:  "\x1b[90m-\x1b[0m",
	engine.StatusCanceled: "\x1b[90m⊘\x1b[0m",
	engine.StatusManual:   "\x1b[33m▶\x1b[0m",
	engine.StatusRunning:  "\x1b[34m●\x1b[0m",
}

func (l *Live) redraw() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.dirty && !l.anyRunning() {
		return
	}
	l.dirty = false
	var b strings.Builder
	if l.drawn > 0 {
		fmt.Fprintf(&b, "\x1b[%dA", l.drawn)
	}
	b.WriteString("\x1b[J")
	lines := 0
	now := time.Now()
	for _, j := range l.jobs {
		mark, ok := statusMark[j.status]
		if !ok {
			mark = "\x1b[90m·\x1b[0m"
		}
		d := j.duration
		if j.status == engine.StatusRunning && !j.started.IsZero() {
			d = now.Sub(j.started)
		}
		dur := ""
		if d > 0 {
			dur = round(d).String()
		}
		line := fmt.Sprintf("%s %-30s %-10s %8s  %s", mark, j.name, j.status, dur, j.note)
		b.WriteString(clip(line, l.width+len(mark)-1))
		b.WriteString("\n")
		lines++
		if j.status == engine.StatusRunning {
			for _, logLine := range j.lines {
				b.WriteString("    \x1b[90m" + clip(logLine, l.width-4) + "\x1b[0m\n")
				lines++
			}
		}
	}
	l.drawn = lines
	_, _ = io.WriteString(l.w, b.String())
}

func (l *Live) anyRunning() bool {
	for _, j := range l.jobs {
		if j.status == engine.StatusRunning {
			return true
		}
	}
	return false
}

// clip cuts s to n bytes so a line never wraps and breaks the redraw.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	n = max(n-1, 0)
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
