package engine

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/gantry-ci/gantry/internal/mask"
	"github.com/gantry-ci/gantry/internal/pipeline"
	"github.com/gantry-ci/gantry/internal/plan"
)

// Worker runs one attempt of one job: it prepares the workspace, restores
// caches and artifacts, runs the scripts and saves what the job produced,
// and reports how it ended. It is called concurrently for different jobs.
//
// The job's output goes to log, which masks secrets and must not be used
// after RunJob returns. ctx is cancelled when the pipeline is cancelled
// (context.Cause is then context.Canceled) or when run.Timeout runs out
// (cause ErrJobTimeout); a Worker that still wants to run after_script or
// save on_failure artifacts then does so under context.WithoutCancel.
//
// An error means the attempt could not be carried out (the workspace could
// not be prepared, the executor broke); a script that fails is not an error
// but an Outcome with a non-zero ExitCode.
type Worker interface {
	RunJob(ctx context.Context, run *JobRun, log io.Writer) (Outcome, error)
}

// ErrJobTimeout is the cause of a job's context when its timeout ran out.
var ErrJobTimeout = errors.New("job execution timeout")

// JobRun is one attempt of one job.
type JobRun struct {
	// ID is unique within the pipeline; each attempt gets a new one, as in
	// GitLab, where a retry is a new job.
	ID      int64
	Job     *plan.Job
	Attempt int // 1 for the first run
	// Env is the job's final variables, resolved and expanded, with the
	// dotenv reports of Dependencies above the job's own variables.
	Env []pipeline.Variable
	// Dependencies names the jobs whose artifacts this job receives (from
	// dependencies:, else needs with artifacts, else all earlier stages),
	// limited to jobs that ran, in plan order.
	Dependencies []string
	// Timeout is the job's timeout (its own, default 1h, capped by
	// Options.Timeout); the engine enforces it on ctx as well.
	Timeout time.Duration
	// Masker hides this job's secrets; the engine already applies it to
	// log, and the Worker applies it to anything else it shows a user.
	Masker *mask.Masker
}

// GitLab's failure reasons that the engine and workers use.
const (
	FailureScript        = "script_failure"
	FailureStuck         = "stuck_or_timeout_failure"
	FailureTimeout       = "job_execution_timeout"
	FailureRunnerSystem  = "runner_system_failure"
	FailureUnknown       = "unknown_failure"
	defaultFailureReason = FailureScript
)

// Outcome is how one attempt ended.
type Outcome struct {
	// ExitCode of the job's script; -1 when it was killed or never started.
	ExitCode int
	// Failure is "" on success, else one of the Failure* reasons; a
	// non-zero ExitCode with no Failure is a script_failure.
	Failure string
	// Dotenv holds the variables of the job's artifacts:reports:dotenv.
	Dotenv []pipeline.Variable
	// Coverage is the figure found by the job's coverage regex, if any.
	Coverage *float64
	// Tests summarises the job's JUnit reports, if it had any.
	Tests *TestCounts
}

// TestCounts summarises a job's test reports.
type TestCounts struct {
	Tests   int `json:"tests"`
	Failed  int `json:"failed"`
	Errored int `json:"errored,omitempty"`
	Skipped int `json:"skipped"`
	// FailedNames lists failed tests, as many as the Worker chose to keep.
	FailedNames []string `json:"failed_names,omitempty"`
}

// Sink receives the engine's events in order. Emit is never called
// concurrently, and must not block for long: jobs wait on it.
type Sink interface {
	Emit(Event)
}

// SinkFunc adapts a function to a Sink.
type SinkFunc func(Event)

// Emit calls f.
func (f SinkFunc) Emit(e Event) { f(e) }

// ResourceLocker gives exclusive use of a resource_group. Lock blocks until
// the group is free or ctx ends, and returns the function that frees it.
// One locker shared by several runs (the server) keeps their jobs of one
// group apart too.
type ResourceLocker interface {
	Lock(ctx context.Context, group string) (unlock func(), err error)
}

// Clock is the engine's time: Now stamps events and measures durations,
// After waits for delayed jobs (start_in). Tests shorten waits with it.
// Both are called from several goroutines.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Options tune a run. The zero value runs nothing manual, NumCPU jobs at
// once, and emits no events.
type Options struct {
	// Concurrency is how many job attempts run at once; default
	// runtime.NumCPU().
	Concurrency int
	// Manual lists manual jobs to play, by instance or base name; AllManual
	// plays them all. A manual job not played ends with status manual.
	Manual    []string
	AllManual bool
	// Timeout caps every job's timeout (like a runner's maximum timeout);
	// 0 leaves each job's own (default 1h).
	Timeout time.Duration
	// Sink receives the events; nil discards them.
	Sink Sink
	// Secrets are masked in every job log, together with the values of the
	// variables marked secret. Masker, when set, is used instead of
	// mask.New(Secrets) as the base.
	Secrets []string
	Masker  *mask.Masker
	// PipelineVariables are the variables given for this pipeline (command
	// line, API, schedule). They are part of each plan job's Variables
	// already; the engine adds them again above dotenv variables, which
	// they override in GitLab's precedence.
	PipelineVariables []pipeline.Variable
	// ResourceLocker serialises resource_group jobs; default is private to
	// this run (see NewResourceLocker).
	ResourceLocker ResourceLocker
	// Clock defaults to real time.
	Clock Clock
	// IDs returns a new job ID for each attempt; default counts from 1.
	IDs func() int64
}

// DefaultJobTimeout is GitLab's project default.
const DefaultJobTimeout = time.Hour
