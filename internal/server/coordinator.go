package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gantry-ci/gantry/internal/engine"
	"github.com/gantry-ci/gantry/internal/runnerapi"
	"github.com/gantry-ci/gantry/internal/store"
)

// Why a pipeline's engine run was stopped. Only errPipelineCanceled is the
// user's: the others leave the job rows as they are, for the next replay.
var (
	errPipelineCanceled = errors.New("pipeline canceled")
	errShutdown         = errors.New("server shutting down")
	errReplay           = errors.New("pipeline changed: replaying")
	errLostOwnership    = errors.New("another server took the pipeline over")
)

// coordLease is how long this server holds a pipeline without renewing;
// another server takes it over after that.
const coordLease = 30 * time.Second

// coordinator runs the engine for the pipelines this server holds.
type coordinator struct {
	s      *Server
	locker engine.ResourceLocker
	quit   atomic.Bool

	mu   sync.Mutex
	runs map[int64]*pipelineRun
	wg   sync.WaitGroup
}

// pipelineRun is one engine run of one pipeline.
type pipelineRun struct {
	id     int64
	ctx    context.Context
	cancel context.CancelCauseFunc
	done   chan struct{}

	mu    sync.Mutex
	calls map[string]int // RunJob calls per job in this run: the attempt index
}

func newCoordinator(s *Server) *coordinator {
	return &coordinator{s: s, locker: engine.NewResourceLocker(), runs: map[int64]*pipelineRun{}}
}

// run claims pipelines and watches job leases until ctx ends.
func (c *coordinator) run(ctx context.Context) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		wake := c.s.wake.wait(topicCoord)
		c.claim(ctx)
		c.expireLeases(ctx)
		select {
		case <-ctx.Done():
			c.wg.Wait()
			return
		case <-wake:
		case <-tick.C:
		}
	}
}

// stopping makes every engine run end without touching job rows.
func (c *coordinator) stopping() {
	c.quit.Store(true)
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, r := range c.runs {
		r.cancel(errShutdown)
	}
}

func (c *coordinator) claim(ctx context.Context) {
	if c.quit.Load() {
		return
	}
	ids, err := c.s.store.ClaimPipelines(ctx, c.s.owner, time.Now().Add(coordLease), 1000)
	if err != nil {
		if ctx.Err() == nil {
			c.s.log.Error("claim pipelines", "err", err)
		}
		return
	}
	held := map[int64]bool{}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, id := range ids {
		held[id] = true
		if _, ok := c.runs[id]; ok {
			continue
		}
		c.start(ctx, id)
	}
	for id, r := range c.runs {
		if !held[id] {
			r.cancel(errLostOwnership)
		}
	}
}

// start begins an engine run of pipeline id; c.mu is held.
func (c *coordinator) start(ctx context.Context, id int64) {
	rctx, cancel := context.WithCancelCause(ctx)
	r := &pipelineRun{id: id, ctx: rctx, cancel: cancel, done: make(chan struct{}), calls: map[string]int{}}
	c.runs[id] = r
	c.wg.Go(func() {
		defer close(r.done)
		again := c.s.runPipeline(r)
		c.mu.Lock()
		delete(c.runs, id)
		c.mu.Unlock()
		cancel(nil)
		if again {
			c.s.wake.notify(topicCoord)
		}
	})
}

// poke makes a pipeline's engine run start over (a manual job was played,
// a job retried) or, with cause errPipelineCanceled, cancels it.
func (c *coordinator) poke(id int64, cause error) {
	c.mu.Lock()
	r, ok := c.runs[id]
	c.mu.Unlock()
	if ok {
		r.cancel(cause)
	}
	c.s.wake.notify(topicCoord)
}

// cancelOwned ends, on a graceful shutdown, the pipelines this server
// still holds: their unfinished jobs and they themselves are recorded
// canceled, so nothing is left running with nobody to finish it.
func (c *coordinator) cancelOwned(ctx context.Context) {
	ids, err := c.s.store.ClaimPipelines(ctx, c.s.owner, time.Now().Add(coordLease), 1000)
	if err != nil {
		c.s.log.Error("claim pipelines to cancel on shutdown", "err", err)
		return
	}
	for _, id := range ids {
		if err := c.s.cancelPipeline(ctx, id, "the server shut down"); err != nil {
			c.s.log.Error("cancel pipeline on shutdown", "pipeline", id, "err", err)
		}
		_ = c.s.store.ReleasePipeline(ctx, c.s.owner, id)
	}
}

// runPipeline replays pipeline r.id through the engine and records how it
// ended. It reports whether the pipeline must be run again at once.
func (s *Server) runPipeline(r *pipelineRun) (again bool) {
	ctx := r.ctx
	bg := context.WithoutCancel(ctx)
	p, err := s.store.Pipeline(bg, r.id)
	if err != nil {
		s.log.Error("load pipeline", "pipeline", r.id, "err", err)
		return false
	}
	if store.Finished(p.Status) {
		_ = s.store.ReleasePipeline(bg, s.owner, p.ID)
		return false
	}
	proj, err := s.store.ProjectByID(bg, p.ProjectID)
	if err != nil {
		s.log.Error("load project", "pipeline", r.id, "err", err)
		return false
	}
	fail := func(err error) bool {
		s.log.Error("plan pipeline", "pipeline", p.ID, "err", err)
		p.Status, p.Error, p.FinishedAt = store.StatusFailed, err.Error(), time.Now().UTC()
		s.savePipeline(bg, proj, p)
		s.notifyPipeline(bg, proj, p)
		_ = s.store.ReleasePipeline(bg, s.owner, p.ID)
		return false
	}
	m, err := s.mirror.get(ctx, proj)
	if err != nil {
		return fail(err)
	}
	pl, err := s.plan(ctx, proj, p, m)
	if err != nil {
		if ctx.Err() != nil {
			return false
		}
		return fail(err)
	}
	jobs, err := s.store.Jobs(bg, p.ID)
	if err != nil {
		s.log.Error("load jobs", "pipeline", p.ID, "err", err)
		return false
	}
	var played []string
	for _, j := range jobs {
		if j.Played && !j.Retried {
			played = append(played, j.Name)
		}
	}
	own, err := s.openVariables(proj, p.Variables)
	if err != nil {
		return fail(err)
	}
	if p.Status != store.StatusRunning {
		p.Status = store.StatusPending
		if p.StartedAt.IsZero() {
			p.StartedAt = time.Now().UTC()
		}
		s.savePipeline(bg, proj, p)
	}
	w := &queueWorker{s: s, run: r, proj: proj, pipe: p}
	sum, err := engine.Run(ctx, pl, w, engine.Options{
		Concurrency:       len(pl.Jobs) + 1, // the queue and runners limit what really runs
		Manual:            dedupe(played),
		Sink:              &storeSink{s: s, run: r, proj: proj, pipe: p},
		PipelineVariables: own,
		ResourceLocker:    s.coord.locker,
	})
	switch cause := context.Cause(ctx); {
	case errors.Is(cause, errReplay):
		return true
	case errors.Is(cause, errShutdown), errors.Is(cause, errLostOwnership):
		return false
	}
	if err != nil {
		return fail(err)
	}
	p, err = s.store.Pipeline(bg, r.id)
	if err != nil {
		return false
	}
	if s.needsReplay(bg, p.ID) {
		// Someone played or retried a job while the engine was finishing.
		return true
	}
	p.Status = jobStatus(sum.Status)
	if p.Status != store.StatusManual {
		p.FinishedAt = time.Now().UTC()
	}
	s.savePipeline(bg, proj, p)
	s.met.pipelineFinished(p)
	if store.Finished(p.Status) {
		s.notifyPipeline(bg, proj, p)
	}
	_ = s.store.ReleasePipeline(bg, s.owner, p.ID)
	return false
}

// needsReplay says whether a job was played or retried after the
// engine read the rows: every job the engine settled has left "created".
func (s *Server) needsReplay(ctx context.Context, pipelineID int64) bool {
	jobs, err := s.store.Jobs(ctx, pipelineID)
	if err != nil {
		return false
	}
	for _, j := range jobs {
		if !j.Retried && j.Status == store.StatusCreated {
			return true
		}
	}
	return false
}

func dedupe(names []string) []string {
	seen := map[string]bool{}
	out := names[:0]
	for _, n := range names {
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out
}

// savePipeline writes p and tells the live views.
func (s *Server) savePipeline(ctx context.Context, proj *store.Project, p *store.Pipeline) {
	if err := s.store.UpdatePipeline(ctx, p); err != nil {
		s.log.Error("update pipeline", "pipeline", p.ID, "err", err)
		return
	}
	s.event(ctx, p.ProjectID, p.ID, 0, "pipeline", pipelineView(proj, p))
}

// saveJob writes j and tells the live views and whoever waits for it.
func (s *Server) saveJob(ctx context.Context, j *store.Job) error {
	if err := s.store.UpdateJob(ctx, j); err != nil {
		return fmt.Errorf("update job %d: %w", j.ID, err)
	}
	s.jobChanged(ctx, j)
	return nil
}

func (s *Server) jobChanged(ctx context.Context, j *store.Job) {
	s.event(ctx, j.ProjectID, j.PipelineID, j.ID, "job", jobView(j))
	s.wake.notify(topicJob(j.ID))
}

// storeSink records what the engine decides about jobs that never reach
// a runner (skipped, manual, canceled before they started) and marks
// attempts the engine retries. Attempts themselves are recorded by the
// queue as runners report them.
type storeSink struct {
	s    *Server
	run  *pipelineRun
	proj *store.Project
	pipe *store.Pipeline
}

func (k *storeSink) Emit(e engine.Event) {
	ctx := context.WithoutCancel(k.run.ctx)
	if cause := context.Cause(k.run.ctx); cause != nil && !errors.Is(cause, errPipelineCanceled) {
		return // the next replay decides again
	}
	f, ok := e.(engine.JobFinished)
	if !ok {
		return
	}
	rows, err := k.s.lineage(ctx, k.pipe.ID, f.Job)
	if err != nil || len(rows) == 0 {
		return
	}
	if f.ID != 0 {
		if f.WillRetry {
			k.run.mu.Lock()
			idx := k.run.calls[f.Job] - 1
			k.run.mu.Unlock()
			if idx >= 0 && idx < len(rows) && !rows[idx].Retried {
				rows[idx].Retried = true
				_ = k.s.saveJob(ctx, rows[idx])
			}
		}
		return
	}
	row := rows[len(rows)-1]
	switch row.Status {
	case store.StatusCreated, store.StatusManual, store.StatusSkipped:
	default:
		return // it ran: what it did stands
	}
	status := jobStatus(f.Status)
	if row.Status == status && row.Reason == f.Reason {
		return
	}
	row.Status, row.Reason = status, f.Reason
	if status == store.StatusCanceled || status == store.StatusSkipped {
		row.FinishedAt = time.Now().UTC()
	}
	_ = k.s.saveJob(ctx, row)
}

// reasonRequeued marks an attempt replaced by a new one because its
// runner vanished; replays look through it to its successor.
const reasonRequeued = "requeued: its runner stopped renewing the lease"

// reasonUserRetry marks the attempts a user's retry replaced.
const reasonUserRetry = "retried by "

// lineage returns the attempts of a job that the current engine run
// counts, oldest first: those after the last user retry, without the
// ones requeued after a runner was lost.
func (s *Server) lineage(ctx context.Context, pipelineID int64, name string) ([]*store.Job, error) {
	jobs, err := s.store.Jobs(ctx, pipelineID)
	if err != nil {
		return nil, err
	}
	var rows []*store.Job
	for _, j := range jobs {
		if j.Name != name {
			continue
		}
		switch {
		case j.Retried && strings.HasPrefix(j.Reason, reasonUserRetry):
			rows = rows[:0]
		case j.Reason == reasonRequeued && j.Retried:
		default:
			rows = append(rows, j)
		}
	}
	return rows, nil
}

// outcomeOf turns a finished job row into what the engine expects.
func outcomeOf(j *store.Job) engine.Outcome {
	out := engine.Outcome{ExitCode: j.ExitCode, Failure: j.FailureReason, Coverage: j.Coverage}
	var r runnerapi.Result
	if len(j.Result) > 0 && json.Unmarshal(j.Result, &r) == nil {
		out = r.Outcome()
	}
	if j.Status != store.StatusSuccess && out.Failure == "" {
		out.Failure = engine.FailureScript
		if out.ExitCode == 0 {
			out.ExitCode = -1
		}
	}
	return out
}
