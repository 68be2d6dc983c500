package termview

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/gantry-ci/gantry/internal/engine"
)

func TestLinesPrefixesAndJoinsPartialLines(t *testing.T) {
	var b bytes.Buffer
	l := NewLines(&b)
	l.Emit(engine.PipelineStarted{Jobs: []engine.JobInfo{{Name: "build"}, {Name: "test:unit"}}})
	l.Emit(engine.JobStarted{Job: "build", Attempt: 1})
	l.Emit(engine.JobLog{Job: "build", Chunk: "\x1b[0Ksection_start:1700000000:script\r\x1b[0KExecuting script\n$ make\nhal"})
	l.Emit(engine.JobLog{Job: "test:unit", Chunk: "other job\n"})
	l.Emit(engine.JobLog{Job: "build", Chunk: "f a line\nno newline at the end"})
	l.Emit(engine.JobFinished{Job: "build", Status: engine.StatusFailed, ID: 1, ExitCode: 2, Failure: "script_failure", Duration: 1500 * time.Millisecond})
	l.Emit(engine.JobFinished{Job: "test:unit", Status: engine.StatusSkipped, Reason: "build failed"})
	want := strings.Join([]string{
		"[build    ] started",
		"[build    ] Executing script",
		"[build    ] $ make",
		"[test:unit] other job",
		"[build    ] half a line",
		"[build    ] no newline at the end",
		"[build    ] failed in 1.5s, exit code 2, script_failure",
		"[test:unit] skipped: build failed",
		"",
	}, "\n")
	if b.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestSummaryTable(t *testing.T) {
	cov := 87.5
	s := &engine.Summary{Status: engine.StatusFailed, Duration: 3 * time.Second, Jobs: []engine.JobResult{
		{Name: "build", Stage: "build", Status: engine.StatusSuccess, Attempts: 1, Duration: 1200 * time.Millisecond},
		{Name: "test", Stage: "test", Status: engine.StatusFailed, Attempts: 2, Duration: time.Second, Coverage: &cov,
			Tests: &engine.TestCounts{Tests: 10, Failed: 2, Skipped: 1, FailedNames: []string{"pkg.TestA", "pkg.TestB"}}},
		{Name: "lint", Stage: "test", Status: engine.StatusFailed, AllowedFailure: true, Attempts: 1, Duration: 10 * time.Millisecond},
		{Name: "deploy", Stage: "deploy", Status: engine.StatusSkipped},
	}}
	var b bytes.Buffer
	Summary(&b, s)
	for _, want := range []string{
		"test    test    failed after 2 attempts  1s        87.50%    7 passed, 2 failed, 1 skipped",
		"lint    test    failed (allowed)",
		"deploy  deploy  skipped                  -         -         -",
		"failed tests:\n  test: pkg.TestA\n  test: pkg.TestB",
		"pipeline failed in 3s",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, b.String())
		}
	}
}

func TestLiveShowsRunningTail(t *testing.T) {
	var b bytes.Buffer
	l := NewLive(&b, 80, 2, time.Hour) // redrawn by Close only
	l.Emit(engine.PipelineStarted{Jobs: []engine.JobInfo{{Name: "slow"}, {Name: "done"}}})
	l.Emit(engine.JobStarted{Job: "slow", Status: engine.StatusRunning, Time: time.Now(), Attempt: 1})
	l.Emit(engine.JobLog{Job: "slow", Chunk: "one\ntwo\nthree\n"})
	l.Emit(engine.JobFinished{Job: "done", Status: engine.StatusSuccess, ID: 2, Duration: time.Second})
	l.Close()
	out := b.String()
	if !strings.Contains(out, "two") || !strings.Contains(out, "three") || strings.Contains(out, "one\n") {
		t.Errorf("running job should show its last 2 lines only:\n%q", out)
	}
	if !strings.Contains(out, "done") || !strings.Contains(out, "success") {
		t.Errorf("finished job missing:\n%q", out)
	}
}
