package ui

import (
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"strconv"

	"github.com/gantry-ci/gantry/internal/store"
)

// serverLogLimit is the largest log of an ended job rendered on the
// server: the page then reads without JavaScript. Longer logs, and logs
// still growing, are streamed and rendered by the browser in slices.
const serverLogLimit = 512 << 10

// jobResult is the part of a job's stored result (runnerapi.Result) the
// page shows.
type jobResult struct {
	Tests *struct {
		Tests       int      `json:"tests"`
		Failed      int      `json:"failed"`
		Errored     int      `json:"errored"`
		Skipped     int      `json:"skipped"`
		FailedNames []string `json:"failed_names"`
	} `json:"tests"`
	Error string `json:"error"`
}

type jobData struct {
	base
	Job      *store.Job
	Pipeline *store.Pipeline
	Attempts []*store.Job
	Runner   string
	Env      *Environment
	Needs    []string
	Result   jobResult
	// Log is the rendered log when the server rendered it; LogStream
	// is the stream the browser reads it from otherwise.
	Log       template.HTML
	LogSize   int64
	LogStream string
	Card      *card
}

func (h *Handler) jobPage(w http.ResponseWriter, r *http.Request, q *req) error {
	ctx := r.Context()
	proj, j, err := h.jobOf(r)
	if err != nil {
		return err
	}
	// The pipeline narrows the search to an indexed range of the log.
	after := h.lastEventID(ctx, store.EventFilter{PipelineID: j.PipelineID, JobID: j.ID})
	pipe, err := h.st.Pipeline(ctx, j.PipelineID)
	if err != nil {
		return err
	}
	d := &jobData{base: q.base(fmt.Sprintf("%s · %s #%d", proj.Name, j.Name, j.ID), proj, "pipelines"), Job: j, Pipeline: pipe}
	d.Events = "/-/events?job=" + strconv.FormatInt(j.ID, 10) + "&after=" + strconv.FormatInt(after, 10)
	jobs, err := h.st.Jobs(ctx, pipe.ID)
	if err != nil {
		return err
	}
	for _, o := range jobs {
		if o.Name == j.Name {
			d.Attempts = append(d.Attempts, o)
		}
	}
	if g, err := h.be.PipelineGraph(ctx, proj, pipe); err == nil && g != nil {
		d.Env, d.Needs = g.Jobs[j.Name].Environment, g.Jobs[j.Name].Needs
	}
	d.Card = &card{Job: j, Env: d.Env}
	if j.RunnerID != 0 {
		d.Runner = "#" + strconv.FormatInt(j.RunnerID, 10)
		if rs, err := h.be.Runners(ctx); err == nil {
			for _, rn := range rs {
				if rn.ID == j.RunnerID {
					d.Runner = rn.Name
				}
			}
		}
	}
	if len(j.Result) > 0 {
		_ = json.Unmarshal(j.Result, &d.Result)
	}
	d.LogSize = j.LogSize
	ended := store.Finished(j.Status) || j.Retried
	if ended && j.LogSize <= serverLogLimit && r.Header.Get(fragmentHeader) == "" {
		rc, size, err := h.be.JobLog(ctx, j.ID)
		if err != nil {
			return err
		}
		data, err := io.ReadAll(io.LimitReader(rc, serverLogLimit+1))
		rc.Close()
		if err != nil {
			return fmt.Errorf("read the log of job %d: %w", j.ID, err)
		}
		if len(data) <= serverLogLimit {
			d.Log, d.LogSize = logHTML(data), size
		}
	}
	if d.Log == "" && !(ended && j.LogSize == 0) {
		d.LogStream = jobURL(proj, j.ID) + "/log/stream"
	}
	h.render(w, r, http.StatusOK, "job", d)
	return nil
}

func (h *Handler) rawLog(w http.ResponseWriter, r *http.Request, q *req) error {
	_, j, err := h.jobOf(r)
	if err != nil {
		return err
	}
	rc, size, err := h.be.JobLog(r.Context(), j.ID)
	if err != nil {
		return err
	}
	defer rc.Close()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Content-Length", strconv.FormatInt(size, 10))
	_, _ = io.CopyN(w, rc, size)
	return nil
}

func (h *Handler) logStream(w http.ResponseWriter, r *http.Request, q *req) error {
	_, j, err := h.jobOf(r)
	if err != nil {
		return err
	}
	h.be.ServeLogStream(w, r, q.user, j.ID)
	return nil
}

type artifactsData struct {
	base
	Job     *store.Job
	Entries []ArtifactEntry
}

func (h *Handler) artifactsPage(w http.ResponseWriter, r *http.Request, q *req) error {
	proj, j, err := h.jobOf(r)
	if err != nil {
		return err
	}
	entries, err := h.be.Artifacts(r.Context(), j.ID)
	if err != nil {
		return err
	}
	d := &artifactsData{base: q.base(fmt.Sprintf("%s · artifacts of %s #%d", proj.Name, j.Name, j.ID), proj, "pipelines"), Job: j, Entries: entries}
	h.render(w, r, http.StatusOK, "artifacts", d)
	return nil
}

// artifactsDownload answers the zip of a job's artifacts, or one file of
// them with ?file=.
func (h *Handler) artifactsDownload(w http.ResponseWriter, r *http.Request, q *req) error {
	_, j, err := h.jobOf(r)
	if err != nil {
		return err
	}
	h.be.ServeArtifacts(w, r, q.user, j.ID)
	return nil
}
