// Package store is the server's durable state: projects and their
// variables, pipelines, jobs and the queue runners take them from,
// runners, API tokens, schedules and the event log that live views
// resume from. Two implementations (store/sqlite, store/postgres) pass the
// same suite (store/storetest); large data — logs, artifacts, caches —
// lives in a blob store beside it, and the store keeps only their sizes.
//
// Every method is safe for concurrent use, also by several server
// processes sharing one PostgreSQL database: the queue hands a job to one
// runner only, and a pipeline is coordinated by one server at a time
// (ClaimPipelines).
package store

import (
	"context"
	"encoding/json"
	"errors"
	"time"
)

// Errors every implementation returns (wrapped) so callers can answer
// 404 and 409 without knowing the database.
var (
	ErrNotFound = errors.New("not found")
	ErrConflict = errors.New("already exists")
	// ErrLeaseLost: the job is no longer held by this runner (its lease
	// expired and it was given away, or it finished).
	ErrLeaseLost = errors.New("job lease lost")
)

// Store is everything the server keeps. Callers take the smaller
// interfaces they need.
type Store interface {
	Projects
	Pipelines
	Queue
	Runners
	Tokens
	Schedules
	Events
	Records
	Close() error
}

// Projects keeps projects and their variables.
type Projects interface {
	CreateProject(ctx context.Context, p *Project) error // sets p.ID, p.CreatedAt
	UpdateProject(ctx context.Context, p *Project) error
	Project(ctx context.Context, name string) (*Project, error)
	ProjectByID(ctx context.Context, id int64) (*Project, error)
	ListProjects(ctx context.Context) ([]*Project, error)
	DeleteProject(ctx context.Context, id int64) error

	// SetVariable creates or replaces the variable of that key.
	SetVariable(ctx context.Context, v *Variable) error
	Variables(ctx context.Context, projectID int64) ([]*Variable, error)
	DeleteVariable(ctx context.Context, projectID int64, key string) error
}

// Pipelines keeps pipelines and their jobs.
type Pipelines interface {
	// CreatePipeline stores p with its jobs (p.ID and every job's ID and
	// PipelineID are set). A pipeline whose DeliveryID the project already
	// has returns ErrConflict and the existing pipeline's ID in p.ID, so
	// that a redelivered webhook creates nothing.
	CreatePipeline(ctx context.Context, p *Pipeline, jobs []*Job) error
	Pipeline(ctx context.Context, id int64) (*Pipeline, error)
	// ListPipelines returns the newest first.
	ListPipelines(ctx context.Context, f PipelineFilter) ([]*Pipeline, error)
	CountPipelines(ctx context.Context, f PipelineFilter) (int, error)
	// UpdatePipeline writes Status, StartedAt, FinishedAt, Error.
	UpdatePipeline(ctx context.Context, p *Pipeline) error

	// AddJob stores a new job of an existing pipeline (a retry attempt).
	AddJob(ctx context.Context, j *Job) error
	Job(ctx context.Context, id int64) (*Job, error)
	// Jobs returns a pipeline's jobs in ID order, retried ones included.
	Jobs(ctx context.Context, pipelineID int64) ([]*Job, error)
	// UpdateJob writes every mutable field of j (status, times, outcome,
	// runner, lease, log size, flags). It is for the coordinator; runners
	// go through the Queue methods, which check their lease.
	UpdateJob(ctx context.Context, j *Job) error

	// ClaimPipelines gives this server (owner) the coordination of up to
	// limit unfinished pipelines nobody holds or whose holder's lease ran
	// out, leased until lease, and renews the ones it holds already.
	ClaimPipelines(ctx context.Context, owner string, lease time.Time, limit int) ([]int64, error)
	// ReleasePipeline gives up the coordination of a pipeline.
	ReleasePipeline(ctx context.Context, owner string, pipelineID int64) error
}

// Queue hands runnable jobs to runners and tracks them while they run.
type Queue interface {
	// ClaimJob gives the oldest pending job that the runner may run (its
	// tags are a subset of the runner's; an untagged job goes to runners
	// with RunUntagged) to that runner, status running, leased until
	// lease. It returns (nil, nil) when there is none. Two concurrent
	// claims never get the same job.
	ClaimJob(ctx context.Context, r *Runner, lease time.Time) (*Job, error)
	// RenewLease extends a running job's lease for its runner and reports
	// whether someone asked to cancel it. ErrLeaseLost when the runner no
	// longer holds the job.
	RenewLease(ctx context.Context, jobID, runnerID int64, lease time.Time) (cancel bool, err error)
	// FinishJob records how a runner's job ended; ErrLeaseLost when the
	// runner no longer holds it (its result is then ignored).
	FinishJob(ctx context.Context, jobID, runnerID int64, r Result) error
	// AddLogSize records that n more bytes of the job's log are stored.
	AddLogSize(ctx context.Context, jobID int64, n int64) (int64, error)
	// ExpiredLeases lists running jobs whose lease ended before now.
	ExpiredLeases(ctx context.Context, now time.Time) ([]*Job, error)
	// QueueStats counts pending jobs and the age of the oldest.
	QueueStats(ctx context.Context, now time.Time) (pending int, oldest time.Duration, err error)
}

// Runners keeps registered runners.
type Runners interface {
	CreateRunner(ctx context.Context, r *Runner) error
	RunnerByTokenHash(ctx context.Context, hash string) (*Runner, error)
	ListRunners(ctx context.Context) ([]*Runner, error)
	// TouchRunner records that the runner was seen at t.
	TouchRunner(ctx context.Context, id int64, t time.Time) error
	DeleteRunner(ctx context.Context, id int64) error
}

// Tokens keeps API tokens by their hash; the token itself is never
// stored.
type Tokens interface {
	CreateToken(ctx context.Context, t *Token) error
	TokenByHash(ctx context.Context, hash string) (*Token, error)
	ListTokens(ctx context.Context) ([]*Token, error)
	DeleteToken(ctx context.Context, id int64) error
	// DeleteExpiredTokens removes tokens whose ExpiresAt is before now
	// (job tokens).
	DeleteExpiredTokens(ctx context.Context, now time.Time) (int, error)
}

// Schedules keeps cron schedules.
type Schedules interface {
	CreateSchedule(ctx context.Context, s *Schedule) error
	UpdateSchedule(ctx context.Context, s *Schedule) error
	Schedules(ctx context.Context, projectID int64) ([]*Schedule, error) // 0: all projects
	DeleteSchedule(ctx context.Context, id int64) error
	// ClaimDueSchedule atomically moves one active schedule whose NextRun
	// is before now to next and returns it; (nil, nil) when none is due.
	// Several servers never both run one occurrence.
	ClaimDueSchedule(ctx context.Context, now time.Time, next func(*Schedule) time.Time) (*Schedule, error)
}

// Events is the append-only log of what happened, which live views
// (Server-Sent Events) read from an offset so a reconnect misses nothing.
type Events interface {
	// AppendEvent stores e and sets e.ID, which increases monotonically.
	AppendEvent(ctx context.Context, e *Event) error
	// EventsAfter returns up to limit events with ID > after that match f,
	// oldest first.
	EventsAfter(ctx context.Context, after int64, f EventFilter, limit int) ([]*Event, error)
}

// Records keeps small JSON documents by kind and key, with a version for
// optimistic concurrency: the rollout controller's state machines,
// revisions and deployments live here, so that a new kind of state needs
// no migration of its own.
type Records interface {
	// GetRecord returns the record, or ErrNotFound.
	GetRecord(ctx context.Context, kind, key string) (*Record, error)
	// PutRecord writes r if the stored version is r.Version (0: the
	// record must not exist yet) and sets r.Version to the new version;
	// otherwise it returns ErrConflict and writes nothing.
	PutRecord(ctx context.Context, r *Record) error
	// ListRecords returns the records of kind whose key starts with
	// prefix, ordered by key.
	ListRecords(ctx context.Context, kind, prefix string) ([]*Record, error)
	DeleteRecord(ctx context.Context, kind, key string) error
}

// Record is one document of Records.
type Record struct {
	Kind      string
	Key       string
	Version   int64
	Data      json.RawMessage
	UpdatedAt time.Time
}
