package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gantry-ci/gantry/internal/pipeline"
	"github.com/gantry-ci/gantry/internal/plan"
	"github.com/gantry-ci/gantry/internal/variables"
)

// attempt is what the goroutine of one attempt reports.
type attempt struct {
	run      *JobRun
	outcome  Outcome
	err      error
	timedOut bool
	started  time.Time
	finished time.Time
}

// start hands the job's next attempt to the Worker in its own goroutine.
func (s *scheduler) start(n *node) {
	n.attempt++
	n.ran = true
	n.state = stateRunning
	run := s.prepare(n)
	unlock := n.unlock
	n.unlock = nil
	s.running++
	s.outstanding++
	started := s.clock.Now()
	s.emit(JobStarted{Type: TypeJobStarted, Job: n.job.Name, Status: StatusRunning, ID: run.ID, Attempt: run.Attempt, Timeout: run.Timeout, Time: started})
	go func() {
		att := s.execute(run)
		att.started = started
		if unlock != nil {
			unlock()
		}
		s.msgs <- message{kind: msgAttempt, node: n, att: att}
	}()
}

// prepare builds the JobRun of n's next attempt. It reads other jobs'
// results, so it runs on the scheduler goroutine.
func (s *scheduler) prepare(n *node) *JobRun {
	run := &JobRun{ID: s.nextID(), Job: n.job, Attempt: n.attempt, Timeout: s.timeout(n.job)}
	vars := slices.Clone(n.job.Variables)
	s.g.eachDependency(n,
		func(size int) { run.Dependencies = make([]string, 0, size) },
		func(d *node) {
			run.Dependencies = append(run.Dependencies, d.job.Name)
			for _, v := range d.dotenv {
				// A dotenv value is data the job wrote, not a template.
				v.Raw = true
				vars = append(vars, v)
			}
		})
	vars = append(vars, s.opts.PipelineVariables...)
	vars = append(vars, pipeline.Variable{Name: "CI_JOB_ID", Value: strconv.FormatInt(run.ID, 10)})
	run.Env = variables.Resolve(vars)
	var secrets []string
	for _, v := range run.Env {
		if v.Secret && v.Value != "" {
			secrets = append(secrets, v.Value)
		}
	}
	run.Masker = s.masker
	if len(secrets) > 0 {
		run.Masker = s.masker.With(secrets...)
	}
	return run
}

// timeout is the job's own timeout (GitLab's default 1h), capped by
// Options.Timeout.
func (s *scheduler) timeout(j *plan.Job) time.Duration {
	t := DefaultJobTimeout
	if j.Def != nil && j.Def.Timeout > 0 {
		t = j.Def.Timeout
	}
	if s.opts.Timeout > 0 && s.opts.Timeout < t {
		t = s.opts.Timeout
	}
	return t
}

// resourceGroup returns the job's resource_group with variables expanded,
// or "".
func resourceGroup(j *plan.Job) string {
	if j.Def == nil || j.Def.ResourceGroup == "" {
		return ""
	}
	g := j.Def.ResourceGroup
	if strings.Contains(g, "$") {
		g = variables.Expand(g, variables.Lookup(variables.Resolve(j.Variables)))
	}
	return g
}

// execute runs one attempt under the job's timeout; its log is masked and
// becomes JobLog events.
func (s *scheduler) execute(run *JobRun) attempt {
	ctx, cancel := context.WithTimeoutCause(s.ctx, run.Timeout, ErrJobTimeout)
	defer cancel()
	log := run.Masker.Writer(&logWriter{s: s, run: run})
	out, err := s.w.RunJob(ctx, run, log)
	att := attempt{run: run, outcome: out, err: err}
	att.timedOut = errors.Is(context.Cause(ctx), ErrJobTimeout)
	switch {
	case s.ctx.Err() != nil:
	case att.timedOut && !succeeded(out, err):
		fmt.Fprintf(log, "\nERROR: Job failed: execution took longer than %v\n", run.Timeout)
	case err != nil:
		fmt.Fprintf(log, "\nERROR: Job failed (system failure): %v\n", err)
	}
	_ = log.Close() // the log writer itself never fails
	att.finished = s.clock.Now()
	return att
}

func succeeded(out Outcome, err error) bool {
	return err == nil && out.Failure == "" && out.ExitCode == 0
}

// finishAttempt turns an attempt's outcome into the job's status, and
// retries it or settles the job.
func (s *scheduler) finishAttempt(n *node, att attempt) {
	out := att.outcome
	r := &n.result
	r.Attempts = n.attempt
	r.ID = att.run.ID
	r.Started = att.started
	r.Duration = att.finished.Sub(att.started)
	r.ExitCode = out.ExitCode
	r.Coverage = out.Coverage
	r.Tests = out.Tests
	r.Failure = ""
	r.Reason = ""
	switch {
	case succeeded(out, att.err):
		r.Status = StatusSuccess
	case s.ctx.Err() != nil:
		r.Status = StatusCanceled
		r.Reason = "the pipeline was canceled"
	default:
		r.Status = StatusFailed
		r.Failure = out.Failure
		switch {
		case att.timedOut:
			r.Failure = FailureTimeout
		case att.err != nil && r.Failure == "":
			r.Failure = FailureRunnerSystem
		case r.Failure == "":
			r.Failure = defaultFailureReason
		}
		if att.err != nil {
			r.Reason = att.err.Error()
		}
	}
	r.AllowedFailure = r.Status == StatusFailed && allowedFailure(n.job.AllowFailure, r.ExitCode)
	var retry pipeline.Retry
	if n.job.Def != nil {
		retry = n.job.Def.Retry
	}
	willRetry := r.Status == StatusFailed && shouldRetry(retry, n.attempt, r.Failure, r.ExitCode)
	s.emit(JobFinished{
		Type: TypeJobFinished, Job: n.job.Name, Status: r.Status, ID: r.ID, Attempt: n.attempt,
		ExitCode: r.ExitCode, Failure: r.Failure, Reason: r.Reason, AllowedFailure: r.AllowedFailure,
		WillRetry: willRetry, Duration: r.Duration, Coverage: r.Coverage, Tests: r.Tests, Time: att.finished,
	})
	if willRetry {
		n.state = stateCreated
		s.enqueue(n)
		return
	}
	n.dotenv = out.Dotenv
	s.done(n)
}

// logWriter turns a job's (already masked) output into JobLog events.
type logWriter struct {
	s   *scheduler
	run *JobRun
}

func (w *logWriter) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	w.s.emit(JobLog{
		Type: TypeJobLog, Job: w.run.Job.Name, Status: StatusRunning, ID: w.run.ID,
		Attempt: w.run.Attempt, Chunk: string(p), Time: w.s.clock.Now(),
	})
	return len(p), nil
}
