// Package termview shows a running pipeline in a terminal: each job's log
// lines prefixed with its name as they arrive, state changes as they
// happen, and a summary table at the end. It is a consumer of the engine's
// event stream and nothing else.
package termview

import (
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/gantry-ci/gantry/internal/engine"
)

// sectionMarker is GitLab's collapsible-section marker, which a plain
// line view drops (the header text after it stays).
var sectionMarker = regexp.MustCompile(`\x1b\[0Ksection_(?:start|end):\d+:[^\r\n\x1b]*\r?(?:\x1b\[0K)?`)

// Lines prints events as lines: `[job] log line`, and one line for each
// job that starts or ends. Partial log lines are held until their newline
// (or the job's end), so lines of concurrent jobs never interleave.
type Lines struct {
	mu      sync.Mutex
	w       io.Writer
	partial map[string]string
	width   int
}

// NewLines writes to w.
func NewLines(w io.Writer) *Lines {
	return &Lines{w: w, partial: map[string]string{}}
}

// Emit implements engine.Sink.
func (l *Lines) Emit(e engine.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch e := e.(type) {
	case engine.PipelineStarted:
		for _, j := range e.Jobs {
			l.width = max(l.width, len(j.Name))
		}
	case engine.JobStarted:
		attempt := ""
		if e.Attempt > 1 {
			attempt = fmt.Sprintf(" (attempt %d)", e.Attempt)
		}
		fmt.Fprintf(l.w, "%s started%s\n", l.prefix(e.Job), attempt)
	case engine.JobLog:
		text := l.partial[e.Job] + e.Chunk
		lines := strings.Split(text, "\n")
		l.partial[e.Job] = lines[len(lines)-1]
		for _, line := range lines[:len(lines)-1] {
			line = sectionMarker.ReplaceAllString(strings.TrimSuffix(line, "\r"), "")
			if line == "" {
				continue
			}
			fmt.Fprintf(l.w, "%s %s\n", l.prefix(e.Job), line)
		}
	case engine.JobFinished:
		if rest := l.partial[e.Job]; rest != "" {
			fmt.Fprintf(l.w, "%s %s\n", l.prefix(e.Job), rest)
			delete(l.partial, e.Job)
		}
		fmt.Fprintf(l.w, "%s %s\n", l.prefix(e.Job), describe(e))
	case engine.PipelineFinished:
		fmt.Fprintf(l.w, "pipeline %s in %s\n", e.Status, round(e.Duration))
	}
}

func (l *Lines) prefix(job string) string {
	return fmt.Sprintf("[%-*s]", l.width, job)
}

func describe(e engine.JobFinished) string {
	var b strings.Builder
	b.WriteString(string(e.Status))
	if e.AllowedFailure {
		b.WriteString(" (allowed to fail)")
	}
	if e.ID != 0 {
		fmt.Fprintf(&b, " in %s", round(e.Duration))
		if e.ExitCode != 0 {
			fmt.Fprintf(&b, ", exit code %d", e.ExitCode)
		}
	}
	if e.Failure != "" && e.Status == engine.StatusFailed {
		fmt.Fprintf(&b, ", %s", e.Failure)
	}
	if e.Reason != "" {
		fmt.Fprintf(&b, ": %s", e.Reason)
	}
	if e.WillRetry {
		b.WriteString(", retrying")
	}
	return b.String()
}

func round(d time.Duration) time.Duration {
	if d < time.Second {
		return d.Round(time.Millisecond)
	}
	return d.Round(10 * time.Millisecond)
}

// JSON prints every event as one JSON line.
type JSON struct {
	mu  sync.Mutex
	enc *json.Encoder
}

// NewJSON writes to w.
func NewJSON(w io.Writer) *JSON { return &JSON{enc: json.NewEncoder(w)} }

// Emit implements engine.Sink.
func (j *JSON) Emit(e engine.Event) {
	j.mu.Lock()
	defer j.mu.Unlock()
	_ = j.enc.Encode(e)
}

// Summary writes the table shown after a run: job, stage, status,
// duration, coverage and tests, then the failed tests.
func Summary(w io.Writer, s *engine.Summary) {
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "\nJOB\tSTAGE\tSTATUS\tDURATION\tCOVERAGE\tTESTS")
	var failedTests []string
	for _, j := range s.Jobs {
		status := string(j.Status)
		if j.AllowedFailure {
			status += " (allowed)"
		}
		if j.Attempts > 1 {
			status += fmt.Sprintf(" after %d attempts", j.Attempts)
		}
		duration, coverage, tests := "-", "-", "-"
		if j.Attempts > 0 {
			duration = round(j.Duration).String()
		}
		if j.Coverage != nil {
			coverage = fmt.Sprintf("%.2f%%", *j.Coverage)
		}
		if t := j.Tests; t != nil {
			tests = fmt.Sprintf("%d passed, %d failed, %d skipped", t.Tests-t.Failed-t.Errored-t.Skipped, t.Failed+t.Errored, t.Skipped)
			for _, name := range t.FailedNames {
				failedTests = append(failedTests, j.Name+": "+name)
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", j.Name, j.Stage, status, duration, coverage, tests)
	}
	tw.Flush()
	if len(failedTests) > 0 {
		sort.Strings(failedTests)
		fmt.Fprintf(w, "\nfailed tests:\n  %s\n", strings.Join(failedTests, "\n  "))
	}
	fmt.Fprintf(w, "\npipeline %s in %s\n", s.Status, round(s.Duration))
}
