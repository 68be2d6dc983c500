package server

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/gantry-ci/gantry/internal/artifact"
	"github.com/gantry-ci/gantry/internal/pipeline"
	"github.com/gantry-ci/gantry/internal/plan"
	"github.com/gantry-ci/gantry/internal/store"
)

func (s *Server) listPipelines(w http.ResponseWriter, r *http.Request, p *principal) {
	proj, err := s.readableProject(r.Context(), r, p)
	if err != nil {
		s.fail(w, err)
		return
	}
	q := r.URL.Query()
	f := store.PipelineFilter{ProjectID: proj.ID, Ref: q.Get("ref"), Status: q.Get("status")}
	if v := q.Get("limit"); v != "" {
		if f.Limit, err = strconv.Atoi(v); err != nil || f.Limit < 1 || f.Limit > 1000 {
			s.fail(w, statusError(http.StatusBadRequest, "limit %q: want 1 to 1000", v))
			return
		}
	}
	if v := q.Get("before"); v != "" {
		if f.BeforeID, err = strconv.ParseInt(v, 10, 64); err != nil {
			s.fail(w, statusError(http.StatusBadRequest, "before %q: want a pipeline ID", v))
			return
		}
	}
	pipes, err := s.store.ListPipelines(r.Context(), f)
	if err != nil {
		s.fail(w, err)
		return
	}
	out := make([]pipelineJSON, 0, len(pipes))
	for _, pipe := range pipes {
		out = append(out, pipelineView(proj, pipe))
	}
	writeJSON(w, http.StatusOK, out)
}

// runBody is a manual run: POST /api/v1/projects/{project}/pipelines.
type runBody struct {
	Ref       string            `json:"ref"`
	Variables map[string]string `json:"variables"`
	Source    string            `json:"source"` // "api" (default) or "web"
}

func (s *Server) runPipelineAPI(w http.ResponseWriter, r *http.Request, p *principal) {
	proj, err := s.writableProject(r.Context(), r, p)
	if err != nil {
		s.fail(w, err)
		return
	}
	var body runBody
	if err := readJSON(w, r, &body); err != nil {
		s.fail(w, err)
		return
	}
	if body.Ref == "" {
		body.Ref = proj.DefaultBranch
	}
	source := plan.SourceAPI
	if body.Source == plan.SourceWeb {
		source = plan.SourceWeb
	}
	t := trigger{Source: source, Ref: body.Ref, By: p.name}
	for k, v := range body.Variables {
		if !variableKey.MatchString(k) {
			s.fail(w, statusError(http.StatusBadRequest, "variable %q: use letters, digits and '_'", k))
			return
		}
		t.Variables = append(t.Variables, pipeline.Variable{Name: k, Value: v})
	}
	pipe, err := s.createPipeline(r.Context(), proj, t)
	s.answerCreated(w, proj, pipe, err)
}

// answerCreated answers a request that asked for a pipeline.
func (s *Server) answerCreated(w http.ResponseWriter, proj *store.Project, pipe *store.Pipeline, err error) {
	var nc *notCreatedError
	switch {
	case errors.Is(err, errSkipped):
		writeJSON(w, http.StatusOK, map[string]string{"status": "skipped", "reason": "the commit message asks to skip CI"})
	case errors.As(err, &nc):
		writeJSON(w, http.StatusOK, map[string]string{"status": "not created", "reason": nc.reason})
	case err != nil:
		s.fail(w, err)
	default:
		writeJSON(w, http.StatusCreated, pipelineView(proj, pipe))
	}
}

func (s *Server) showPipeline(w http.ResponseWriter, r *http.Request, p *principal) {
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, err)
		return
	}
	pipe, proj, err := s.pipelineFor(r.Context(), id, p)
	if err != nil {
		s.fail(w, err)
		return
	}
	jobs, err := s.store.Jobs(r.Context(), id)
	if err != nil {
		s.fail(w, err)
		return
	}
	v := pipelineView(proj, pipe)
	for _, j := range jobs {
		v.Jobs = append(v.Jobs, jobView(j))
	}
	writeJSON(w, http.StatusOK, v)
}

func (s *Server) cancelPipelineAPI(w http.ResponseWriter, r *http.Request, p *principal) {
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, err)
		return
	}
	_, proj, err := s.pipelineFor(r.Context(), id, p)
	if err == nil && !p.canWrite(proj) {
		err = statusError(http.StatusForbidden, "this token may not cancel pipelines of %q", proj.Name)
	}
	if err == nil {
		err = s.cancelPipeline(r.Context(), id, "canceled by "+p.name)
	}
	if err != nil {
		s.fail(w, err)
		return
	}
	pipe, _ := s.store.Pipeline(r.Context(), id)
	writeJSON(w, http.StatusOK, pipelineView(proj, pipe))
}

// cancelPipeline cancels every job that has not ended and the pipeline.
func (s *Server) cancelPipeline(ctx context.Context, id int64, why string) error {
	pipe, err := s.store.Pipeline(ctx, id)
	if err != nil {
		return err
	}
	if store.Finished(pipe.Status) {
		return nil
	}
	jobs, err := s.store.Jobs(ctx, id)
	if err != nil {
		return err
	}
	for _, j := range jobs {
		if j.Retried || store.Finished(j.Status) {
			continue
		}
		if j.Status != store.StatusRunning {
			j.Reason = why
		}
		if err := s.cancelJob(ctx, j); err != nil {
			return err
		}
	}
	pipe.Status, pipe.FinishedAt = store.StatusCanceled, time.Now().UTC()
	if err := s.store.UpdatePipeline(ctx, pipe); err != nil {
		return err
	}
	proj, _ := s.store.ProjectByID(ctx, pipe.ProjectID)
	s.event(ctx, pipe.ProjectID, pipe.ID, 0, "pipeline", pipelineView(proj, pipe))
	s.coord.poke(id, errPipelineCanceled)
	return nil
}

// retryPipelineAPI retries every failed or canceled job, as GitLab's
// pipeline retry does.
func (s *Server) retryPipelineAPI(w http.ResponseWriter, r *http.Request, p *principal) {
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, err)
		return
	}
	pipe, proj, err := s.pipelineFor(r.Context(), id, p)
	if err == nil && !p.canWrite(proj) {
		err = statusError(http.StatusForbidden, "this token may not retry pipelines of %q", proj.Name)
	}
	if err != nil {
		s.fail(w, err)
		return
	}
	jobs, err := s.store.Jobs(r.Context(), id)
	if err != nil {
		s.fail(w, err)
		return
	}
	for _, j := range jobs {
		if !j.Retried && (j.Status == store.StatusFailed || j.Status == store.StatusCanceled) {
			if _, err := s.retryJob(r.Context(), pipe, j, p.name); err != nil {
				s.fail(w, err)
				return
			}
		}
	}
	pipe, _ = s.store.Pipeline(r.Context(), id)
	writeJSON(w, http.StatusCreated, pipelineView(proj, pipe))
}

func (s *Server) showJob(w http.ResponseWriter, r *http.Request, p *principal) {
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, err)
		return
	}
	j, _, err := s.jobFor(r.Context(), id, p)
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, jobView(j))
}

// jobAction is POST /api/v1/jobs/{id}/retry|cancel|play.
func (s *Server) jobAction(w http.ResponseWriter, r *http.Request, p *principal) {
	ctx := r.Context()
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, err)
		return
	}
	j, proj, err := s.jobFor(ctx, id, p)
	if err == nil && !p.canWrite(proj) {
		err = statusError(http.StatusForbidden, "this token may not change jobs of %q", proj.Name)
	}
	if err != nil {
		s.fail(w, err)
		return
	}
	pipe, err := s.store.Pipeline(ctx, j.PipelineID)
	if err != nil {
		s.fail(w, err)
		return
	}
	switch r.PathValue("action") {
	case "cancel":
		if j.Retried || store.Finished(j.Status) {
			s.fail(w, statusError(http.StatusConflict, "job %d has already ended (%s)", j.ID, j.Status))
			return
		}
		err = s.cancelJob(ctx, j)
	case "retry":
		j, err = s.retryJob(ctx, pipe, j, p.name)
	case "play":
		j, err = s.playJob(ctx, pipe, j, p.name)
	default:
		err = statusError(http.StatusNotFound, "no job action %q (retry, cancel, play)", r.PathValue("action"))
	}
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, jobView(j))
}

// retryJob makes a new attempt of a job that ended, as GitLab's retry:
// the old attempt is kept (retried) and the pipeline runs again from it.
func (s *Server) retryJob(ctx context.Context, pipe *store.Pipeline, j *store.Job, by string) (*store.Job, error) {
	if j.Retried || !store.Finished(j.Status) {
		return nil, statusError(http.StatusConflict, "job %d cannot be retried: it is %s", j.ID, j.Status)
	}
	next := &store.Job{
		PipelineID: j.PipelineID, ProjectID: j.ProjectID, Name: j.Name, Stage: j.Stage,
		Attempt: j.Attempt + 1, Status: store.StatusCreated, When: j.When, AllowFailure: j.AllowFailure,
		Tags: j.Tags, Played: j.When == string(pipeline.WhenManual), PlayedBy: by, CreatedAt: time.Now().UTC(),
	}
	if err := s.store.AddJob(ctx, next); err != nil {
		return nil, err
	}
	j.Retried, j.Reason = true, reasonUserRetry+by
	if err := s.saveJob(ctx, j); err != nil {
		return nil, err
	}
	s.jobChanged(ctx, next)
	return next, s.reopen(ctx, pipe)
}

// playJob starts a manual job nobody played yet.
func (s *Server) playJob(ctx context.Context, pipe *store.Pipeline, j *store.Job, by string) (*store.Job, error) {
	if j.Retried || j.When != string(pipeline.WhenManual) || j.Played || j.Status != store.StatusManual {
		return nil, statusError(http.StatusConflict, "job %d is not a manual job waiting to be played (it is %s)", j.ID, j.Status)
	}
	if store.Finished(pipe.Status) && pipe.Status != store.StatusSuccess && pipe.Status != store.StatusFailed {
		return nil, statusError(http.StatusConflict, "pipeline %d is %s", pipe.ID, pipe.Status)
	}
	j.Played, j.PlayedBy, j.Status = true, by, store.StatusCreated
	if err := s.saveJob(ctx, j); err != nil {
		return nil, err
	}
	return j, s.reopen(ctx, pipe)
}

// reopen puts a pipeline back in the coordinator's hands.
func (s *Server) reopen(ctx context.Context, pipe *store.Pipeline) error {
	pipe.Status, pipe.FinishedAt = store.StatusPending, time.Time{}
	if err := s.store.UpdatePipeline(ctx, pipe); err != nil {
		return err
	}
	proj, _ := s.store.ProjectByID(ctx, pipe.ProjectID)
	s.event(ctx, pipe.ProjectID, pipe.ID, 0, "pipeline", pipelineView(proj, pipe))
	s.coord.poke(pipe.ID, errReplay)
	return nil
}

// jobLog answers the log from ?offset= (bytes); X-Log-Size says how much
// there is, so a client can resume, and X-Job-Status whether more comes.
func (s *Server) jobLog(w http.ResponseWriter, r *http.Request, p *principal) {
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, err)
		return
	}
	j, _, err := s.jobFor(r.Context(), id, p)
	if err != nil {
		s.fail(w, err)
		return
	}
	offset, _ := strconv.ParseInt(r.URL.Query().Get("offset"), 10, 64)
	rc, size, err := s.blobs.Get(r.Context(), logKey(j.ID))
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Job-Status", j.Status)
	if err != nil {
		w.Header().Set("X-Log-Size", "0")
		w.WriteHeader(http.StatusOK)
		return
	}
	defer rc.Close()
	w.Header().Set("X-Log-Size", strconv.FormatInt(size, 10))
	if offset < 0 || offset > size {
		offset = size
	}
	if _, err := rc.Seek(offset, io.SeekStart); err != nil {
		s.fail(w, err)
		return
	}
	w.WriteHeader(http.StatusOK)
	_, _ = io.CopyN(w, rc, size-offset)
}

// downloadArtifacts answers a job's artifacts as a zip, or one file of
// them with ?file=path.
func (s *Server) downloadArtifacts(w http.ResponseWriter, r *http.Request, p *principal) {
	ctx := r.Context()
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, err)
		return
	}
	j, _, err := s.jobFor(ctx, id, p)
	if err != nil {
		s.fail(w, err)
		return
	}
	dir, cleanup, err := s.localArtifacts(ctx, j.ID)
	if err != nil {
		s.fail(w, err)
		return
	}
	defer cleanup()
	if name := r.URL.Query().Get("file"); name != "" {
		f, err := artifact.Open(dir, name)
		if err != nil {
			s.fail(w, statusError(http.StatusNotFound, "artifact file %q: %v", name, err))
			return
		}
		defer f.Close()
		w.Header().Set("Content-Type", "application/octet-stream")
		_, _ = io.Copy(w, f)
		return
	}
	if r.URL.Query().Has("list") {
		entries, err := artifact.List(dir)
		if err != nil {
			s.fail(w, err)
			return
		}
		writeJSON(w, http.StatusOK, entries)
		return
	}
	meta, _ := artifact.ReadMeta(dir)
	name := meta.Name
	if name == "" {
		name = artifact.DefaultName
	}
	w.Header().Set("Content-Type", "application/zip")
	w.Header().Set("Content-Disposition", `attachment; filename="`+sanitizeFileName(name)+`.zip"`)
	if err := artifact.WriteZip(ctx, dir, w); err != nil {
		s.log.Warn("write artifacts zip", "job", j.ID, "err", err)
	}
}

// localArtifacts copies a job's artifact folder out of the blob store.
func (s *Server) localArtifacts(ctx context.Context, jobID int64) (artifact.ArtifactDir, func(), error) {
	tmp, err := os.MkdirTemp(s.tmpDir(), "artifacts-")
	if err != nil {
		return "", nil, err
	}
	cleanup := func() { _ = os.RemoveAll(tmp) }
	found := false
	for _, f := range artifactFiles {
		rc, _, err := s.blobs.Get(ctx, artifactKey(jobID, f))
		if err != nil {
			continue
		}
		out, err := os.Create(tmp + "/" + f)
		if err == nil {
			_, err = io.Copy(out, rc)
			if cerr := out.Close(); err == nil {
				err = cerr
			}
		}
		rc.Close()
		if err != nil {
			cleanup()
			return "", nil, err
		}
		found = true
	}
	if !found {
		cleanup()
		return "", nil, statusError(http.StatusNotFound, "job %d has no artifacts", jobID)
	}
	return artifact.ArtifactDir(tmp), cleanup, nil
}

func sanitizeFileName(name string) string {
	out := []rune{}
	for _, r := range name {
		if r == '"' || r == '/' || r == '\\' || r < 0x20 {
			r = '_'
		}
		out = append(out, r)
	}
	return string(out)
}
