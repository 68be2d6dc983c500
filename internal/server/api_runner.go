package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gantry-ci/gantry/internal/cache"
	"github.com/gantry-ci/gantry/internal/runnerapi"
	"github.com/gantry-ci/gantry/internal/store"
)

// Upload limits: a job's artifacts and one cache archive.
const (
	maxArtifactUpload = 4 << 30
	maxCacheUpload    = 4 << 30
	maxLogChunk       = 8 << 20
	maxLogSize        = 512 << 20
)

// artifactFiles are the files of an artifact folder (internal/artifact).
var artifactFiles = []string{"meta.json", "index.json", "artifacts.tar.zst"}

func logKey(jobID int64) string                { return "logs/" + itoa(jobID) }
func artifactKey(jobID int64, f string) string { return "artifacts/" + itoa(jobID) + "/" + f }
func cacheKey(projectID int64, key string) string {
	return "caches/" + itoa(projectID) + "/" + cache.SanitizeKey(key)
}

func (s *Server) tmpDir() string {
	dir := filepath.Join(s.cfg.Data, "tmp")
	_ = os.MkdirAll(dir, 0o700)
	return dir
}

// requestJob long-polls for a job the runner may take (?wait=30s).
func (s *Server) requestJob(w http.ResponseWriter, r *http.Request, p *principal) {
	if p.runner == nil {
		s.fail(w, statusError(http.StatusForbidden, "only runners take jobs"))
		return
	}
	wait := 30 * time.Second
	if v := r.URL.Query().Get("wait"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 || d > 5*time.Minute {
			s.fail(w, statusError(http.StatusBadRequest, "wait %q: want a duration up to 5m", v))
			return
		}
		wait = d
	}
	ctx := r.Context()
	rn := *p.runner
	var announced struct {
		Name string   `json:"name"`
		Tags []string `json:"tags"`
	}
	if r.ContentLength != 0 {
		if err := readJSON(w, r, &announced); err != nil {
			s.fail(w, err)
			return
		}
	}
	rn.Tags = unionTags(rn.Tags, announced.Tags)
	_ = s.store.TouchRunner(ctx, rn.ID, time.Now().UTC())
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	for {
		woken := s.wake.wait(topicQueue)
		j, err := s.store.ClaimJob(ctx, &rn, time.Now().Add(runnerapi.LeaseDuration))
		if err != nil {
			s.fail(w, err)
			return
		}
		if j != nil {
			spec, err := s.startJob(ctx, j)
			if err != nil {
				s.failJob(context.WithoutCancel(ctx), j, "runner_system_failure", err.Error())
				continue
			}
			writeJSON(w, http.StatusOK, spec)
			return
		}
		select {
		case <-woken:
		case <-time.After(pollEvery):
		case <-deadline.C:
			w.WriteHeader(http.StatusNoContent)
			return
		case <-ctx.Done():
			return
		}
	}
}

// unionTags are the tags a runner was registered with and those it
// announces when it asks for work (`gantry runner --tags`).
func unionTags(a, b []string) []string {
	out := append([]string(nil), a...)
	for _, t := range b {
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out
}

// startJob records that a runner took j and answers its spec.
func (s *Server) startJob(ctx context.Context, j *store.Job) (*runnerapi.JobSpec, error) {
	spec, err := s.openPayload(j)
	if err != nil {
		return nil, err
	}
	s.met.jobStarted(j)
	// The runner need not wait for the live views to hear of it.
	go func() {
		ctx := context.WithoutCancel(ctx)
		s.jobChanged(ctx, j)
		if pipe, err := s.store.Pipeline(ctx, j.PipelineID); err == nil && pipe.Status == store.StatusPending {
			pipe.Status = store.StatusRunning
			proj, _ := s.store.ProjectByID(ctx, pipe.ProjectID)
			s.savePipeline(ctx, proj, pipe)
		}
	}()
	return spec, nil
}

// runnerJob loads the job in the path and checks the caller holds it: its
// runner, or the job itself with its token.
func (s *Server) heldJob(ctx context.Context, r *http.Request, p *principal) (*store.Job, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return nil, err
	}
	j, err := s.store.Job(ctx, id)
	if err != nil {
		return nil, err
	}
	switch {
	case p.runner != nil && j.RunnerID == p.runner.ID && j.Status == store.StatusRunning:
		return j, nil
	case p.job != nil && p.job.ID == j.ID && j.Status == store.StatusRunning:
		return j, nil
	}
	return nil, &httpError{status: http.StatusConflict, err: fmt.Errorf("job %d: %w", id, store.ErrLeaseLost)}
}

func (s *Server) renewLease(w http.ResponseWriter, r *http.Request, p *principal) {
	if p.runner == nil {
		s.fail(w, statusError(http.StatusForbidden, "only runners hold leases"))
		return
	}
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, err)
		return
	}
	until := time.Now().Add(runnerapi.LeaseDuration)
	cancel, err := s.store.RenewLease(r.Context(), id, p.runner.ID, until)
	if err != nil {
		s.fail(w, err)
		return
	}
	_ = s.store.TouchRunner(r.Context(), p.runner.ID, time.Now().UTC())
	writeJSON(w, http.StatusOK, runnerapi.Lease{Until: until, Cancel: cancel})
}

// appendLogAPI stores the next bytes of a job's log. The blob's size is
// the truth: a chunk whose offset is not the size is refused with 416 and
// the size, so a runner that retried a chunk the server already has
// neither loses nor doubles bytes.
func (s *Server) appendLogAPI(w http.ResponseWriter, r *http.Request, p *principal) {
	ctx := r.Context()
	j, err := s.heldJob(ctx, r, p)
	if err != nil {
		s.fail(w, err)
		return
	}
	offset, err := strconv.ParseInt(r.URL.Query().Get("offset"), 10, 64)
	if err != nil || offset < 0 {
		s.fail(w, statusError(http.StatusBadRequest, "offset %q: want the byte offset of the chunk", r.URL.Query().Get("offset")))
		return
	}
	chunk, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxLogChunk))
	if err != nil {
		s.fail(w, statusError(http.StatusRequestEntityTooLarge, "log chunk: %v", err))
		return
	}
	s.logMu.Lock()
	defer s.logMu.Unlock()
	size := s.logSize(ctx, j.ID)
	if offset != size {
		writeJSON(w, http.StatusRequestedRangeNotSatisfiable, runnerapi.LogAck{Size: size})
		return
	}
	if size+int64(len(chunk)) > maxLogSize {
		writeJSON(w, http.StatusAccepted, runnerapi.LogAck{Size: size + int64(len(chunk))})
		return
	}
	n, err := s.blobs.Append(ctx, logKey(j.ID), chunk)
	if err != nil {
		s.fail(w, err)
		return
	}
	_, _ = s.store.AddLogSize(ctx, j.ID, int64(len(chunk)))
	s.wake.notify(topicLog(j.ID))
	writeJSON(w, http.StatusAccepted, runnerapi.LogAck{Size: n})
}

func (s *Server) logSize(ctx context.Context, jobID int64) int64 {
	info, err := s.blobs.Stat(ctx, logKey(jobID))
	if err != nil {
		return 0
	}
	return info.Size
}

// appendLog adds the server's own lines (runner lost, requeued) to a log.
func (s *Server) appendLog(ctx context.Context, j *store.Job, text string) {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	if _, err := s.blobs.Append(ctx, logKey(j.ID), []byte(text)); err == nil {
		_, _ = s.store.AddLogSize(ctx, j.ID, int64(len(text)))
		s.wake.notify(topicLog(j.ID))
	}
}

func (s *Server) uploadArtifact(w http.ResponseWriter, r *http.Request, p *principal) {
	ctx := r.Context()
	j, err := s.heldJob(ctx, r, p)
	if err != nil {
		s.fail(w, err)
		return
	}
	file := r.PathValue("file")
	if !validArtifactFile(file) {
		s.fail(w, statusError(http.StatusBadRequest, "artifact file %q: want one of %s", file, strings.Join(artifactFiles, ", ")))
		return
	}
	if _, err := s.blobs.Put(ctx, artifactKey(j.ID, file), http.MaxBytesReader(w, r.Body, maxArtifactUpload)); err != nil {
		s.fail(w, err)
		return
	}
	w.WriteHeader(http.StatusCreated)
}

func validArtifactFile(f string) bool {
	for _, a := range artifactFiles {
		if f == a {
			return true
		}
	}
	return false
}

// downloadArtifactFile gives a job the artifacts of another job of its
// pipeline.
func (s *Server) downloadArtifactFile(w http.ResponseWriter, r *http.Request, p *principal) {
	ctx := r.Context()
	j, err := s.heldJob(ctx, r, p)
	if err != nil {
		s.fail(w, err)
		return
	}
	depID, err := pathID(r, "dep")
	if err != nil {
		s.fail(w, err)
		return
	}
	dep, err := s.store.Job(ctx, depID)
	if err != nil || dep.PipelineID != j.PipelineID {
		s.fail(w, statusError(http.StatusNotFound, "job %d is not in this job's pipeline", depID))
		return
	}
	file := r.PathValue("file")
	if !validArtifactFile(file) {
		s.fail(w, statusError(http.StatusNotFound, "no artifact file %q", file))
		return
	}
	s.serveBlob(w, r, artifactKey(depID, file))
}

// serveBlob answers a blob with Last-Modified, so a runner that has the
// cache already gets 304 instead of the archive again.
func (s *Server) serveBlob(w http.ResponseWriter, r *http.Request, key string) {
	info, err := s.blobs.Stat(r.Context(), key)
	if err != nil {
		s.fail(w, statusError(http.StatusNotFound, "%s: not found", key))
		return
	}
	rc, _, err := s.blobs.Get(r.Context(), key)
	if err != nil {
		s.fail(w, statusError(http.StatusNotFound, "%s: not found", key))
		return
	}
	defer rc.Close()
	w.Header().Set("Content-Type", "application/octet-stream")
	http.ServeContent(w, r, "", info.ModTime, rc)
}

func (s *Server) getCache(w http.ResponseWriter, r *http.Request, p *principal) {
	j, err := s.heldJob(r.Context(), r, p)
	if err != nil {
		s.fail(w, err)
		return
	}
	s.serveBlob(w, r, cacheKey(j.ProjectID, r.PathValue("key")))
}

func (s *Server) putCache(w http.ResponseWriter, r *http.Request, p *principal) {
	j, err := s.heldJob(r.Context(), r, p)
	if err != nil {
		s.fail(w, err)
		return
	}
	if _, err := s.blobs.Put(r.Context(), cacheKey(j.ProjectID, r.PathValue("key")), http.MaxBytesReader(w, r.Body, maxCacheUpload)); err != nil {
		s.fail(w, err)
		return
	}
	w.WriteHeader(http.StatusCreated)
}

func (s *Server) finishJob(w http.ResponseWriter, r *http.Request, p *principal) {
	ctx := r.Context()
	if p.runner == nil {
		s.fail(w, statusError(http.StatusForbidden, "only runners finish jobs"))
		return
	}
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, err)
		return
	}
	var res runnerapi.Result
	if err := readJSON(w, r, &res); err != nil {
		s.fail(w, err)
		return
	}
	switch res.Status {
	case store.StatusSuccess, store.StatusFailed, store.StatusCanceled:
	default:
		s.fail(w, statusError(http.StatusBadRequest, "status %q: want success, failed or canceled", res.Status))
		return
	}
	detail, _ := json.Marshal(res)
	err = s.store.FinishJob(ctx, id, p.runner.ID, store.Result{
		Status: res.Status, ExitCode: res.ExitCode, FailureReason: res.Failure, Coverage: res.Coverage,
		Detail: detail, ArtifactsSize: res.ArtifactsSize, ArtifactsExpireAt: res.ArtifactsExpireAt,
		FinishedAt: time.Now().UTC(),
	})
	if err != nil {
		if errors.Is(err, store.ErrLeaseLost) {
			s.fail(w, &httpError{status: http.StatusConflict, err: err})
			return
		}
		s.fail(w, err)
		return
	}
	if j, err := s.store.Job(ctx, id); err == nil {
		s.met.jobFinished(j)
		s.jobChanged(ctx, j)
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": res.Status})
}
