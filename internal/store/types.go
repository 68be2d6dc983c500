package store

import (
	"encoding/json"
	"time"
)

// Project is a git repository the server builds.
type Project struct {
	ID            int64
	Name          string
	RepoURL       string // what the system git fetches: a path, file://, http(s)://, ssh://
	DefaultBranch string
	// WebhookSecret is sealed (secret.Box) with AAD "project/<name>/webhook".
	WebhookSecret string
	Public        bool          // reads without a token
	PollInterval  time.Duration // 0: no polling
	CreatedAt     time.Time
}

// Variable is a project CI/CD variable. Value is always sealed
// (secret.Box, AAD "project/<id>/variable/<key>"), masked or not.
type Variable struct {
	ProjectID int64
	Key       string
	Value     string
	Masked    bool
	Protected bool // only for pipelines of protected refs (the default branch and tags)
	File      bool // written to a file whose path is the variable's value
}

// Pipeline statuses are GitLab's; see engine.Status.
const (
	StatusCreated  = "created"
	StatusPending  = "pending"
	StatusRunning  = "running"
	StatusSuccess  = "success"
	StatusFailed   = "failed"
	StatusCanceled = "canceled"
	StatusSkipped  = "skipped"
	StatusManual   = "manual"
	StatusBlocked  = "blocked"
)

// Finished says whether a job or pipeline status is final. A manual or
// blocked pipeline is not: playing a manual job continues it.
func Finished(status string) bool {
	switch status {
	case StatusSuccess, StatusFailed, StatusCanceled, StatusSkipped:
		return true
	}
	return false
}

// Pipeline is one run of a project's pipeline for a commit.
type Pipeline struct {
	ID        int64
	ProjectID int64
	Ref       string // branch or tag name
	Tag       bool
	SHA       string
	BeforeSHA string
	Source    string // CI_PIPELINE_SOURCE: push, web, api, schedule, merge_request_event, trigger
	Status    string
	// Message and Author are the commit's, for lists and [skip ci].
	Message string
	Author  string
	// DeliveryID is the forge's delivery (unique per project when set).
	DeliveryID string
	// Variables are the pipeline's own (API, schedule, CLI), JSON-encoded
	// []pipeline.Variable; secret values are sealed.
	Variables json.RawMessage
	// Trigger describes what created it (user, webhook, schedule ID, MR),
	// JSON for the API and UI.
	Trigger json.RawMessage
	// Error is why the pipeline could not be planned (with positions).
	Error      string
	CreatedAt  time.Time
	StartedAt  time.Time
	FinishedAt time.Time
}

// PipelineFilter selects pipelines; zero fields match all.
type PipelineFilter struct {
	ProjectID int64
	Ref       string
	Status    string
	Limit     int // 0: 50
	// BeforeID pages backwards: only pipelines with a smaller ID.
	BeforeID int64
}

// Job is one attempt of one job of a pipeline (a retry is a new Job, as
// in GitLab; the attempt it replaces is marked Retried).
type Job struct {
	ID           int64
	PipelineID   int64
	ProjectID    int64
	Name         string // instance name: "test 1/3"
	Stage        string
	Attempt      int
	Status       string
	When         string
	AllowFailure bool
	Tags         []string
	Retried      bool
	// Played marks a manual job a user started; PlayedBy names them.
	Played   bool
	PlayedBy string
	// CancelRequested travels to the runner with its next lease renewal.
	CancelRequested bool

	RunnerID     int64
	LeaseUntil   time.Time
	RunnerLosses int // leases lost so far; the coordinator requeues once

	// Payload is what the runner needs to run the job (runner.JobSpec),
	// JSON; written when the job becomes pending.
	Payload json.RawMessage
	// Result is how it ended, JSON (runner.Result), with the fields below
	// copied out for lists.
	Result        json.RawMessage
	ExitCode      int
	FailureReason string
	Reason        string // why it did not run (skipped, blocked)
	Coverage      *float64

	LogSize           int64
	ArtifactsSize     int64
	ArtifactsExpireAt time.Time

	CreatedAt  time.Time
	QueuedAt   time.Time
	StartedAt  time.Time
	FinishedAt time.Time
}

// Result is what a runner reports at the end of a job.
type Result struct {
	Status        string // success, failed, canceled
	ExitCode      int
	FailureReason string
	Coverage      *float64
	// Detail is the full result JSON stored in Job.Result.
	Detail json.RawMessage
	// ArtifactsSize and ArtifactsExpireAt describe uploaded artifacts.
	ArtifactsSize     int64
	ArtifactsExpireAt time.Time
	FinishedAt        time.Time
}

// Runner is a registered runner (the built-in one included).
type Runner struct {
	ID          int64
	Name        string
	TokenHash   string
	Tags        []string
	RunUntagged bool
	Concurrency int
	LastSeen    time.Time
	CreatedAt   time.Time
}

// Token kinds.
const (
	TokenAdmin = "admin"
	TokenUser  = "user"
	// TokenRunnerRegistration lets `gantry runner` register itself.
	TokenRunnerRegistration = "runner-registration"
	// TokenJob is a job's CI_JOB_TOKEN: its own project only, until the
	// job ends.
	TokenJob = "job"
)

// Token is an API credential, stored as the SHA-256 of its value.
type Token struct {
	ID        int64
	Hash      string
	Kind      string
	Name      string // who: the user's name, or "job 42"
	ProjectID int64  // job tokens: their project
	JobID     int64  // job tokens: their job
	CreatedAt time.Time
	ExpiresAt time.Time // zero: never
}

// Schedule is a cron schedule of a project.
type Schedule struct {
	ID          int64
	ProjectID   int64
	Description string
	Cron        string // robfig/cron syntax, with an optional CRON_TZ=
	Ref         string
	Variables   json.RawMessage // []pipeline.Variable
	Active      bool
	NextRun     time.Time
	LastRun     time.Time
	CreatedAt   time.Time
}

// Event is one entry of the event log. Data is the JSON the live views
// send as is.
type Event struct {
	ID         int64
	ProjectID  int64
	PipelineID int64 // 0 for project-level events (deployments, settings)
	JobID      int64
	Type       string
	Data       json.RawMessage
	CreatedAt  time.Time
}

// EventFilter selects events; zero fields match all.
type EventFilter struct {
	ProjectID  int64
	PipelineID int64
	JobID      int64
}
