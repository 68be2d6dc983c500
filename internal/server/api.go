package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/gantry-ci/gantry/internal/deploy"
	"github.com/gantry-ci/gantry/internal/mirror"
	"github.com/gantry-ci/gantry/internal/runnerapi"
	"github.com/gantry-ci/gantry/internal/store"
)

// maxBody caps JSON request bodies; uploads have their own limits.
const maxBody = 1 << 20

// routes is the whole HTTP surface.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.Handle("GET /metrics", s.met.handler())
	mux.HandleFunc("POST /hooks/{project}/{forge}", s.handleHook)
	mux.Handle("/git/", mirror.HTTPHandler(s.gitRoot, s.gitAuth))
	mux.Handle(deploy.APIPrefix, s.deploy.Handler(s.deployAuth))

	api := func(pattern string, h func(w http.ResponseWriter, r *http.Request, p *principal)) {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			p := s.authenticate(r.Context(), r)
			if p == nil && r.Method != http.MethodGet {
				writeError(w, http.StatusUnauthorized, errUnauthenticated)
				return
			}
			h(w, r, p)
		})
	}
	api("GET /api/v1/projects", s.listProjects)
	api("POST /api/v1/projects", s.createProject)
	api("GET /api/v1/projects/{project}", s.showProject)
	api("PATCH /api/v1/projects/{project}", s.updateProject)
	api("DELETE /api/v1/projects/{project}", s.deleteProject)
	api("GET /api/v1/projects/{project}/variables", s.listVariables)
	api("PUT /api/v1/projects/{project}/variables/{key}", s.setVariable)
	api("DELETE /api/v1/projects/{project}/variables/{key}", s.deleteVariable)
	api("GET /api/v1/projects/{project}/pipelines", s.listPipelines)
	api("POST /api/v1/projects/{project}/pipelines", s.runPipelineAPI)
	api("GET /api/v1/projects/{project}/schedules", s.listSchedules)
	api("POST /api/v1/projects/{project}/schedules", s.createSchedule)
	api("DELETE /api/v1/projects/{project}/schedules/{id}", s.deleteSchedule)
	api("GET /api/v1/projects/{project}/notifications", s.listNotifications)
	api("PUT /api/v1/projects/{project}/notifications", s.setNotifications)
	api("GET /api/v1/pipelines/{id}", s.showPipeline)
	api("POST /api/v1/pipelines/{id}/cancel", s.cancelPipelineAPI)
	api("POST /api/v1/pipelines/{id}/retry", s.retryPipelineAPI)
	api("GET /api/v1/jobs/{id}", s.showJob)
	api("POST /api/v1/jobs/{id}/{action}", s.jobAction)
	api("GET /api/v1/jobs/{id}/log", s.jobLog)
	api("GET /api/v1/jobs/{id}/artifacts", s.downloadArtifacts)
	api("GET /api/v1/events", s.streamEvents)
	api("GET /api/v1/jobs/{id}/log/stream", s.streamLog)
	api("GET /api/v1/runners", s.listRunners)
	api("POST /api/v1/runners", s.createRunner)
	api("DELETE /api/v1/runners/{id}", s.deleteRunner)
	api("POST /api/v1/tokens", s.createToken)

	runner := func(pattern string, h func(w http.ResponseWriter, r *http.Request, p *principal)) {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			p := s.authenticate(r.Context(), r)
			if p == nil || (p.kind != kindRunner && p.kind != store.TokenJob) {
				writeError(w, http.StatusUnauthorized, errors.New("a runner or job token is required"))
				return
			}
			h(w, r, p)
		})
	}
	runner("POST /api/v1/runner/jobs/request", s.requestJob)
	runner("PUT /api/v1/runner/jobs/{id}/lease", s.renewLease)
	runner("PATCH /api/v1/runner/jobs/{id}/log", s.appendLogAPI)
	runner("PUT /api/v1/runner/jobs/{id}/artifacts/{file}", s.uploadArtifact)
	runner("GET /api/v1/runner/jobs/{id}/artifacts/{dep}/{file}", s.downloadArtifactFile)
	runner("GET /api/v1/runner/jobs/{id}/caches/{key}", s.getCache)
	runner("PUT /api/v1/runner/jobs/{id}/caches/{key}", s.putCache)
	runner("POST /api/v1/runner/jobs/{id}/finish", s.finishJob)
	mux.Handle("/", s.uiHandler())
	return s.met.instrument(mux)
}

// httpError is an error with the status it answers.
type httpError struct {
	status int
	err    error
}

func (e *httpError) Error() string { return e.err.Error() }
func (e *httpError) Unwrap() error { return e.err }

func statusError(status int, format string, args ...any) error {
	return &httpError{status: status, err: fmt.Errorf(format, args...)}
}

// fail answers err: its own status, 404 for store.ErrNotFound, 409 for
// ErrConflict, else 500 (logged; the reason still goes back).
func (s *Server) fail(w http.ResponseWriter, err error) {
	var he *httpError
	switch {
	case errors.As(err, &he):
		writeError(w, he.status, he.err)
	case errors.Is(err, store.ErrNotFound):
		writeError(w, http.StatusNotFound, err)
	case errors.Is(err, store.ErrConflict):
		writeError(w, http.StatusConflict, err)
	case errors.Is(err, store.ErrLeaseLost):
		writeError(w, http.StatusConflict, err)
	default:
		s.log.Error("request failed", "err", err)
		writeError(w, http.StatusInternalServerError, err)
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, err error) {
	writeJSON(w, status, runnerapi.Error{Error: err.Error()})
}

// readJSON decodes a size-limited body into v, refusing unknown fields.
func readJSON(w http.ResponseWriter, r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return statusError(http.StatusRequestEntityTooLarge, "request body larger than %d bytes", maxBody)
		}
		if errors.Is(err, io.EOF) {
			return statusError(http.StatusBadRequest, "request body: empty, want JSON")
		}
		return statusError(http.StatusBadRequest, "request body: %v", err)
	}
	return nil
}

func pathID(r *http.Request, name string) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue(name), 10, 64)
	if err != nil || id <= 0 {
		return 0, statusError(http.StatusBadRequest, "%s %q is not a number", name, r.PathValue(name))
	}
	return id, nil
}

// readableProject loads the project named in the path if p may read it.
// Private projects answer 404 to strangers, as GitLab does, so their
// names do not leak; a request without a token gets 401.
func (s *Server) readableProject(ctx context.Context, r *http.Request, p *principal) (*store.Project, error) {
	proj, err := s.store.Project(ctx, r.PathValue("project"))
	if err != nil {
		return nil, err
	}
	if !p.canRead(proj) {
		if p == nil {
			return nil, &httpError{status: http.StatusUnauthorized, err: errUnauthenticated}
		}
		return nil, statusError(http.StatusNotFound, "project %q: not found", proj.Name)
	}
	return proj, nil
}

func (s *Server) writableProject(ctx context.Context, r *http.Request, p *principal) (*store.Project, error) {
	proj, err := s.readableProject(ctx, r, p)
	if err != nil {
		return nil, err
	}
	if !p.canWrite(proj) {
		return nil, statusError(http.StatusForbidden, "this token may not change project %q", proj.Name)
	}
	return proj, nil
}

// pipelineFor loads a pipeline and its project if p may read them.
func (s *Server) pipelineFor(ctx context.Context, id int64, p *principal) (*store.Pipeline, *store.Project, error) {
	pipe, err := s.store.Pipeline(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	proj, err := s.store.ProjectByID(ctx, pipe.ProjectID)
	if err != nil {
		return nil, nil, err
	}
	if !p.canRead(proj) {
		if p == nil {
			return nil, nil, &httpError{status: http.StatusUnauthorized, err: errUnauthenticated}
		}
		return nil, nil, statusError(http.StatusNotFound, "pipeline %d: not found", id)
	}
	return pipe, proj, nil
}

func (s *Server) jobFor(ctx context.Context, id int64, p *principal) (*store.Job, *store.Project, error) {
	j, err := s.store.Job(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	proj, err := s.store.ProjectByID(ctx, j.ProjectID)
	if err != nil {
		return nil, nil, err
	}
	if !p.canRead(proj) {
		if p == nil {
			return nil, nil, &httpError{status: http.StatusUnauthorized, err: errUnauthenticated}
		}
		return nil, nil, statusError(http.StatusNotFound, "job %d: not found", id)
	}
	return j, proj, nil
}

// gitRoot and gitAuth serve runners' clones of a project's mirror: a job
// token of the project, or a user's token.
func (s *Server) gitRoot(project string) (string, bool) {
	if _, err := s.store.Project(context.Background(), project); err != nil {
		return "", false
	}
	return s.mirror.dir(project), true
}

func (s *Server) gitAuth(r *http.Request, project string) bool {
	proj, err := s.store.Project(r.Context(), project)
	if err != nil {
		return false
	}
	return s.authenticate(r.Context(), r).canRead(proj)
}
