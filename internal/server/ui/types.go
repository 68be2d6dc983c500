package ui

import (
	"context"
	"io"
	"net/http"
	"time"

	"github.com/gantry-ci/gantry/internal/store"
)

// User is who signed in: a person's API token (admin or user).
type User struct {
	Name  string
	Admin bool
	// TokenHash identifies the token; the session keeps it so that
	// deleting the token ends every session made with it.
	TokenHash string
}

// Store is what the pages read from the server's store. store.Store has
// all of it.
type Store interface {
	Project(ctx context.Context, name string) (*store.Project, error)
	ListProjects(ctx context.Context) ([]*store.Project, error)
	Variables(ctx context.Context, projectID int64) ([]*store.Variable, error)
	Pipeline(ctx context.Context, id int64) (*store.Pipeline, error)
	ListPipelines(ctx context.Context, f store.PipelineFilter) ([]*store.Pipeline, error)
	CountPipelines(ctx context.Context, f store.PipelineFilter) (int, error)
	Job(ctx context.Context, id int64) (*store.Job, error)
	Jobs(ctx context.Context, pipelineID int64) ([]*store.Job, error)
	Schedules(ctx context.Context, projectID int64) ([]*store.Schedule, error)
	EventsAfter(ctx context.Context, after int64, f store.EventFilter, limit int) ([]*store.Event, error)
}

// Sessions turns what a browser presents into a User. Seal and Open keep
// the session cookie opaque and tamper-proof with the server's key, so a
// session needs no server-side state and survives a restart.
type Sessions interface {
	// SignIn checks an API token typed on the login page.
	SignIn(ctx context.Context, token string) (*User, error)
	// UserByTokenHash finds the still valid admin or user token a session
	// was made with.
	UserByTokenHash(ctx context.Context, hash string) (*User, error)
	Seal(plain []byte, aad string) (string, error)
	Open(sealed, aad string) ([]byte, error)
}

// Streams answers the live and binary parts of the pages the way the API
// does, for a signed-in user: the API itself only takes bearer tokens,
// which EventSource cannot send.
type Streams interface {
	// ServeEvents is GET /api/v1/events (query ?project=, ?pipeline=,
	// ?job=, ?after= as there).
	ServeEvents(w http.ResponseWriter, r *http.Request, u *User)
	// ServeLogStream is GET /api/v1/jobs/{id}/log/stream.
	ServeLogStream(w http.ResponseWriter, r *http.Request, u *User, jobID int64)
	// ServeArtifacts is GET /api/v1/jobs/{id}/artifacts (?file=, ?list).
	ServeArtifacts(w http.ResponseWriter, r *http.Request, u *User, jobID int64)
	// JobLog opens a job's log; size is its length in bytes. A job
	// without a log yet gives an empty reader.
	JobLog(ctx context.Context, jobID int64) (rc io.ReadCloser, size int64, err error)
	// Artifacts lists a job's artifact files.
	Artifacts(ctx context.Context, jobID int64) ([]ArtifactEntry, error)
}

// Actions change pipelines and jobs, as the API's POST endpoints do; by
// names the user for PlayedBy and the trigger.
type Actions interface {
	RunPipeline(ctx context.Context, proj *store.Project, ref string, vars map[string]string, by string) (*store.Pipeline, error)
	CancelPipeline(ctx context.Context, pipe *store.Pipeline, by string) error
	RetryPipeline(ctx context.Context, pipe *store.Pipeline, by string) error
	PlayJob(ctx context.Context, j *store.Job, by string) (*store.Job, error)
	RetryJob(ctx context.Context, j *store.Job, by string) (*store.Job, error)
	CancelJob(ctx context.Context, j *store.Job) error
}

// Plans tells what the stored rows do not hold: the needs and
// environments of a pipeline's jobs, from its plan.
type Plans interface {
	PipelineGraph(ctx context.Context, proj *store.Project, pipe *store.Pipeline) (*Graph, error)
}

// Settings reads and changes a project's settings; values are sealed by
// the server, so only it can show or store them.
type Settings interface {
	WebhookSecret(proj *store.Project) (string, error)
	// WebhookURLs maps a forge (github, gitlab, gitea) to its hook URL.
	WebhookURLs(proj *store.Project) map[string]string
	// VariableValue opens an unmasked variable's value.
	VariableValue(proj *store.Project, v *store.Variable) (string, error)
	SetVariable(ctx context.Context, proj *store.Project, v VariableInput) error
	DeleteVariable(ctx context.Context, proj *store.Project, key string) error
	CreateSchedule(ctx context.Context, proj *store.Project, in ScheduleInput) error
	DeleteSchedule(ctx context.Context, proj *store.Project, id int64) error
	// Runners lists the registered runners with the jobs they run now.
	Runners(ctx context.Context) ([]RunnerView, error)
}

// Deployments is the slot of the delivery controller: the rollout an
// environment is going through and its rollback. Until that controller
// exists, Rollout returns nil and Rollback an error saying so.
type Deployments interface {
	Rollout(ctx context.Context, project, env string) (*RolloutView, error)
	Rollback(ctx context.Context, project, env, by string) error
}

// Backend is everything the UI needs from the server.
type Backend interface {
	Sessions
	Streams
	Actions
	Plans
	Settings
	Deployments
}

// Graph is what a pipeline's plan says about its jobs.
type Graph struct {
	Stages []string
	// Jobs by instance name ("test 1/3").
	Jobs map[string]GraphJob
}

// GraphJob is one job of a plan.
type GraphJob struct {
	// Needs is nil when the job waits for the earlier stages.
	Needs       []string
	Environment *Environment
}

// Environment is a job's `environment:`, expanded.
type Environment struct {
	Name   string
	Tier   string // production, staging, testing, development, other
	URL    string
	Action string // start, prepare, stop, verify, access
}

// RolloutView is a rollout in progress, as the delivery controller shows
// it.
type RolloutView struct {
	Strategy  string // rolling, blue-green, canary
	Phase     string // progressing, paused, analysing, aborted...
	Step      string // "3/5: 40% of traffic"
	Weight    int    // percent of traffic on the new revision
	Revision  string
	Message   string
	StartedAt time.Time
	// CanRollback shows the rollback button.
	CanRollback bool
}

// RunnerView is one runner on the runners page.
type RunnerView struct {
	ID          int64
	Name        string
	Tags        []string
	RunUntagged bool
	Concurrency int
	Online      bool
	LastSeen    time.Time
	Jobs        []*store.Job // what it runs now
}

// ArtifactEntry is one file of a job's artifacts.
type ArtifactEntry struct {
	Path   string
	Size   int64
	Dir    bool
	Target string // symlinks
}

// VariableInput is the variable form.
type VariableInput struct {
	Key       string
	Value     string
	Masked    bool
	Protected bool
	File      bool
}

// ScheduleInput is the schedule form.
type ScheduleInput struct {
	Description string
	Cron        string
	Ref         string
	Active      bool
}
