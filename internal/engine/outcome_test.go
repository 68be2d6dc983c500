package engine

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gantry-ci/gantry/internal/pipeline"
	"github.com/gantry-ci/gantry/internal/plan"
)

func TestAllowFailure(t *testing.T) {
	allow := func(af pipeline.AllowFailure) func(*plan.Job) {
		return func(j *plan.Job) { j.AllowFailure = af }
	}
	tests := []struct {
		name     string
		script   string
		af       pipeline.AllowFailure
		allowed  bool
		pipeline Status
		next     Status
	}{
		{"allow_failure true", "exit 1", pipeline.AllowFailure{Allowed: true}, true, StatusSuccess, StatusSuccess},
		{"listed exit code", "exit 3", pipeline.AllowFailure{ExitCodes: []int{3, 4}}, true, StatusSuccess, StatusSuccess},
		{"other exit code", "exit 5", pipeline.AllowFailure{ExitCodes: []int{3, 4}}, false, StatusFailed, StatusSkipped},
		{"not allowed", "exit 1", pipeline.AllowFailure{}, false, StatusFailed, StatusSkipped},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPlan([]string{"test", "deploy"},
				with(job("flaky", "test", tt.script), allow(tt.af)),
				job("next", "deploy", "true"),
				needs(job("dag-next", "deploy", "true"), "flaky"),
			)
			sum, rec := run(t, p, Options{})
			f := sum.Job("flaky")
			if f.Status != StatusFailed || f.AllowedFailure != tt.allowed {
				t.Errorf("flaky: %s allowed=%v, want failed allowed=%v", f.Status, f.AllowedFailure, tt.allowed)
			}
			if ev := rec.final("flaky"); ev.AllowedFailure != tt.allowed {
				t.Errorf("event allowed_failure=%v", ev.AllowedFailure)
			}
			wantStatuses(t, sum, map[string]Status{"next": tt.next, "dag-next": tt.next})
			if sum.Status != tt.pipeline {
				t.Errorf("pipeline %s, want %s", sum.Status, tt.pipeline)
			}
		})
	}
}

func TestRetry(t *testing.T) {
	// counter counts attempts in a file the attempts share.
	const counter = `n=$(( $(cat count 2>/dev/null || echo 0) + 1 )); echo $n > count; echo "attempt $n"`
	tests := []struct {
		name     string
		script   string
		retry    pipeline.Retry
		attempts int
		status   Status
	}{
		{"retried until it passes", counter + `; [ $n -ge 3 ]`, pipeline.Retry{Max: 2}, 3, StatusSuccess},
		{"gives up after max", counter + "; exit 1", pipeline.Retry{Max: 1}, 2, StatusFailed},
		{"max above 2 is 2", counter + "; exit 1", pipeline.Retry{Max: 5}, 3, StatusFailed},
		{"no retry by default", counter + "; exit 1", pipeline.Retry{}, 1, StatusFailed},
		{"when does not match", counter + "; exit 1", pipeline.Retry{Max: 2, When: []string{"runner_system_failure"}}, 1, StatusFailed},
		{"when matches", counter + "; exit 1", pipeline.Retry{Max: 2, When: []string{"script_failure"}}, 3, StatusFailed},
		{"exit code listed", counter + "; exit 42", pipeline.Retry{Max: 2, ExitCodes: []int{42}}, 3, StatusFailed},
		{"exit code not listed", counter + "; exit 1", pipeline.Retry{Max: 2, ExitCodes: []int{42}}, 1, StatusFailed},
		{"when or exit code", counter + "; exit 42", pipeline.Retry{Max: 1, When: []string{"runner_system_failure"}, ExitCodes: []int{42}}, 2, StatusFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := job("flaky", "test", tt.script)
			j.Def.Retry = tt.retry
			sum, rec := run(t, newPlan([]string{"test"}, j), Options{})
			r := sum.Job("flaky")
			if r.Status != tt.status || r.Attempts != tt.attempts {
				t.Fatalf("status %s after %d attempts, want %s after %d", r.Status, r.Attempts, tt.status, tt.attempts)
			}
			var started []JobStarted
			var finished []JobFinished
			for _, e := range rec.events {
				switch e := e.(type) {
				case JobStarted:
					started = append(started, e)
				case JobFinished:
					finished = append(finished, e)
				}
			}
			ids := map[int64]bool{}
			for i, s := range started {
				if s.Attempt != i+1 || ids[s.ID] {
					t.Errorf("start %d: attempt %d id %d (ids so far %v)", i, s.Attempt, s.ID, ids)
				}
				ids[s.ID] = true
				if want := i < len(started)-1; finished[i].WillRetry != want {
					t.Errorf("attempt %d: will_retry %v", i+1, finished[i].WillRetry)
				}
			}
			if len(started) != tt.attempts || len(finished) != tt.attempts {
				t.Errorf("%d starts, %d finishes", len(started), len(finished))
			}
			if !strings.Contains(rec.log("flaky"), "attempt 1") {
				t.Errorf("log %q", rec.log("flaky"))
			}
		})
	}
}

// failOnce fails its first attempt as a broken runner would, then hands
// over to bash.
type failOnce struct {
	bashWorker
}

func (w *failOnce) RunJob(ctx context.Context, run *JobRun, log io.Writer) (Outcome, error) {
	if run.Attempt == 1 {
		return Outcome{ExitCode: -1}, errors.New("prepare workspace: disk full")
	}
	return w.bashWorker.RunJob(ctx, run, log)
}

func TestWorkerErrorIsSystemFailure(t *testing.T) {
	j := job("build", "build", "echo built")
	j.Def.Retry = pipeline.Retry{Max: 1, When: []string{FailureRunnerSystem}}
	rec := &recorder{t: t}
	sum, err := Run(context.Background(), newPlan([]string{"build"}, j), &failOnce{bashWorker: bashWorker{dir: t.TempDir()}}, Options{Sink: rec})
	if err != nil {
		t.Fatal(err)
	}
	first := rec.events[rec.index(TypeJobFinished, "build")].(JobFinished)
	if first.Failure != FailureRunnerSystem || !first.WillRetry || first.Reason != "prepare workspace: disk full" {
		t.Errorf("first attempt: %+v", first)
	}
	if log := rec.log("build"); !strings.Contains(log, "ERROR: Job failed (system failure): prepare workspace: disk full") || !strings.Contains(log, "built") {
		t.Errorf("log %q", log)
	}
	if r := sum.Job("build"); r.Status != StatusSuccess || r.Attempts != 2 {
		t.Errorf("final %+v", r)
	}
}

func TestTimeout(t *testing.T) {
	tests := []struct {
		name    string
		job     time.Duration
		cap     time.Duration
		timeout time.Duration
	}{
		{"job timeout", 300 * time.Millisecond, 0, 300 * time.Millisecond},
		{"global cap", time.Hour, 300 * time.Millisecond, 300 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := job("hang", "test", "echo waiting", "sleep 30")
			j.Def.Timeout = tt.job
			sum, rec := run(t, newPlan([]string{"test"}, j), Options{Timeout: tt.cap})
			r := sum.Job("hang")
			if r.Status != StatusFailed || r.Failure != FailureTimeout {
				t.Errorf("%+v, want failed job_execution_timeout", r)
			}
			if st := rec.events[rec.index(TypeJobStarted, "hang")].(JobStarted); st.Timeout != tt.timeout {
				t.Errorf("timeout %v, want %v", st.Timeout, tt.timeout)
			}
			if log := rec.log("hang"); !strings.Contains(log, "waiting") || !strings.Contains(log, "execution took longer than 300ms") {
				t.Errorf("log %q", log)
			}
		})
	}
	t.Run("default is an hour", func(t *testing.T) {
		_, rec := run(t, newPlan([]string{"test"}, job("quick", "test", "true")), Options{})
		if st := rec.events[rec.index(TypeJobStarted, "quick")].(JobStarted); st.Timeout != time.Hour {
			t.Errorf("timeout %v", st.Timeout)
		}
	})
}

func TestCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p := newPlan([]string{"build", "test"},
		job("long", "build", "echo ready", "sleep 30"),
		with(job("later", "build", "true"), func(j *plan.Job) { j.When = pipeline.WhenDelayed; j.StartIn = time2h }),
		job("next", "test", "true"),
		needs(job("dag", "test", "true"), "long"),
	)
	rec := &recorder{t: t}
	rec.onEmit = func(e Event) {
		if l, ok := e.(JobLog); ok && strings.Contains(l.Chunk, "ready") {
			cancel()
		}
	}
	sum, err := Run(ctx, p, bashWorker{dir: t.TempDir()}, Options{Sink: rec, Concurrency: 2})
	if err != nil {
		t.Fatal(err)
	}
	wantStatuses(t, sum, map[string]Status{"long": StatusCanceled, "later": StatusCanceled, "next": StatusCanceled, "dag": StatusCanceled})
	if sum.Status != StatusCanceled || sum.ExitCode() != 130 {
		t.Errorf("pipeline %s exit %d", sum.Status, sum.ExitCode())
	}
	last := rec.events[len(rec.events)-1].(PipelineFinished)
	if last.Status != StatusCanceled {
		t.Errorf("last event %+v", last)
	}
}

func TestResourceGroupRunsOneAtATime(t *testing.T) {
	dir := t.TempDir()
	script := `echo "start $CI_JOB_NAME" >> order.log; sleep 0.1; echo "end $CI_JOB_NAME" >> order.log`
	var jobs []*plan.Job
	for _, n := range []string{"deploy-a", "deploy-b", "deploy-c", "deploy-d"} {
		j := needs(job(n, "deploy", script))
		j.Def.ResourceGroup = "production"
		jobs = append(jobs, j)
	}
	sum, _ := runIn(t, dir, newPlan([]string{"deploy"}, jobs...), Options{Concurrency: 4})
	if sum.Status != StatusSuccess {
		t.Fatalf("pipeline %s", sum.Status)
	}
	data, err := os.ReadFile(filepath.Join(dir, "order.log"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) != 8 {
		t.Fatalf("order.log: %q", lines)
	}
	for i := 0; i < len(lines); i += 2 {
		name, ok := strings.CutPrefix(lines[i], "start ")
		if !ok || lines[i+1] != "end "+name {
			t.Fatalf("jobs of one resource_group overlapped: %q", lines)
		}
	}
}

func TestResourceLockerCancel(t *testing.T) {
	l := NewResourceLocker()
	unlock, err := l.Lock(context.Background(), "g")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := l.Lock(ctx, "g"); !errors.Is(err, context.Canceled) {
		t.Errorf("Lock on a held group with a dead context: %v", err)
	}
	unlock()
	unlock() // a second call is harmless
	unlock2, err := l.Lock(context.Background(), "g")
	if err != nil {
		t.Fatal(err)
	}
	unlock2()
}
