package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gantry-ci/gantry/internal/artifact"
	"github.com/gantry-ci/gantry/internal/blob"
	"github.com/gantry-ci/gantry/internal/deploy"
	"github.com/gantry-ci/gantry/internal/pipeline"
	"github.com/gantry-ci/gantry/internal/plan"
	"github.com/gantry-ci/gantry/internal/secret"
	"github.com/gantry-ci/gantry/internal/server/ui"
	"github.com/gantry-ci/gantry/internal/store"
)

// uiHandler is the web UI (internal/server/ui), answering every path the
// API, hooks and git do not take.
func (s *Server) uiHandler() http.Handler {
	h, err := ui.New(ui.Config{
		Store:   s.store,
		Backend: newUIBackend(s),
		Secure:  strings.HasPrefix(s.cfg.ExternalURL, "https://"),
		Logger:  s.log,
	})
	if err != nil {
		s.log.Error("the web UI cannot start", "err", err)
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "the web UI cannot start: "+err.Error(), http.StatusInternalServerError)
		})
	}
	return h
}

// graphCacheSize bounds the plans the UI keeps: a pipeline's plan never
// changes, so this only costs memory.
const graphCacheSize = 512

// uiBackend is the server as the UI sees it: the same operations as the
// API, for the signed-in user.
type uiBackend struct {
	s *Server

	mu     sync.Mutex
	graphs map[int64]*ui.Graph
	order  []int64 // insertion order, for eviction
}

func newUIBackend(s *Server) *uiBackend {
	return &uiBackend{s: s, graphs: map[int64]*ui.Graph{}}
}

// uiError gives the UI the status an API answer would have had.
func uiError(err error) error {
	var he *httpError
	if errors.As(err, &he) {
		return &ui.StatusError{Status: he.status, Err: he.err}
	}
	return err
}

// userToken returns the admin or user token of hash, if still valid.
func (b *uiBackend) userToken(ctx context.Context, hash string) (*ui.User, error) {
	t, err := b.s.store.TokenByHash(ctx, hash)
	if err != nil {
		return nil, err
	}
	if t.Kind != store.TokenAdmin && t.Kind != store.TokenUser {
		return nil, errors.New("only admin and user tokens sign in")
	}
	if !t.ExpiresAt.IsZero() && time.Now().After(t.ExpiresAt) {
		return nil, errors.New("the token has expired")
	}
	return &ui.User{Name: t.Name, Admin: t.Kind == store.TokenAdmin, TokenHash: hash}, nil
}

func (b *uiBackend) SignIn(ctx context.Context, token string) (*ui.User, error) {
	if token == "" {
		return nil, errUnauthenticated
	}
	return b.userToken(ctx, secret.HashToken(token))
}

func (b *uiBackend) UserByTokenHash(ctx context.Context, hash string) (*ui.User, error) {
	return b.userToken(ctx, hash)
}

func (b *uiBackend) Seal(plain []byte, aad string) (string, error) { return b.s.box.Seal(plain, aad) }
func (b *uiBackend) Open(sealed, aad string) ([]byte, error)       { return b.s.box.Open(sealed, aad) }

// principal is the API's view of a signed-in user.
func principalOf(u *ui.User) *principal {
	kind := store.TokenUser
	if u.Admin {
		kind = store.TokenAdmin
	}
	return &principal{kind: kind, name: u.Name}
}

func (b *uiBackend) ServeEvents(w http.ResponseWriter, r *http.Request, u *ui.User) {
	b.s.streamEvents(w, r, principalOf(u))
}

func (b *uiBackend) ServeLogStream(w http.ResponseWriter, r *http.Request, u *ui.User, jobID int64) {
	r.SetPathValue("id", itoa(jobID))
	b.s.streamLog(w, r, principalOf(u))
}

func (b *uiBackend) ServeArtifacts(w http.ResponseWriter, r *http.Request, u *ui.User, jobID int64) {
	r.SetPathValue("id", itoa(jobID))
	b.s.downloadArtifacts(w, r, principalOf(u))
}

func (b *uiBackend) JobLog(ctx context.Context, jobID int64) (io.ReadCloser, int64, error) {
	rc, size, err := b.s.blobs.Get(ctx, logKey(jobID))
	if errors.Is(err, blob.ErrNotFound) {
		return io.NopCloser(strings.NewReader("")), 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("read the log of job %d: %w", jobID, err)
	}
	return rc, size, nil
}

func (b *uiBackend) Artifacts(ctx context.Context, jobID int64) ([]ui.ArtifactEntry, error) {
	dir, cleanup, err := b.s.localArtifacts(ctx, jobID)
	if err != nil {
		return nil, uiError(err)
	}
	defer cleanup()
	entries, err := artifact.List(dir)
	if err != nil {
		return nil, err
	}
	out := make([]ui.ArtifactEntry, 0, len(entries))
	for _, e := range entries {
		out = append(out, ui.ArtifactEntry{Path: e.Path, Size: e.Size, Dir: e.Mode.IsDir(), Target: e.Target})
	}
	return out, nil
}

func (b *uiBackend) RunPipeline(ctx context.Context, proj *store.Project, ref string, vars map[string]string, by string) (*store.Pipeline, error) {
	t := trigger{Source: plan.SourceWeb, Ref: ref, By: by}
	for k, v := range vars {
		if !variableKey.MatchString(k) {
			return nil, &ui.StatusError{Status: http.StatusBadRequest, Err: fmt.Errorf("variable %q: use letters, digits and '_'", k)}
		}
		t.Variables = append(t.Variables, pipeline.Variable{Name: k, Value: v})
	}
	pipe, err := b.s.createPipeline(ctx, proj, t)
	var nc *notCreatedError
	switch {
	case errors.As(err, &nc):
		return nil, &ui.StatusError{Status: http.StatusUnprocessableEntity, Err: fmt.Errorf("no pipeline was created: %s", nc.reason)}
	case errors.Is(err, errSkipped):
		return nil, &ui.StatusError{Status: http.StatusUnprocessableEntity, Err: errors.New("the commit message asks to skip CI")}
	case err != nil:
		return nil, uiError(err)
	}
	return pipe, nil
}

func (b *uiBackend) CancelPipeline(ctx context.Context, pipe *store.Pipeline, by string) error {
	return uiError(b.s.cancelPipeline(ctx, pipe.ID, "canceled by "+by))
}

// RetryPipeline retries every failed or canceled job, as the API does.
func (b *uiBackend) RetryPipeline(ctx context.Context, pipe *store.Pipeline, by string) error {
	jobs, err := b.s.store.Jobs(ctx, pipe.ID)
	if err != nil {
		return err
	}
	for _, j := range jobs {
		if !j.Retried && (j.Status == store.StatusFailed || j.Status == store.StatusCanceled) {
			if _, err := b.s.retryJob(ctx, pipe, j, by); err != nil {
				return uiError(err)
			}
		}
	}
	return nil
}

func (b *uiBackend) PlayJob(ctx context.Context, j *store.Job, by string) (*store.Job, error) {
	pipe, err := b.s.store.Pipeline(ctx, j.PipelineID)
	if err != nil {
		return nil, err
	}
	j, err = b.s.playJob(ctx, pipe, j, by)
	return j, uiError(err)
}

func (b *uiBackend) RetryJob(ctx context.Context, j *store.Job, by string) (*store.Job, error) {
	pipe, err := b.s.store.Pipeline(ctx, j.PipelineID)
	if err != nil {
		return nil, err
	}
	j, err = b.s.retryJob(ctx, pipe, j, by)
	return j, uiError(err)
}

func (b *uiBackend) CancelJob(ctx context.Context, j *store.Job) error {
	if j.Retried || store.Finished(j.Status) {
		return &ui.StatusError{Status: http.StatusConflict, Err: fmt.Errorf("job %d has already ended (%s)", j.ID, j.Status)}
	}
	return uiError(b.s.cancelJob(ctx, j))
}

// PipelineGraph plans the pipeline again to learn its jobs' needs and
// environments, which the job rows do not keep. Planning is
// deterministic for a stored pipeline, so the answer is cached.
func (b *uiBackend) PipelineGraph(ctx context.Context, proj *store.Project, pipe *store.Pipeline) (*ui.Graph, error) {
	b.mu.Lock()
	g, ok := b.graphs[pipe.ID]
	b.mu.Unlock()
	if ok {
		return g, nil
	}
	m, err := b.s.mirror.get(ctx, proj)
	if err != nil {
		return nil, err
	}
	pl, err := b.s.plan(ctx, proj, pipe, m)
	if err != nil {
		return nil, fmt.Errorf("plan pipeline %d: %w", pipe.ID, err)
	}
	g = &ui.Graph{Stages: pl.Stages, Jobs: make(map[string]ui.GraphJob, len(pl.Jobs))}
	for _, j := range pl.Jobs {
		gj := ui.GraphJob{}
		if j.Needs != nil {
			gj.Needs = make([]string, 0, len(j.Needs))
			for _, n := range j.Needs {
				gj.Needs = append(gj.Needs, n.Job)
			}
		}
		if j.Def != nil && j.Def.Environment != nil {
			gj.Environment = environmentOf(j)
		}
		g.Jobs[j.Name] = gj
	}
	b.mu.Lock()
	if _, ok := b.graphs[pipe.ID]; !ok {
		b.graphs[pipe.ID] = g
		b.order = append(b.order, pipe.ID)
		if len(b.order) > graphCacheSize {
			delete(b.graphs, b.order[0])
			b.order = b.order[1:]
		}
	}
	b.mu.Unlock()
	return g, nil
}

// environmentOf reads a job's environment from the CI_ENVIRONMENT_*
// variables the plan gave it: names and URLs expanded, the tier guessed
// from the name as GitLab does when deployment_tier is not set.
func environmentOf(j *plan.Job) *ui.Environment {
	env := &ui.Environment{Name: j.Def.Environment.Name, Tier: j.Def.Environment.DeploymentTier, URL: j.Def.Environment.URL, Action: j.Def.Environment.Action}
	for _, v := range j.Variables {
		switch v.Name {
		case "CI_ENVIRONMENT_NAME":
			env.Name = v.Value
		case "CI_ENVIRONMENT_TIER":
			env.Tier = v.Value
		case "CI_ENVIRONMENT_URL":
			env.URL = v.Value
		case "CI_ENVIRONMENT_ACTION":
			env.Action = v.Value
		}
	}
	if env.Tier == "" {
		env.Tier = "other"
	}
	return env
}

func (b *uiBackend) WebhookSecret(proj *store.Project) (string, error) {
	sec, err := b.s.box.Open(proj.WebhookSecret, webhookAAD(proj.Name))
	return string(sec), err
}

func (b *uiBackend) WebhookURLs(proj *store.Project) map[string]string {
	out := map[string]string{}
	for _, f := range []string{"github", "gitlab", "gitea"} {
		out[f] = b.s.url + "/hooks/" + proj.Name + "/" + f
	}
	return out
}

func (b *uiBackend) VariableValue(proj *store.Project, v *store.Variable) (string, error) {
	if v.Masked {
		return "", errors.New("a masked value is never shown")
	}
	val, err := b.s.box.Open(v.Value, variableAAD(proj.ID, v.Key))
	return string(val), err
}

// SetVariable checks what the API checks: the key's form and masked
// values of at least 8 characters (GitLab's rule).
func (b *uiBackend) SetVariable(ctx context.Context, proj *store.Project, in ui.VariableInput) error {
	if !variableKey.MatchString(in.Key) {
		return &ui.StatusError{Status: http.StatusBadRequest, Err: fmt.Errorf("variable key %q: use letters, digits and '_'", in.Key)}
	}
	if in.Masked && len(in.Value) < 8 {
		return &ui.StatusError{Status: http.StatusBadRequest, Err: errors.New("a masked value must be at least 8 characters long, as in GitLab")}
	}
	sealed, err := b.s.box.Seal([]byte(in.Value), variableAAD(proj.ID, in.Key))
	if err != nil {
		return err
	}
	return b.s.store.SetVariable(ctx, &store.Variable{
		ProjectID: proj.ID, Key: in.Key, Value: sealed, Masked: in.Masked, Protected: in.Protected, File: in.File,
	})
}

func (b *uiBackend) DeleteVariable(ctx context.Context, proj *store.Project, key string) error {
	return b.s.store.DeleteVariable(ctx, proj.ID, key)
}

func (b *uiBackend) CreateSchedule(ctx context.Context, proj *store.Project, in ui.ScheduleInput) error {
	next, err := nextRun(in.Cron, time.Now())
	if err != nil {
		return &ui.StatusError{Status: http.StatusBadRequest, Err: fmt.Errorf("cron %q: %v", in.Cron, err)}
	}
	if in.Ref == "" {
		in.Ref = proj.DefaultBranch
	}
	return b.s.store.CreateSchedule(ctx, &store.Schedule{
		ProjectID: proj.ID, Description: in.Description, Cron: in.Cron, Ref: in.Ref,
		Active: in.Active, NextRun: next, CreatedAt: time.Now().UTC(),
	})
}

func (b *uiBackend) DeleteSchedule(ctx context.Context, proj *store.Project, id int64) error {
	scs, err := b.s.store.Schedules(ctx, proj.ID)
	if err != nil {
		return err
	}
	for _, sc := range scs {
		if sc.ID == id {
			return b.s.store.DeleteSchedule(ctx, id)
		}
	}
	return &ui.StatusError{Status: http.StatusNotFound, Err: fmt.Errorf("schedule %d of %s: not found", id, proj.Name)}
}

// runningHorizon lists every running job through ExpiredLeases: no lease
// ends this far out, and the store has no other query for running jobs.
const runningHorizon = 100 * 365 * 24 * time.Hour

func (b *uiBackend) Runners(ctx context.Context) ([]ui.RunnerView, error) {
	rs, err := b.s.store.ListRunners(ctx)
	if err != nil {
		return nil, err
	}
	running, err := b.s.store.ExpiredLeases(ctx, time.Now().Add(runningHorizon))
	if err != nil {
		return nil, err
	}
	out := make([]ui.RunnerView, 0, len(rs))
	for _, rn := range rs {
		v := runnerView(rn)
		rv := ui.RunnerView{ID: rn.ID, Name: rn.Name, Tags: rn.Tags, RunUntagged: rn.RunUntagged,
			Concurrency: rn.Concurrency, Online: v.Online, LastSeen: rn.LastSeen}
		for _, j := range running {
			if j.RunnerID == rn.ID {
				rv.Jobs = append(rv.Jobs, j)
			}
		}
		out = append(out, rv)
	}
	return out, nil
}

// Rollout shows the environment's rollout from the delivery controller:
// the app deployed to it (a project usually deploys one), its phase, step
// and canary weight; nil when nothing was deployed there.
func (b *uiBackend) Rollout(ctx context.Context, project, env string) (*ui.RolloutView, error) {
	st := b.rolloutOf(ctx, project, env)
	if st == nil {
		return nil, nil
	}
	v := &ui.RolloutView{Strategy: st.Strategy, Phase: st.Phase, Weight: st.Weight, Message: st.Message, StartedAt: st.UpdatedAt}
	if st.AbortReason != "" {
		v.Message = st.AbortReason
	}
	if st.Steps > 0 {
		v.Step = fmt.Sprintf("%d/%d", st.Step, st.Steps)
	}
	if st.Canary != nil {
		v.Revision = fmt.Sprintf("%d (%s)", st.Canary.Revision, st.Canary.Version)
	} else if st.Stable != nil {
		v.Revision = fmt.Sprintf("%d (%s)", st.Stable.Revision, st.Stable.Version)
	}
	v.CanRollback = st.Canary != nil || len(st.Traffic) > 1 || st.Stable != nil && st.Stable.Revision > 1
	return v, nil
}

// Rollback is `gantry rollout undo`: traffic goes back to the previous
// revision at once while it is still warm.
func (b *uiBackend) Rollback(ctx context.Context, project, env, by string) error {
	st := b.rolloutOf(ctx, project, env)
	if st == nil {
		return &ui.StatusError{Status: http.StatusNotFound, Err: fmt.Errorf("nothing is deployed to %s", env)}
	}
	_, err := b.s.deploy.Undo(ctx, deploy.Key{Project: project, App: st.App, Env: env}, 0, by)
	if err != nil {
		return &ui.StatusError{Status: http.StatusConflict, Err: err}
	}
	return nil
}

func (b *uiBackend) rolloutOf(ctx context.Context, project, env string) *deploy.Status {
	for _, st := range b.s.deploy.List(ctx, project) {
		if st.Env == env {
			return st
		}
	}
	return nil
}
