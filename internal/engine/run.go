package engine

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/gantry-ci/gantry/internal/mask"
	"github.com/gantry-ci/gantry/internal/pipeline"
	"github.com/gantry-ci/gantry/internal/plan"
)

// Run runs the plan with w and returns when every job has ended. It fails
// only when the plan cannot be run at all (not created, a need on a job
// that does not exist, a cycle, a manual job to play that is not in the
// pipeline); everything that happens to jobs is in the Summary.
//
// Cancelling ctx cancels the running jobs (their Worker sees ctx done) and
// every job not started yet; the pipeline then ends canceled.
//
// Scheduling is event driven: finishing a job touches only the jobs that
// need it and, once its stage is complete, the jobs of the next stage, so
// the cost is linear in jobs plus needs whatever the shape of the graph.
func Run(ctx context.Context, p *plan.Plan, w Worker, opts Options) (*Summary, error) {
	if p == nil {
		return nil, errors.New("run pipeline: no plan")
	}
	if !p.Created {
		return nil, fmt.Errorf("run pipeline: the pipeline was not created: %s", p.Reason)
	}
	if w == nil {
		return nil, errors.New("run pipeline: no worker")
	}
	g, err := newGraph(p)
	if err != nil {
		return nil, fmt.Errorf("run pipeline: %w", err)
	}
	if err := markPlayed(g, opts); err != nil {
		return nil, fmt.Errorf("run pipeline: %w", err)
	}
	s := newScheduler(ctx, p, g, w, opts)
	return s.run(), nil
}

// markPlayed flags the manual jobs the user asked to run.
func markPlayed(g *graph, opts Options) error {
	play := map[string]bool{}
	for _, name := range opts.Manual {
		play[name] = false
	}
	for _, n := range g.nodes {
		if opts.AllManual {
			n.played = true
		}
		for _, name := range []string{n.job.Name, n.job.Base} {
			if _, ok := play[name]; ok {
				play[name] = true
				n.played = true
			}
		}
	}
	for _, name := range opts.Manual {
		if !play[name] {
			return fmt.Errorf("manual job %q to play is not in the pipeline", name)
		}
	}
	return nil
}

// scheduler runs one pipeline. All its fields except emitMu-guarded
// emission are used by the goroutine of Run only; job attempts, timers and
// lock waits run in their own goroutines and report back through msgs.
type scheduler struct {
	ctx    context.Context
	plan   *plan.Plan
	g      *graph
	w      Worker
	opts   Options
	clock  Clock
	locker ResourceLocker
	masker *mask.Masker
	nextID func() int64
	conc   int

	emitMu sync.Mutex

	msgs        chan message
	outstanding int // goroutines that will send one message each
	running     int
	queue       []*node // pending attempts, first come first served
	evalq       []*node // jobs whose prerequisites are all done
	finished    int
	canceled    bool

	// Stage order: frontier is the first stage with unfinished jobs;
	// prefix combines every job before it; atStage[s] is prefix as it was
	// when stage s became the frontier, which its stage jobs are judged by.
	frontier  int
	stageLeft []int
	prefix    composite
	atStage   []composite
}

type msgKind uint8

const (
	msgAttempt msgKind = iota
	msgDelay
	msgLocked
)

// message is what a helper goroutine reports.
type message struct {
	kind   msgKind
	node   *node
	unlock func()
	err    error
	att    attempt
}

func newScheduler(ctx context.Context, p *plan.Plan, g *graph, w Worker, opts Options) *scheduler {
	s := &scheduler{ctx: ctx, plan: p, g: g, w: w, opts: opts, msgs: make(chan message)}
	s.clock = opts.Clock
	if s.clock == nil {
		s.clock = realClock{}
	}
	s.locker = opts.ResourceLocker
	if s.locker == nil {
		s.locker = NewResourceLocker()
	}
	s.masker = opts.Masker
	if s.masker == nil {
		s.masker = mask.New(opts.Secrets)
	} else if len(opts.Secrets) > 0 {
		s.masker = s.masker.With(opts.Secrets...)
	}
	s.nextID = opts.IDs
	if s.nextID == nil {
		var id int64
		s.nextID = func() int64 { id++; return id }
	}
	s.conc = opts.Concurrency
	if s.conc <= 0 {
		s.conc = runtime.NumCPU()
	}
	s.stageLeft = make([]int, len(g.stages))
	for i, jobs := range g.inStage {
		s.stageLeft[i] = len(jobs)
	}
	s.atStage = make([]composite, len(g.stages))
	return s
}

func (s *scheduler) run() *Summary {
	start := s.clock.Now()
	s.emitStarted(start)
	for _, n := range s.g.nodes {
		if n.dag && n.waiting == 0 {
			s.evalq = append(s.evalq, n)
		}
	}
	if len(s.g.stages) > 0 {
		s.evalq = append(s.evalq, s.nodesOf(s.g.stageJobs[0])...)
	}
	s.advanceStages()
	done := s.ctx.Done()
	if s.ctx.Err() != nil {
		s.cancelAll()
	}
	s.settle()
	for s.finished < len(s.g.nodes) || s.outstanding > 0 {
		if s.outstanding == 0 {
			s.abandon()
			break
		}
		select {
		case m := <-s.msgs:
			s.outstanding--
			s.handle(m)
		case <-done:
			done = nil
			s.cancelAll()
		}
		s.settle()
	}
	sum := &Summary{Status: s.pipelineStatus(), Started: start, Duration: s.clock.Now().Sub(start)}
	for _, n := range s.g.nodes {
		sum.Jobs = append(sum.Jobs, n.result)
	}
	s.emit(PipelineFinished{Type: TypePipelineFinished, Status: sum.Status, Duration: sum.Duration, Time: s.clock.Now()})
	return sum
}

func (s *scheduler) nodesOf(idx []int) []*node {
	out := make([]*node, len(idx))
	for i, j := range idx {
		out[i] = s.g.nodes[j]
	}
	return out
}

func (s *scheduler) emitStarted(now time.Time) {
	ev := PipelineStarted{Type: TypePipelineStarted, Status: StatusRunning, Name: s.plan.Name, Stages: s.g.stages, Time: now}
	for _, n := range s.g.nodes {
		info := JobInfo{Name: n.job.Name, Stage: n.job.Stage, When: whenOf(n.job)}
		if n.dag {
			info.Needs = make([]string, 0, len(n.needs))
			for _, i := range n.needs {
				info.Needs = append(info.Needs, s.g.nodes[i].job.Name)
			}
		}
		ev.Jobs = append(ev.Jobs, info)
	}
	s.emit(ev)
}

func (s *scheduler) emit(e Event) {
	if s.opts.Sink == nil {
		return
	}
	s.emitMu.Lock()
	defer s.emitMu.Unlock()
	s.opts.Sink.Emit(e)
}

// settle judges every job whose prerequisites are done, then starts as
// many queued attempts as there are free slots.
func (s *scheduler) settle() {
	for len(s.evalq) > 0 {
		n := s.evalq[0]
		s.evalq = s.evalq[1:]
		s.evaluate(n)
	}
	for !s.canceled && s.running < s.conc && len(s.queue) > 0 {
		n := s.queue[0]
		s.queue = s.queue[1:]
		s.start(n)
	}
}

func whenOf(j *plan.Job) pipeline.When {
	if j.When == "" {
		return pipeline.WhenOnSuccess
	}
	return j.When
}

// evaluate decides what happens to a job whose prerequisites are done.
func (s *scheduler) evaluate(n *node) {
	if n.state != stateCreated {
		return
	}
	var c composite
	if n.dag {
		for _, i := range n.needs {
			c.add(s.g.nodes[i])
		}
	} else {
		c = s.atStage[n.stage]
	}
	st := c.status(n.dag)
	when := whenOf(n.job)
	if st == compManual {
		n.blockedBy = c.blocker
		s.settleUnrun(n, StatusSkipped, "blocked by manual job "+c.blocker)
		return
	}
	if !runs(when, n.dag, st) {
		s.settleUnrun(n, StatusSkipped, skipReason(when, n.dag, st))
		return
	}
	switch {
	case when == pipeline.WhenManual && !n.played:
		reason := "manual job not played"
		if !n.job.AllowFailure.Allowed {
			n.blockedBy = n.job.Name
			reason += "; the jobs after it are blocked"
		}
		s.settleUnrun(n, StatusManual, reason)
		return
	case when == pipeline.WhenDelayed && n.job.StartIn > 0:
		n.state = stateScheduled
		s.emit(JobScheduled{Type: TypeJobScheduled, Job: n.job.Name, Status: StatusScheduled, StartIn: n.job.StartIn, Time: s.clock.Now()})
		s.outstanding++
		go func(d time.Duration) {
			select {
			case <-s.clock.After(d):
			case <-s.ctx.Done():
			}
			s.msgs <- message{kind: msgDelay, node: n}
		}(n.job.StartIn)
		return
	}
	s.enqueue(n)
}

// enqueue makes the job's next attempt wait for its resource_group, if
// any, and then for a slot.
func (s *scheduler) enqueue(n *node) {
	s.emit(JobQueued{Type: TypeJobQueued, Job: n.job.Name, Status: StatusPending, Attempt: n.attempt + 1, Time: s.clock.Now()})
	group := resourceGroup(n.job)
	if group == "" {
		n.state = statePending
		s.queue = append(s.queue, n)
		return
	}
	n.state = stateLocking
	s.outstanding++
	go func() {
		unlock, err := s.locker.Lock(s.ctx, group)
		s.msgs <- message{kind: msgLocked, node: n, unlock: unlock, err: err}
	}()
}

func (s *scheduler) handle(m message) {
	n := m.node
	switch m.kind {
	case msgDelay:
		if n.state == stateScheduled {
			s.enqueue(n)
		}
	case msgLocked:
		if n.state != stateLocking {
			if m.err == nil && m.unlock != nil {
				m.unlock()
			}
			return
		}
		if m.err != nil {
			n.result.Failure = FailureRunnerSystem
			n.result.ExitCode = -1
			s.settleUnrun(n, StatusFailed, fmt.Sprintf("resource_group: %v", m.err))
			return
		}
		n.unlock = m.unlock
		n.state = statePending
		s.queue = append(s.queue, n)
	case msgAttempt:
		s.running--
		s.finishAttempt(n, m.att)
	}
}

// settleUnrun ends a job that did not run (this time).
func (s *scheduler) settleUnrun(n *node, status Status, reason string) {
	n.result.Status = status
	n.result.Reason = reason
	n.result.AllowedFailure = status == StatusFailed && allowedFailure(n.job.AllowFailure, n.result.ExitCode)
	s.emit(JobFinished{
		Type: TypeJobFinished, Job: n.job.Name, Status: status, Reason: reason,
		Attempt: n.attempt, ID: n.result.ID, ExitCode: n.result.ExitCode, Failure: n.result.Failure,
		AllowedFailure: n.result.AllowedFailure, Time: s.clock.Now(),
	})
	s.done(n)
}

// done records that n's result is final and wakes what waited for it.
func (s *scheduler) done(n *node) {
	n.state = stateDone
	s.finished++
	for _, d := range n.dependents {
		m := s.g.nodes[d]
		m.waiting--
		if m.waiting == 0 {
			s.evalq = append(s.evalq, m)
		}
	}
	s.stageLeft[n.stage]--
	s.advanceStages()
}

// advanceStages moves the frontier past complete stages and releases the
// stage-ordered jobs of the new frontier.
func (s *scheduler) advanceStages() {
	for s.frontier < len(s.g.stages) && s.stageLeft[s.frontier] == 0 {
		for _, i := range s.g.inStage[s.frontier] {
			s.prefix.add(s.g.nodes[i])
		}
		s.frontier++
		if s.frontier < len(s.g.stages) {
			s.atStage[s.frontier] = s.prefix
			s.evalq = append(s.evalq, s.nodesOf(s.g.stageJobs[s.frontier])...)
		}
	}
}

// cancelAll ends every job that is not running; running attempts see ctx
// done and end canceled when their Worker returns.
func (s *scheduler) cancelAll() {
	s.canceled = true
	s.evalq = nil
	s.queue = nil
	for _, n := range s.g.nodes {
		switch n.state {
		case stateRunning, stateDone:
			continue
		}
		if n.unlock != nil {
			n.unlock()
			n.unlock = nil
		}
		s.settleUnrun(n, StatusCanceled, "the pipeline was canceled")
	}
	s.evalq = nil
}

// abandon ends jobs that can never start. Validation rules this out; it
// is here so that a mistake ends the run instead of hanging it.
func (s *scheduler) abandon() {
	for _, n := range s.g.nodes {
		if n.state == stateCreated {
			s.settleUnrun(n, StatusSkipped, "its prerequisites never finished")
		}
	}
	s.evalq = nil
}

func (s *scheduler) pipelineStatus() Status {
	if s.canceled {
		return StatusCanceled
	}
	status := StatusSuccess
	for _, n := range s.g.nodes {
		switch {
		case n.result.Status == StatusFailed && !n.result.AllowedFailure:
			return StatusFailed
		case n.result.Status == StatusManual && n.blockedBy != "":
			status = StatusBlocked
		case n.result.Status == StatusCanceled && status == StatusSuccess:
			status = StatusCanceled
		}
	}
	return status
}
