// Package runnerapi is the wire contract between the server and its
// runners (the built-in one speaks it over loopback too, so there is one
// path to test). Runners authenticate with "Authorization: Bearer
// <runner token>" on every call; errors come back as JSON Error bodies.
//
//	POST /api/v1/runner/jobs/request?wait=30s  → 200 JobSpec | 204 (nothing within wait)
//	PUT  /api/v1/runner/jobs/{id}/lease         → 200 Lease | 409 (lease lost: stop the job)
//	PATCH /api/v1/runner/jobs/{id}/log?offset=N → 202 LogAck | 409 | 416 LogAck (offset is not
//	      the stored size: resend from LogAck.Size). Body: the next bytes of the (masked) log.
//	PUT  /api/v1/runner/jobs/{id}/artifacts/{file} → 201 (file: archive, index or meta of the
//	      artifact folder, see internal/artifact); the job's own artifacts
//	GET  /api/v1/runner/jobs/{id}/artifacts/{job id}/{file} → a dependency's artifact file, 404 if none
//	GET  /api/v1/runner/jobs/{id}/caches/{key} → 200 archive | 404;
//	PUT  /api/v1/runner/jobs/{id}/caches/{key} → 201 (the project's cache archive of that key)
//	POST /api/v1/runner/jobs/{id}/finish        → 200 | 409. Body: Result.
//
// The job's source is fetched with git from JobSpec.RepoURL (the server's
// smart-HTTP mirror, /git/{project}.git) with the job token as password.
package runnerapi

import (
	"time"

	"github.com/gantry-ci/gantry/internal/engine"
	"github.com/gantry-ci/gantry/internal/pipeline"
	"github.com/gantry-ci/gantry/internal/plan"
)

// LeaseDuration is how long a runner holds a job without renewing; a
// runner renews every LeaseDuration/3.
const LeaseDuration = 15 * time.Second

// JobSpec is everything a runner needs to run one attempt of one job.
type JobSpec struct {
	ID         int64  `json:"id"`
	PipelineID int64  `json:"pipeline_id"`
	ProjectID  int64  `json:"project_id"`
	Project    string `json:"project"`
	Attempt    int    `json:"attempt"`
	// SHA is the commit to check out, fetched from RepoURL with Token as
	// the password of user "gantry-ci-token".
	SHA     string `json:"sha"`
	Ref     string `json:"ref"`
	RepoURL string `json:"repo_url"`
	// Token is the job's CI_JOB_TOKEN, also the credential of the job
	// endpoints above besides the runner token; it ends with the job.
	Token string `json:"token"`
	// Job is the planned job; Job.Def holds scripts, cache, artifacts,
	// coverage (rules and filters are stripped: they were evaluated).
	Job *plan.Job `json:"job"`
	// Env is the job's final variables, resolved and expanded by the
	// server's engine (predefined, project, pipeline, dotenv of its
	// dependencies, CI_JOB_TOKEN, CI_SERVER_URL...).
	Env []pipeline.Variable `json:"env"`
	// Dependencies are the jobs whose artifacts this job receives.
	Dependencies []Dependency `json:"dependencies"`
	// Secrets are values to mask in the log, on top of Env's masked ones.
	Secrets []string      `json:"secrets,omitempty"`
	Timeout time.Duration `json:"timeout_ns"`
}

// Dependency names a job whose artifacts a job receives.
type Dependency struct {
	Name  string `json:"name"`
	JobID int64  `json:"job_id"`
}

// Lease answers a lease renewal.
type Lease struct {
	Until  time.Time `json:"until"`
	Cancel bool      `json:"cancel"` // stop the job: it was cancelled
}

// LogAck says how many bytes of the log the server holds.
type LogAck struct {
	Size int64 `json:"size"`
}

// Result is how a job ended on the runner.
type Result struct {
	Status   string `json:"status"` // success, failed, canceled
	ExitCode int    `json:"exit_code"`
	// Failure is one of engine.Failure*, "" on success.
	Failure  string              `json:"failure_reason,omitempty"`
	Dotenv   []pipeline.Variable `json:"dotenv,omitempty"`
	Coverage *float64            `json:"coverage,omitempty"`
	Tests    *engine.TestCounts  `json:"tests,omitempty"`
	Error    string              `json:"error,omitempty"` // the runner could not carry the job out
	// Artifacts describe what was uploaded, if anything.
	ArtifactsSize     int64     `json:"artifacts_size,omitempty"`
	ArtifactsExpireAt time.Time `json:"artifacts_expire_at,omitzero"`
}

// Outcome converts a Result to what the engine expects.
func (r Result) Outcome() engine.Outcome {
	return engine.Outcome{ExitCode: r.ExitCode, Failure: r.Failure, Dotenv: r.Dotenv, Coverage: r.Coverage, Tests: r.Tests}
}

// Error is the body of every error answer of the API.
type Error struct {
	Error string `json:"error"`
}
