package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/gantry-ci/gantry/internal/blob"
	"github.com/gantry-ci/gantry/internal/pipeline"
	"github.com/gantry-ci/gantry/internal/plan"
	"github.com/gantry-ci/gantry/internal/runnerapi"
	"github.com/gantry-ci/gantry/internal/secret"
	"github.com/gantry-ci/gantry/internal/store"
)

// cronParser reads standard five-field cron lines and descriptors
// (@daily), with an optional CRON_TZ= prefix.
var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// triggers runs what starts pipelines without a request: cron schedules
// and polling of remotes that cannot send webhooks.
func (s *Server) triggers(ctx context.Context) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	lastPoll := map[int64]time.Time{}
	var lastGC time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		s.runDueSchedules(ctx)
		s.poll(ctx, lastPoll)
		if time.Since(lastGC) >= s.cfg.GCInterval {
			lastGC = time.Now()
			s.expireArtifacts(ctx)
		}
	}
}

// expireArtifacts deletes the artifacts of jobs whose expire_in has
// passed, as GitLab does; the job keeps its log and its record.
func (s *Server) expireArtifacts(ctx context.Context) {
	expired := map[int64]bool{}
	now := time.Now()
	n, err := blob.GC(ctx, s.blobs, "artifacts/", func(info blob.Info) bool {
		idText, _, _ := strings.Cut(strings.TrimPrefix(info.Key, "artifacts/"), "/")
		id, err := strconv.ParseInt(idText, 10, 64)
		if err != nil {
			return false
		}
		if done, ok := expired[id]; ok {
			return done
		}
		j, err := s.store.Job(ctx, id)
		expired[id] = err == nil && !j.ArtifactsExpireAt.IsZero() && now.After(j.ArtifactsExpireAt)
		return expired[id]
	})
	if err != nil {
		s.log.Warn("expire artifacts", "err", err)
	}
	if n > 0 {
		s.log.Info("expired artifacts", "files", n)
	}
}

func nextRun(spec string, after time.Time) (time.Time, error) {
	sched, err := cronParser.Parse(spec)
	if err != nil {
		return time.Time{}, err
	}
	return sched.Next(after).UTC(), nil
}

func (s *Server) runDueSchedules(ctx context.Context) {
	for ctx.Err() == nil {
		sc, err := s.store.ClaimDueSchedule(ctx, time.Now().UTC(), func(sc *store.Schedule) time.Time {
			next, err := nextRun(sc.Cron, time.Now())
			if err != nil {
				return time.Now().Add(24 * time.Hour)
			}
			return next
		})
		if err != nil || sc == nil {
			return
		}
		proj, err := s.store.ProjectByID(ctx, sc.ProjectID)
		if err != nil {
			continue
		}
		vars, err := s.openVariables(proj, sc.Variables)
		if err != nil {
			s.log.Error("read schedule variables", "schedule", sc.ID, "err", err)
			continue
		}
		t := trigger{Source: plan.SourceSchedule, Ref: sc.Ref, Variables: vars, By: fmt.Sprintf("schedule %d", sc.ID)}
		if _, err := s.createPipeline(ctx, proj, t); err != nil {
			s.log.Warn("scheduled pipeline", "project", proj.Name, "schedule", sc.ID, "err", err)
		}
	}
}

// poll fetches the mirrors of projects with a poll interval and starts a
// push pipeline for each branch or tag that moved.
func (s *Server) poll(ctx context.Context, last map[int64]time.Time) {
	projs, err := s.store.ListProjects(ctx)
	if err != nil {
		return
	}
	for _, proj := range projs {
		if proj.PollInterval <= 0 || time.Since(last[proj.ID]) < proj.PollInterval {
			continue
		}
		last[proj.ID] = time.Now()
		m, err := s.mirror.get(ctx, proj)
		if err != nil {
			continue
		}
		changes, err := m.Fetch(ctx)
		if err != nil {
			s.log.Warn("poll", "project", proj.Name, "err", err)
			continue
		}
		for _, c := range changes {
			if c.New == "" {
				continue
			}
			ref, isTag := strings.CutPrefix(c.Ref, "refs/tags/")
			if !isTag {
				var ok bool
				if ref, ok = strings.CutPrefix(c.Ref, "refs/heads/"); !ok {
					continue
				}
			}
			t := trigger{Source: plan.SourcePush, Ref: ref, Tag: isTag, SHA: c.New, BeforeSHA: c.Old,
				DeliveryID: "poll:" + c.Ref + ":" + c.New, By: "polling"}
			if _, err := s.createPipeline(ctx, proj, t); err != nil {
				s.log.Info("polled change made no pipeline", "project", proj.Name, "ref", c.Ref, "err", err)
			}
		}
	}
}

// expireLeases handles jobs whose runner stopped renewing: the first time
// the job is requeued as a new attempt for another runner, the second
// time it fails with runner_system_failure.
func (c *coordinator) expireLeases(ctx context.Context) {
	jobs, err := c.s.store.ExpiredLeases(ctx, time.Now())
	if err != nil {
		return
	}
	for _, j := range jobs {
		if err := c.s.runnerLost(ctx, j); err != nil {
			c.s.log.Error("requeue job of a lost runner", "job", j.ID, "err", err)
		}
	}
}

func (s *Server) runnerLost(ctx context.Context, j *store.Job) error {
	pipe, err := s.store.Pipeline(ctx, j.PipelineID)
	if err != nil {
		return err
	}
	if j.CancelRequested || store.Finished(pipe.Status) {
		j.Status, j.FinishedAt, j.RunnerID, j.LeaseUntil = store.StatusCanceled, time.Now().UTC(), 0, time.Time{}
		return s.saveJob(ctx, j)
	}
	jobs, err := s.store.Jobs(ctx, j.PipelineID)
	if err != nil {
		return err
	}
	lost := 0
	for _, o := range jobs {
		if o.Name == j.Name && o.Reason == reasonRequeued {
			lost++
		}
	}
	const why = "the runner stopped renewing its lease"
	if lost >= 1 {
		s.failJob(ctx, j, "runner_system_failure", why+" (twice)")
		return nil
	}
	spec, err := s.openPayload(j)
	if err != nil {
		s.failJob(ctx, j, "runner_system_failure", why)
		return nil
	}
	next := &store.Job{
		PipelineID: j.PipelineID, ProjectID: j.ProjectID, Name: j.Name, Stage: j.Stage, Attempt: j.Attempt + 1,
		Status: store.StatusCreated, When: j.When, AllowFailure: j.AllowFailure, Tags: j.Tags,
		Played: j.Played, PlayedBy: j.PlayedBy, CreatedAt: time.Now().UTC(),
	}
	if err := s.store.AddJob(ctx, next); err != nil {
		return err
	}
	if err := s.retarget(ctx, spec, next); err != nil {
		return err
	}
	if next.Payload, err = s.sealPayload(next.ID, spec); err != nil {
		return err
	}
	next.Status, next.QueuedAt = store.StatusPending, time.Now().UTC()
	if err := s.saveJob(ctx, next); err != nil {
		return err
	}
	s.wake.notify(topicQueue)
	s.appendLog(ctx, j, fmt.Sprintf("\nERROR: %s; the job was requeued as job %d\n", why, next.ID))
	res, _ := json.Marshal(runnerapi.Result{Status: store.StatusFailed, ExitCode: -1, Failure: "runner_system_failure", Error: why})
	j.Status, j.ExitCode, j.FailureReason, j.Result = store.StatusFailed, -1, "runner_system_failure", res
	j.Retried, j.Reason, j.FinishedAt, j.RunnerID, j.LeaseUntil = true, reasonRequeued, time.Now().UTC(), 0, time.Time{}
	return s.saveJob(ctx, j)
}

// retarget points a job spec at a new attempt: its ID, token and URLs.
func (s *Server) retarget(ctx context.Context, spec *runnerapi.JobSpec, next *store.Job) error {
	tok, err := secret.NewToken("job")
	if err != nil {
		return err
	}
	if err := s.store.CreateToken(ctx, &store.Token{
		Hash: secret.HashToken(tok), Kind: store.TokenJob, Name: "job " + itoa(next.ID),
		ProjectID: next.ProjectID, JobID: next.ID, ExpiresAt: time.Now().Add(spec.Timeout + time.Hour),
	}); err != nil {
		return err
	}
	old := spec.Token
	spec.ID, spec.Attempt, spec.Token = next.ID, next.Attempt, tok
	id := itoa(next.ID)
	for i, v := range spec.Env {
		switch v.Name {
		case "CI_JOB_ID":
			spec.Env[i].Value = id
		case "CI_JOB_TOKEN":
			spec.Env[i].Value = tok
		case "CI_JOB_URL":
			spec.Env[i].Value = s.url + "/" + spec.Project + "/-/jobs/" + id
		case "CI_JOB_ATTEMPT":
			spec.Env[i].Value = itoa(int64(next.Attempt))
		}
	}
	for i, sec := range spec.Secrets {
		if sec == old {
			spec.Secrets[i] = tok
		}
	}
	return nil
}

type scheduleBody struct {
	Description string            `json:"description"`
	Cron        string            `json:"cron"`
	Ref         string            `json:"ref"`
	Variables   map[string]string `json:"variables"`
	Active      *bool             `json:"active"`
}

type scheduleJSON struct {
	ID          int64     `json:"id"`
	Description string    `json:"description"`
	Cron        string    `json:"cron"`
	Ref         string    `json:"ref"`
	Active      bool      `json:"active"`
	NextRun     time.Time `json:"next_run_at,omitzero"`
	LastRun     time.Time `json:"last_run_at,omitzero"`
}

func scheduleView(sc *store.Schedule) scheduleJSON {
	return scheduleJSON{ID: sc.ID, Description: sc.Description, Cron: sc.Cron, Ref: sc.Ref, Active: sc.Active, NextRun: sc.NextRun, LastRun: sc.LastRun}
}

func (s *Server) listSchedules(w http.ResponseWriter, r *http.Request, p *principal) {
	proj, err := s.readableProject(r.Context(), r, p)
	if err != nil {
		s.fail(w, err)
		return
	}
	scs, err := s.store.Schedules(r.Context(), proj.ID)
	if err != nil {
		s.fail(w, err)
		return
	}
	out := []scheduleJSON{}
	for _, sc := range scs {
		out = append(out, scheduleView(sc))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) createSchedule(w http.ResponseWriter, r *http.Request, p *principal) {
	proj, err := s.readableProject(r.Context(), r, p)
	if err == nil && !p.user() {
		err = statusError(http.StatusForbidden, "only users may create schedules")
	}
	if err != nil {
		s.fail(w, err)
		return
	}
	var body scheduleBody
	if err := readJSON(w, r, &body); err != nil {
		s.fail(w, err)
		return
	}
	next, err := nextRun(body.Cron, time.Now())
	if err != nil {
		s.fail(w, statusError(http.StatusBadRequest, "cron %q: %v", body.Cron, err))
		return
	}
	if body.Ref == "" {
		body.Ref = proj.DefaultBranch
	}
	var vars []pipeline.Variable
	for k, v := range body.Variables {
		vars = append(vars, pipeline.Variable{Name: k, Value: v})
	}
	rawVars, err := s.sealVariables(proj, vars)
	if err != nil {
		s.fail(w, err)
		return
	}
	sc := &store.Schedule{
		ProjectID: proj.ID, Description: body.Description, Cron: body.Cron, Ref: body.Ref,
		Variables: rawVars, Active: body.Active == nil || *body.Active, NextRun: next, CreatedAt: time.Now().UTC(),
	}
	if err := s.store.CreateSchedule(r.Context(), sc); err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, scheduleView(sc))
}

func (s *Server) deleteSchedule(w http.ResponseWriter, r *http.Request, p *principal) {
	proj, err := s.readableProject(r.Context(), r, p)
	if err == nil && !p.user() {
		err = statusError(http.StatusForbidden, "only users may delete schedules")
	}
	if err != nil {
		s.fail(w, err)
		return
	}
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, err)
		return
	}
	scs, err := s.store.Schedules(r.Context(), proj.ID)
	if err != nil {
		s.fail(w, err)
		return
	}
	for _, sc := range scs {
		if sc.ID == id {
			if err := s.store.DeleteSchedule(r.Context(), id); err != nil {
				s.fail(w, err)
				return
			}
			w.WriteHeader(http.StatusNoContent)
			return
		}
	}
	s.fail(w, statusError(http.StatusNotFound, "schedule %d of %s: not found", id, proj.Name))
}
