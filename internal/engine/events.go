package engine

import (
	"time"

	"github.com/gantry-ci/gantry/internal/pipeline"
)

// Status is a job's or pipeline's state, with GitLab's names.
type Status string

// Job and pipeline statuses. A pipeline ends success, failed, canceled or
// blocked; a job ends success, failed, skipped, canceled or manual.
const (
	StatusCreated   Status = "created"
	StatusPending   Status = "pending"   // waiting for a free slot
	StatusScheduled Status = "scheduled" // a delayed job waiting for start_in
	StatusRunning   Status = "running"
	StatusSuccess   Status = "success"
	StatusFailed    Status = "failed"
	StatusSkipped   Status = "skipped"
	StatusCanceled  Status = "canceled"
	StatusManual    Status = "manual"  // a manual job nobody played
	StatusBlocked   Status = "blocked" // pipeline: waits for a manual job
)

// Event type names, the "type" of each event in JSON.
const (
	TypePipelineStarted  = "pipeline_started"
	TypeJobQueued        = "job_queued"
	TypeJobScheduled     = "job_scheduled"
	TypeJobStarted       = "job_started"
	TypeJobLog           = "job_log"
	TypeJobFinished      = "job_finished"
	TypePipelineFinished = "pipeline_finished"
)

// Event is one of the event structs below. Every event marshals to JSON
// with "type" and "status", and "job" where it concerns one job.
type Event interface {
	EventType() string
}

// JobInfo describes a job of the pipeline as it starts.
type JobInfo struct {
	Name  string        `json:"name"`
	Stage string        `json:"stage"`
	When  pipeline.When `json:"when"`
	// Needs is nil for jobs that wait for earlier stages.
	Needs []string `json:"needs"`
}

// PipelineStarted opens the stream and lists every job.
type PipelineStarted struct {
	Type   string    `json:"type"`
	Status Status    `json:"status"`
	Name   string    `json:"name,omitempty"`
	Stages []string  `json:"stages"`
	Jobs   []JobInfo `json:"jobs"`
	Time   time.Time `json:"time"`
}

// JobScheduled says a delayed job waits StartIn before it is queued.
type JobScheduled struct {
	Type    string        `json:"type"`
	Job     string        `json:"job"`
	Status  Status        `json:"status"`
	StartIn time.Duration `json:"start_in_ns"`
	Time    time.Time     `json:"time"`
}

// JobQueued says an attempt may start and waits for a free slot (and its
// resource_group).
type JobQueued struct {
	Type    string    `json:"type"`
	Job     string    `json:"job"`
	Status  Status    `json:"status"`
	Attempt int       `json:"attempt"`
	Time    time.Time `json:"time"`
}

// JobStarted says an attempt was handed to the Worker.
type JobStarted struct {
	Type    string        `json:"type"`
	Job     string        `json:"job"`
	Status  Status        `json:"status"`
	ID      int64         `json:"id"`
	Attempt int           `json:"attempt"`
	Timeout time.Duration `json:"timeout_ns"`
	Time    time.Time     `json:"time"`
}

// JobLog carries a piece of a job's log, already masked. Pieces follow
// the job's output order but are not aligned on lines.
type JobLog struct {
	Type    string    `json:"type"`
	Job     string    `json:"job"`
	Status  Status    `json:"status"`
	ID      int64     `json:"id"`
	Attempt int       `json:"attempt"`
	Chunk   string    `json:"chunk"`
	Time    time.Time `json:"time"`
}

// JobFinished closes an attempt, or settles a job that did not run
// (skipped, manual, canceled; ID and Attempt are then 0). WillRetry marks
// an attempt that is followed by another; every job gets exactly one
// JobFinished without it.
type JobFinished struct {
	Type           string        `json:"type"`
	Job            string        `json:"job"`
	Status         Status        `json:"status"`
	ID             int64         `json:"id,omitempty"`
	Attempt        int           `json:"attempt"`
	ExitCode       int           `json:"exit_code"`
	Failure        string        `json:"failure_reason,omitempty"`
	Reason         string        `json:"reason,omitempty"`
	AllowedFailure bool          `json:"allowed_failure,omitempty"`
	WillRetry      bool          `json:"will_retry,omitempty"`
	Duration       time.Duration `json:"duration_ns"`
	Coverage       *float64      `json:"coverage,omitempty"`
	Tests          *TestCounts   `json:"tests,omitempty"`
	Time           time.Time     `json:"time"`
}

// PipelineFinished closes the stream.
type PipelineFinished struct {
	Type     string        `json:"type"`
	Status   Status        `json:"status"`
	Duration time.Duration `json:"duration_ns"`
	Time     time.Time     `json:"time"`
}

// EventType returns "pipeline_started".
func (PipelineStarted) EventType() string { return TypePipelineStarted }

// EventType returns "job_scheduled".
func (JobScheduled) EventType() string { return TypeJobScheduled }

// EventType returns "job_queued".
func (JobQueued) EventType() string { return TypeJobQueued }

// EventType returns "job_started".
func (JobStarted) EventType() string { return TypeJobStarted }

// EventType returns "job_log".
func (JobLog) EventType() string { return TypeJobLog }

// EventType returns "job_finished".
func (JobFinished) EventType() string { return TypeJobFinished }

// EventType returns "pipeline_finished".
func (PipelineFinished) EventType() string { return TypePipelineFinished }
