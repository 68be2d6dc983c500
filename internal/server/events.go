package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/gantry-ci/gantry/internal/store"
)

// event appends to the event log that live views follow.
func (s *Server) event(ctx context.Context, projectID, pipelineID, jobID int64, typ string, data any) {
	raw, err := json.Marshal(data)
	if err != nil {
		s.log.Error("encode event", "type", typ, "err", err)
		return
	}
	e := &store.Event{ProjectID: projectID, PipelineID: pipelineID, JobID: jobID, Type: typ, Data: raw, CreatedAt: time.Now().UTC()}
	if err := s.store.AppendEvent(ctx, e); err != nil {
		s.log.Error("append event", "type", typ, "err", err)
		return
	}
	s.wake.notify(topicEvents)
}

// sseKeepAlive keeps proxies from closing an idle stream.
const sseKeepAlive = 15 * time.Second

// streamEvents is GET /api/v1/events?project=NAME&pipeline=ID&job=ID as
// Server-Sent Events. Each event's id is its position in the log; a client
// reconnecting with Last-Event-ID (or ?after=) misses nothing.
func (s *Server) streamEvents(w http.ResponseWriter, r *http.Request, p *principal) {
	ctx := r.Context()
	q := r.URL.Query()
	var f store.EventFilter
	var err error
	switch {
	case q.Get("job") != "":
		var id int64
		if id, err = strconv.ParseInt(q.Get("job"), 10, 64); err == nil {
			var j *store.Job
			if j, _, err = s.jobFor(ctx, id, p); err == nil {
				f.JobID = j.ID
			}
		}
	case q.Get("pipeline") != "":
		var id int64
		if id, err = strconv.ParseInt(q.Get("pipeline"), 10, 64); err == nil {
			var pipe *store.Pipeline
			if pipe, _, err = s.pipelineFor(ctx, id, p); err == nil {
				f.PipelineID = pipe.ID
			}
		}
	case q.Get("project") != "":
		r.SetPathValue("project", q.Get("project"))
		var proj *store.Project
		if proj, err = s.readableProject(ctx, r, p); err == nil {
			f.ProjectID = proj.ID
		}
	default:
		if !p.user() {
			err = statusError(http.StatusForbidden, "following every project's events needs a user token; add ?project=")
		}
	}
	if err != nil {
		s.fail(w, err)
		return
	}
	after, _ := strconv.ParseInt(r.Header.Get("Last-Event-ID"), 10, 64)
	if v := q.Get("after"); v != "" {
		after, _ = strconv.ParseInt(v, 10, 64)
	}
	if after < 0 {
		after = 0
	}
	flush := startSSE(w)
	keep := time.NewTicker(sseKeepAlive)
	defer keep.Stop()
	for {
		woken := s.wake.wait(topicEvents)
		evs, err := s.store.EventsAfter(ctx, after, f, 500)
		if err != nil {
			return
		}
		for _, e := range evs {
			fmt.Fprintf(w, "id: %d\nevent: %s\ndata: %s\n\n", e.ID, e.Type, e.Data)
			after = e.ID
		}
		flush()
		if len(evs) == 500 {
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-woken:
		case <-time.After(pollEvery):
		case <-keep.C:
			io.WriteString(w, ": keep-alive\n\n")
			flush()
		}
	}
}

// streamLog is GET /api/v1/jobs/{id}/log/stream?offset=N: the log as
// Server-Sent Events of chunks ("log" events whose id is the offset after
// the chunk, data a JSON string), then one "end" event once the job has
// ended and everything was sent.
func (s *Server) streamLog(w http.ResponseWriter, r *http.Request, p *principal) {
	ctx := r.Context()
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, err)
		return
	}
	if _, _, err := s.jobFor(ctx, id, p); err != nil {
		s.fail(w, err)
		return
	}
	offset, _ := strconv.ParseInt(r.Header.Get("Last-Event-ID"), 10, 64)
	if v := r.URL.Query().Get("offset"); v != "" {
		offset, _ = strconv.ParseInt(v, 10, 64)
	}
	flush := startSSE(w)
	keep := time.NewTicker(sseKeepAlive)
	defer keep.Stop()
	buf := make([]byte, 64<<10)
	for {
		woken := s.wake.wait(topicLog(id))
		j, err := s.store.Job(ctx, id)
		if err != nil {
			return
		}
		offset = s.sendLog(ctx, w, id, offset, buf)
		flush()
		if store.Finished(j.Status) || j.Retried {
			if offset >= s.logSize(ctx, id) {
				fmt.Fprintf(w, "event: end\ndata: %q\n\n", j.Status)
				flush()
				return
			}
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-woken:
		case <-time.After(pollEvery):
		case <-keep.C:
			io.WriteString(w, ": keep-alive\n\n")
			flush()
		}
	}
}

// sendLog writes the log from offset as events and returns the new offset.
func (s *Server) sendLog(ctx context.Context, w io.Writer, id, offset int64, buf []byte) int64 {
	rc, size, err := s.blobs.Get(ctx, logKey(id))
	if err != nil {
		return offset
	}
	defer rc.Close()
	if offset > size || offset < 0 {
		offset = size
	}
	if _, err := rc.Seek(offset, io.SeekStart); err != nil {
		return offset
	}
	for offset < size {
		n, err := rc.Read(buf[:min(int64(len(buf)), size-offset)])
		if n > 0 && offset+int64(n) < size {
			// Keep a character cut by the chunk's end for the next event:
			// JSON would turn its half into U+FFFD.
			n = utf8Boundary(buf[:n])
			if _, serr := rc.Seek(offset+int64(n), io.SeekStart); serr != nil {
				break
			}
		}
		if n > 0 {
			data, _ := json.Marshal(string(buf[:n]))
			offset += int64(n)
			fmt.Fprintf(w, "id: %d\nevent: log\ndata: %s\n\n", offset, data)
		}
		if err != nil {
			break
		}
	}
	return offset
}

// utf8Boundary is len(p) less the bytes of a UTF-8 sequence cut at its
// end (at most 3), unless that would leave nothing.
func utf8Boundary(p []byte) int {
	for back := 1; back <= 3 && back <= len(p); back++ {
		c := p[len(p)-back]
		if c < 0x80 {
			return len(p) // ASCII: nothing cut
		}
		if c >= 0xC0 { // the first byte of a sequence
			need := 2
			if c >= 0xE0 {
				need = 3
			}
			if c >= 0xF0 {
				need = 4
			}
			if back < need && back < len(p) {
				return len(p) - back
			}
			return len(p)
		}
	}
	return len(p)
}

// startSSE sets the headers of an event stream and returns its flush.
func startSSE(w http.ResponseWriter) func() {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	flush := func() { _ = rc.Flush() }
	flush()
	return flush
}
