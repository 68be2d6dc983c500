package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"

	"github.com/gantry-ci/gantry/internal/deploy"
	"github.com/gantry-ci/gantry/internal/notify"
	"github.com/gantry-ci/gantry/internal/pipeline"
	"github.com/gantry-ci/gantry/internal/store"
)

// newDeployController hosts the rollout controller: its state lives in
// the store's records, its artifacts and replica logs under <data>/deploy,
// and its decisions in the same event log as the pipelines'.
func (s *Server) newDeployController() (*deploy.Controller, error) {
	return deploy.New(deploy.Config{
		Records:    s.store,
		DataDir:    filepath.Join(s.cfg.Data, "deploy"),
		Registerer: s.met.reg,
		Emit: func(ctx context.Context, projectID int64, typ string, data any) {
			s.event(ctx, projectID, 0, 0, typ, data)
		},
		Logger: s.log.With("part", "deploy"),
		Notify: s.notifyRollout,
	})
}

// notifyRollout sends a rollout's pause, promotion, abort or rollback to
// the project's notification channels.
func (s *Server) notifyRollout(ctx context.Context, projectID int64, kind string, e deploy.NotifyInfo) {
	if projectID == 0 {
		return // an app deployed outside any project has no channels
	}
	chs, err := s.channels(ctx, projectID)
	if err != nil {
		s.log.Error("notification channels", "project", e.Project, "err", err)
		return
	}
	if len(chs) == 0 {
		return
	}
	s.notifier.Notify(ctx, chs, notify.Event{
		Kind: kind, Project: e.Project, Env: e.Env, App: e.App, Revision: int(e.Revision),
		Version: e.Version, Reason: e.Reason, URL: e.URL, Time: e.Time,
	})
}

// deployAuth decides who may read and change rollouts. A job token acts
// for its own project; a deploy from a manual job a user played carries
// that approval, which production-tier environments require.
func (s *Server) deployAuth(r *http.Request, project string, write bool) (deploy.Caller, error) {
	ctx := r.Context()
	p := s.authenticate(ctx, r)
	if p == nil {
		return deploy.Caller{}, errUnauthenticated
	}
	proj, err := s.store.Project(ctx, project)
	switch {
	case errors.Is(err, store.ErrNotFound) && p.user():
		// Users may roll out apps that are not projects of this server.
		return deploy.Caller{Name: p.name, Admin: p.admin()}, nil
	case err != nil:
		return deploy.Caller{}, fmt.Errorf("project %q: %w", project, deploy.ErrNotFound)
	}
	allowed := p.canRead(proj)
	if write {
		allowed = p.canWrite(proj)
	}
	if !allowed {
		return deploy.Caller{}, fmt.Errorf("this token may not deploy %s: %w", project, deploy.ErrForbidden)
	}
	c := deploy.Caller{Name: p.name, Admin: p.admin(), ProjectID: proj.ID}
	if p.job != nil {
		c.JobID = p.job.ID
		c.JobPlayedByUser = p.job.When == string(pipeline.WhenManual) && p.job.Played && p.job.PlayedBy != ""
	}
	return c, nil
}
