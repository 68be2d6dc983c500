package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/gantry-ci/gantry/internal/engine"
	"github.com/gantry-ci/gantry/internal/pipeline"
	"github.com/gantry-ci/gantry/internal/plan"
	"github.com/gantry-ci/gantry/internal/runnerapi"
	"github.com/gantry-ci/gantry/internal/secret"
	"github.com/gantry-ci/gantry/internal/store"
)

// queueWorker is the engine.Worker of the server: an attempt becomes a
// pending job row that a runner takes, and RunJob waits for the row to
// end. An attempt that already ended (a replay) returns its stored
// outcome at once.
type queueWorker struct {
	s    *Server
	run  *pipelineRun
	proj *store.Project
	pipe *store.Pipeline
}

// pollEvery bounds how late a change made by another server process is
// seen; changes made here wake waiters at once.
const pollEvery = time.Second

func (w *queueWorker) RunJob(ctx context.Context, run *engine.JobRun, _ io.Writer) (engine.Outcome, error) {
	bg := context.WithoutCancel(ctx)
	w.run.mu.Lock()
	idx := w.run.calls[run.Job.Name]
	w.run.calls[run.Job.Name]++
	w.run.mu.Unlock()

	rows, err := w.s.lineage(bg, w.pipe.ID, run.Job.Name)
	if err != nil {
		return engine.Outcome{ExitCode: -1}, err
	}
	var row *store.Job
	if idx < len(rows) {
		row = rows[idx]
	} else {
		row = &store.Job{
			PipelineID: w.pipe.ID, ProjectID: w.pipe.ProjectID, Name: run.Job.Name, Stage: run.Job.Stage,
			Attempt: run.Attempt, Status: store.StatusCreated, When: string(run.Job.When),
			AllowFailure: run.Job.AllowFailure.Allowed, CreatedAt: time.Now().UTC(),
		}
		if len(rows) > 0 {
			row.Attempt = rows[len(rows)-1].Attempt + 1
			row.Played = rows[len(rows)-1].Played
		}
		if run.Job.Def != nil {
			row.Tags = run.Job.Def.Tags
		}
		if err := w.s.store.AddJob(bg, row); err != nil {
			return engine.Outcome{ExitCode: -1}, fmt.Errorf("add attempt %d of %s: %w", run.Attempt, run.Job.Name, err)
		}
	}
	switch row.Status {
	case store.StatusSuccess, store.StatusFailed, store.StatusCanceled:
		return outcomeOf(row), nil
	case store.StatusPending, store.StatusRunning:
	default:
		if err := w.enqueue(bg, row, run); err != nil {
			return engine.Outcome{ExitCode: -1}, err
		}
	}
	return w.wait(ctx, row)
}

// enqueue makes row pending with everything a runner needs, sealed: the
// job's variables hold secrets.
func (w *queueWorker) enqueue(ctx context.Context, row *store.Job, run *engine.JobRun) error {
	s := w.s
	tok, err := secret.NewToken("job")
	if err != nil {
		return err
	}
	expires := time.Now().Add(run.Timeout + time.Hour)
	if err := s.store.CreateToken(ctx, &store.Token{
		Hash: secret.HashToken(tok), Kind: store.TokenJob, Name: "job " + itoa(row.ID),
		ProjectID: w.proj.ID, JobID: row.ID, ExpiresAt: expires,
	}); err != nil {
		return fmt.Errorf("create the job token of %s: %w", row.Name, err)
	}
	deps, err := w.dependencies(ctx, run.Dependencies)
	if err != nil {
		return err
	}
	spec := runnerapi.JobSpec{
		ID: row.ID, PipelineID: w.pipe.ID, ProjectID: w.proj.ID, Project: w.proj.Name, Attempt: row.Attempt,
		SHA: w.pipe.SHA, Ref: w.pipe.Ref, RepoURL: s.url + "/git/" + w.proj.Name + ".git", Token: tok,
		Job: runnerJob(run.Job), Env: w.jobEnv(run, row, tok), Dependencies: deps, Timeout: run.Timeout,
	}
	for _, v := range spec.Env {
		if v.Secret && v.Value != "" {
			spec.Secrets = append(spec.Secrets, v.Value)
		}
	}
	payload, err := s.sealPayload(row.ID, &spec)
	if err != nil {
		return err
	}
	row.Payload = payload
	row.Status = store.StatusPending
	row.QueuedAt = time.Now().UTC()
	if err := s.saveJob(ctx, row); err != nil {
		return err
	}
	s.wake.notify(topicQueue)
	return nil
}

// jobEnv is the engine's variables plus what ties the job to this server.
func (w *queueWorker) jobEnv(run *engine.JobRun, row *store.Job, tok string) []pipeline.Variable {
	s := w.s
	id := itoa(row.ID)
	extra := map[string]string{
		"CI_JOB_ID":       id,
		"CI_JOB_URL":      s.url + "/" + w.proj.Name + "/-/jobs/" + id,
		"CI_PIPELINE_URL": s.url + "/" + w.proj.Name + "/-/pipelines/" + itoa(w.pipe.ID),
		"CI_API_V1_URL":   s.url + "/api/v1",
		"CI_SERVER_URL":   s.url,
		"GANTRY_SERVER":   s.url,
		"CI_JOB_ATTEMPT":  strconv.Itoa(row.Attempt),
	}
	env := make([]pipeline.Variable, 0, len(run.Env)+len(extra)+1)
	for _, v := range run.Env {
		if _, ok := extra[v.Name]; ok || v.Name == "CI_JOB_TOKEN" {
			continue
		}
		env = append(env, v)
	}
	for _, name := range []string{"CI_JOB_ID", "CI_JOB_URL", "CI_PIPELINE_URL", "CI_API_V1_URL", "CI_SERVER_URL", "GANTRY_SERVER", "CI_JOB_ATTEMPT"} {
		env = append(env, pipeline.Variable{Name: name, Value: extra[name], Raw: true})
	}
	return append(env, pipeline.Variable{Name: "CI_JOB_TOKEN", Value: tok, Raw: true, Secret: true})
}

// dependencies finds the attempts whose artifacts a job receives: the
// last attempt of each named job.
func (w *queueWorker) dependencies(ctx context.Context, names []string) ([]runnerapi.Dependency, error) {
	if len(names) == 0 {
		return nil, nil
	}
	jobs, err := w.s.store.Jobs(ctx, w.pipe.ID)
	if err != nil {
		return nil, fmt.Errorf("read jobs of pipeline %d: %w", w.pipe.ID, err)
	}
	last := map[string]int64{}
	for _, j := range jobs {
		if j.Status == store.StatusSuccess || j.Status == store.StatusFailed {
			last[j.Name] = j.ID
		}
	}
	deps := make([]runnerapi.Dependency, 0, len(names))
	for _, n := range names {
		if id, ok := last[n]; ok {
			deps = append(deps, runnerapi.Dependency{Name: n, JobID: id})
		}
	}
	return deps, nil
}

// runnerJob is the planned job without what was already evaluated: rules
// and filters, and variables (they are in JobSpec.Env).
func runnerJob(j *plan.Job) *plan.Job {
	c := *j
	c.Variables = nil
	if j.Def != nil {
		d := *j.Def
		d.Rules, d.Only, d.Except, d.Extra, d.Variables, d.Keywords = nil, nil, nil, nil, nil, nil
		c.Def = &d
	}
	return &c
}

func payloadAAD(jobID int64) string { return "job/" + itoa(jobID) + "/payload" }

func (s *Server) sealPayload(jobID int64, spec *runnerapi.JobSpec) (json.RawMessage, error) {
	raw, err := json.Marshal(spec)
	if err != nil {
		return nil, fmt.Errorf("encode job %d: %w", jobID, err)
	}
	sealed, err := s.box.Seal(raw, payloadAAD(jobID))
	if err != nil {
		return nil, fmt.Errorf("encrypt job %d: %w", jobID, err)
	}
	return json.Marshal(sealed)
}

func (s *Server) openPayload(j *store.Job) (*runnerapi.JobSpec, error) {
	var sealed string
	if err := json.Unmarshal(j.Payload, &sealed); err != nil {
		return nil, fmt.Errorf("read job %d: %w", j.ID, err)
	}
	raw, err := s.box.Open(sealed, payloadAAD(j.ID))
	if err != nil {
		return nil, fmt.Errorf("decrypt job %d: %w", j.ID, err)
	}
	var spec runnerapi.JobSpec
	if err := json.Unmarshal(raw, &spec); err != nil {
		return nil, fmt.Errorf("decode job %d: %w", j.ID, err)
	}
	return &spec, nil
}

// wait follows row (and the attempts that replace it when a runner is
// lost) until it ends. A pipeline cancel cancels it; a job timeout fails
// it if no runner took it, and otherwise leaves it to the runner, which
// enforces the timeout from the moment it started.
func (w *queueWorker) wait(ctx context.Context, row *store.Job) (engine.Outcome, error) {
	s := w.s
	bg := context.WithoutCancel(ctx)
	done := ctx.Done()
	for {
		woken := s.wake.wait(topicJob(row.ID))
		j, err := s.store.Job(bg, row.ID)
		if err != nil {
			return engine.Outcome{ExitCode: -1}, fmt.Errorf("read job %d: %w", row.ID, err)
		}
		if j.Retried && j.Reason == reasonRequeued {
			next, err := s.successor(bg, j)
			if err != nil {
				return engine.Outcome{ExitCode: -1}, err
			}
			row = next
			continue
		}
		switch j.Status {
		case store.StatusSuccess, store.StatusFailed, store.StatusCanceled:
			return outcomeOf(j), nil
		}
		select {
		case <-woken:
		case <-time.After(pollEvery):
			if p, err := s.store.Pipeline(bg, w.pipe.ID); err == nil && p.Status == store.StatusCanceled {
				w.run.cancel(errPipelineCanceled)
			}
		case <-done:
			cause := context.Cause(ctx)
			switch {
			case errors.Is(cause, errPipelineCanceled):
				if err := s.cancelJob(bg, j); err != nil {
					s.log.Error("cancel job", "job", j.ID, "err", err)
				}
			case errors.Is(cause, engine.ErrJobTimeout):
				if j.Status == store.StatusPending {
					s.failJob(bg, j, engine.FailureStuck, "no runner took the job within its timeout")
				}
			default: // shutdown, replay, lost ownership: the row stays as it is
				return engine.Outcome{ExitCode: -1}, cause
			}
			done = nil // from now on wait for the runner's answer
		}
	}
}

// successor is the attempt that replaced a requeued one.
func (s *Server) successor(ctx context.Context, j *store.Job) (*store.Job, error) {
	jobs, err := s.store.Jobs(ctx, j.PipelineID)
	if err != nil {
		return nil, err
	}
	for _, o := range jobs {
		if o.ID > j.ID && o.Name == j.Name {
			return o, nil
		}
	}
	return nil, fmt.Errorf("job %d was requeued but has no successor", j.ID)
}

// cancelJob cancels a pending job at once and asks the runner of a
// running one to stop (it sees that on its next lease renewal).
func (s *Server) cancelJob(ctx context.Context, j *store.Job) error {
	switch j.Status {
	case store.StatusPending, store.StatusCreated, store.StatusManual:
		j.Status = store.StatusCanceled
		j.FinishedAt = time.Now().UTC()
		return s.saveJob(ctx, j)
	case store.StatusRunning:
		if j.CancelRequested {
			return nil
		}
		j.CancelRequested = true
		return s.saveJob(ctx, j)
	}
	return nil
}

// failJob ends a job that no runner will report on.
func (s *Server) failJob(ctx context.Context, j *store.Job, reason, why string) {
	res, _ := json.Marshal(runnerapi.Result{Status: store.StatusFailed, ExitCode: -1, Failure: reason, Error: why})
	j.Status, j.ExitCode, j.FailureReason, j.Result = store.StatusFailed, -1, reason, res
	j.Reason = why
	j.FinishedAt = time.Now().UTC()
	j.RunnerID, j.LeaseUntil = 0, time.Time{}
	if err := s.saveJob(ctx, j); err != nil {
		s.log.Error("fail job", "job", j.ID, "err", err)
	}
	s.appendLog(ctx, j, "\nERROR: Job failed ("+reason+"): "+why+"\n")
	s.met.jobFinished(j)
}
