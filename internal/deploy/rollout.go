package deploy

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/gantry-ci/gantry/internal/deploy/spec"
	"github.com/gantry-ci/gantry/internal/deploy/strategy"
	"github.com/gantry-ci/gantry/internal/deploy/target"
	"github.com/gantry-ci/gantry/internal/store"
)

// reopenEvery is how often a rollout whose listener could not be bound
// (the address was taken) tries again.
const reopenEvery = 2 * time.Second

// rollout is the state machine of one app in one environment. Its loop
// goroutine is the only one that decides and writes the record; the rest
// of the controller reads snapshots under mu.
type rollout struct {
	c    *Controller
	key  Key
	reqs chan *request
	// poke wakes the loop to decide again: an analysis run ended or a
	// guardrail tripped.
	poke chan struct{}
	an   *analyzer

	mu      sync.Mutex
	rec     *rolloutRecord
	version int64 // of the stored record, for PutRecord
	revs    map[int64]*loadedRevision
	env     target.Env // nil while the listener cannot be bound
	envErr  string
	subs    map[chan struct{}]struct{}

	// next is when the loop decides again without news (loop-owned).
	next time.Duration
}

// loadedRevision is a revision record with its spec parsed.
type loadedRevision struct {
	rec  *revisionRecord
	spec *spec.Spec
	dir  string
}

// request is something asked of a rollout: a strategy request (promote,
// abort…) and/or a change made to the record before deciding (a new
// revision, an undo).
type request struct {
	who    string
	strat  strategy.Request
	mutate func(ctx context.Context, ch *change) error
	reply  chan reply
}

type reply struct {
	status *Status
	rev    int64
	err    error
}

// change is one decision being made: the record as it will be saved and
// what to do once it is.
type change struct {
	rec    *rolloutRecord
	now    time.Time
	who    string
	status map[int64]target.RevisionStatus
	events []Event
	// rev is the revision a deploy or undo created (or switched to).
	rev int64
	// added are revisions to cache once the record is saved; removed are
	// revisions pruned from the history, deleted after.
	added   []*loadedRevision
	removed []int64
	// Metric increments, applied once the record is saved.
	deployed, succeeded, rolledBack int
}

func (ch *change) event(rev int64, reason, format string, args ...any) {
	ch.events = append(ch.events, Event{Time: ch.now, Revision: rev, Reason: reason, Message: fmt.Sprintf(format, args...), Who: ch.who})
}

func newRollout(c *Controller, k Key, rec *rolloutRecord, version int64) *rollout {
	r := &rollout{
		c: c, key: k, rec: rec, version: version,
		reqs: make(chan *request),
		poke: make(chan struct{}, 1),
		revs: map[int64]*loadedRevision{},
		subs: map[chan struct{}]struct{}{},
	}
	r.an = newAnalyzer(r)
	return r
}

// wake asks the loop for a decision without news from the target.
func (r *rollout) wake() {
	select {
	case r.poke <- struct{}{}:
	default:
	}
}

// loadRevisions reads the kept revisions' records.
func (r *rollout) loadRevisions(ctx context.Context) error {
	for _, s := range r.rec.Revisions {
		rr, err := loadRevision(ctx, r.c.cfg.Records, r.key, s.Revision)
		if err != nil {
			r.c.log.Error("restore revision", "rollout", r.key, "revision", s.Revision, "err", err)
			continue
		}
		lr, err := r.c.load(rr)
		if err != nil {
			r.c.log.Error("restore revision", "rollout", r.key, "revision", s.Revision, "err", err)
			continue
		}
		r.revs[s.Revision] = lr
	}
	return nil
}

// load parses a revision record's spec.
func (c *Controller) load(rr *revisionRecord) (*loadedRevision, error) {
	sp, err := spec.Parse(rr.SpecFile, []byte(rr.SpecYAML))
	if err != nil {
		return nil, fmt.Errorf("spec of revision %d: %w", rr.Revision, err)
	}
	lr := &loadedRevision{rec: rr, spec: sp}
	if rr.Artifact != "" {
		lr.dir = c.arts.path(rr.Artifact)
	}
	return lr, nil
}

func (r *rollout) revision(rev int64) *loadedRevision {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.revs[rev]
}

// specFor is the spec that drives the rollout now: the revision being
// rolled out's, else the stable one's; nil before the first revision.
func (r *rollout) specFor(rec *rolloutRecord) (*spec.Spec, *spec.Environment) {
	for _, rev := range []int64{rec.State.CanaryRevision, rec.State.StableRevision, rec.LastRevision} {
		if lr := r.revision(rev); rev != 0 && lr != nil {
			if env := lr.spec.Environment(r.key.Env); env != nil {
				return lr.spec, env
			}
		}
	}
	return nil, nil
}

// listenOf is where the newest revision wants the environment served.
func (r *rollout) listenOf(rec *rolloutRecord) (listen, preview string, ok bool) {
	lr := r.revision(rec.LastRevision)
	if lr == nil {
		return "", "", false
	}
	env := lr.spec.Environment(r.key.Env)
	if env == nil {
		return "", "", false
	}
	return env.Listen, previewListen(env), true
}

func previewListen(env *spec.Environment) string {
	if bg := env.Strategy.BlueGreen; bg != nil {
		return bg.PreviewListen
	}
	return ""
}

func (r *rollout) targetRevision(lr *loadedRevision) target.Revision {
	environ := make([]string, 0, len(lr.rec.Set))
	for _, k := range slices.Sorted(maps.Keys(lr.rec.Set)) {
		environ = append(environ, k+"="+lr.rec.Set[k])
	}
	return target.Revision{Number: lr.rec.Revision, Version: lr.rec.Version, Spec: lr.spec, Dir: lr.dir, Environ: environ}
}

// reopen binds the environment's listeners after a restart (or a failed
// bind) and applies the last decision again.
func (r *rollout) reopen() {
	r.mu.Lock()
	rec := r.rec
	r.mu.Unlock()
	listen, preview, ok := r.listenOf(rec)
	if !ok {
		r.setEnvErr(fmt.Sprintf("revision %d of %s is not available", rec.LastRevision, r.key))
		return
	}
	env, err := r.c.target.Open(r.c.ctx, r.envOptions(listen, preview))
	if err != nil {
		r.setEnvErr(err.Error())
		r.c.log.Error("serve environment", "rollout", r.key, "err", err)
		return
	}
	r.mu.Lock()
	r.env, r.envErr = env, ""
	r.mu.Unlock()
	r.apply(env, rec)
}

func (r *rollout) setEnvErr(msg string) {
	r.mu.Lock()
	r.envErr = msg
	r.mu.Unlock()
}

func (r *rollout) envOptions(listen, preview string) target.EnvOptions {
	restarts := r.c.met.restarts.WithLabelValues(r.key.Env, r.key.App)
	return target.EnvOptions{
		App: r.key.App, Env: r.key.Env, Listen: listen, PreviewListen: preview,
		OnRestart: func(int64) { restarts.Inc() },
	}
}

// run is the loop: decide on every replica change, timer and request.
func (r *rollout) run() {
	ctx := r.c.ctx
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		r.mu.Lock()
		env := r.env
		r.mu.Unlock()
		var changes <-chan struct{}
		if env != nil {
			changes = env.Changes()
		}
		r.next = 0
		select {
		case <-ctx.Done():
			return
		case <-changes:
			r.decide(nil)
		case <-r.poke:
			r.decide(nil)
		case <-timer.C:
			if env == nil {
				r.reopen()
			}
			r.decide(nil)
		case req := <-r.reqs:
			req.reply <- r.decide(req)
		}
		r.mu.Lock()
		waiting := r.env == nil
		r.mu.Unlock()
		switch {
		case waiting:
			timer.Reset(reopenEvery)
		case r.next > 0:
			timer.Reset(r.next)
		default:
			timer.Stop()
		}
	}
}

// do hands req to the loop and waits for its decision.
func (r *rollout) do(ctx context.Context, req *request) reply {
	req.reply = make(chan reply, 1)
	select {
	case r.reqs <- req:
	case <-ctx.Done():
		return reply{err: ctx.Err()}
	case <-r.c.ctx.Done():
		return reply{err: ErrClosed}
	}
	select {
	case rep := <-req.reply:
		return rep
	case <-ctx.Done():
		return reply{err: ctx.Err()}
	case <-r.c.ctx.Done():
		return reply{err: ErrClosed}
	}
}

// decide makes one decision: apply the request's change, ask the
// strategy, save the record, then (and only then) apply it.
func (r *rollout) decide(req *request) reply {
	ctx := r.c.ctx
	r.mu.Lock()
	old, env, envErr := r.rec, r.env, r.envErr
	r.mu.Unlock()
	if env == nil {
		return reply{err: conflict("%s in %s is not being served (%s)", r.key.App, r.key.Env, envErr)}
	}
	ch := &change{rec: old.clone(), now: time.Now(), who: controllerName, status: env.Status()}
	var sreq strategy.Request
	if req != nil {
		ch.who, sreq = req.who, req.strat
		if req.mutate != nil {
			if err := req.mutate(ctx, ch); err != nil {
				return reply{err: err}
			}
		}
	}
	for _, lr := range ch.added {
		r.mu.Lock()
		r.revs[lr.rec.Revision] = lr
		r.mu.Unlock()
	}
	sp, envSpec := r.specFor(ch.rec)
	if sp == nil {
		return reply{status: r.snapshot()}
	}
	params := strategy.ParamsFor(sp, envSpec)
	ob := strategy.Observation{Now: ch.now, Revisions: observed(ch.status), Request: sreq}
	ob.Analysis, ob.AnalysisReason = r.an.verdict(ch.rec.State, envSpec)
	prev := ch.rec.State
	d := strategy.Next(envSpec.Strategy, params, prev, ob)
	autoAbort(ch.rec, prev, d.State, ob)
	replicas := keepWarm(&d, prev, envSpec.Strategy, params, ch.now)
	ch.rec.State, ch.rec.Replicas, ch.rec.Traffic = d.State, replicas, d.Traffic
	var ignored []string
	for _, e := range d.Events {
		rev := d.State.CanaryRevision
		if rev == 0 {
			rev = d.State.StableRevision
		}
		ch.event(rev, e.Reason, "%s", e.Message)
		if e.Reason == strategy.ReasonRequestIgnored && sreq != strategy.RequestNone {
			ignored = append(ignored, e.Message)
		}
	}
	bookkeep(ch, old.State)
	if lr := r.revision(ch.rec.LastRevision); lr != nil {
		ch.removed = append(ch.removed, prune(ch.rec, lr.spec.RevisionHistoryLimit)...)
	}
	r.next = d.RequeueAfter
	if w := ch.rec.State.ScaleDownRevision; w != 0 && replicas[w] > 0 {
		if until := ch.rec.State.ScaleDownDeadline.Sub(ch.now); until > 0 && (r.next == 0 || until < r.next) {
			r.next = until + time.Millisecond
		}
	}

	changed := len(ch.events) > 0 || !sameRecord(old, ch.rec)
	if changed {
		if err := r.save(ctx, ch); err != nil {
			return reply{err: err}
		}
	}
	for _, rev := range ch.removed {
		r.mu.Lock()
		delete(r.revs, rev)
		r.mu.Unlock()
	}
	r.apply(env, ch.rec)
	if sp, es := r.specFor(ch.rec); sp != nil {
		r.an.sync(ch.rec, sp, es, env)
	}
	if len(ch.removed) > 0 {
		r.c.gcArtifacts(ctx)
	}
	if changed {
		// Readers see the decision once it is applied: a status that says
		// Healthy means the traffic is already where it says.
		r.publish(ch)
	}
	rep := reply{status: r.snapshot(), rev: ch.rev}
	if len(ignored) > 0 {
		rep.err = conflict("%s", ignored[0])
	}
	return rep
}

// save persists the decision (and forgets pruned revisions' records);
// publish makes it visible once applied.
func (r *rollout) save(ctx context.Context, ch *change) error {
	ch.rec.UpdatedAt = ch.now
	for i := range ch.events {
		ch.events[i] = ch.rec.addEvent(ch.events[i])
	}
	version, err := saveRollout(ctx, r.c.cfg.Records, r.key, r.version, ch.rec)
	if err != nil {
		if errors.Is(err, store.ErrConflict) {
			// Someone else wrote the record (another server on the same
			// database): take theirs and decide again on the next news.
			if rec, v, lerr := loadRollout(ctx, r.c.cfg.Records, r.key); lerr == nil {
				r.mu.Lock()
				r.rec, r.version = rec, v
				r.mu.Unlock()
			}
			err = withKind(ErrConflict, err)
		}
		r.c.log.Error("save rollout", "rollout", r.key, "err", err)
		return err
	}
	r.mu.Lock()
	r.version = version
	r.mu.Unlock()
	for _, rev := range ch.removed {
		if err := r.c.cfg.Records.DeleteRecord(ctx, kindRevision, revisionKey(r.key, rev)); err != nil && !errors.Is(err, store.ErrNotFound) {
			r.c.log.Warn("delete pruned revision", "rollout", r.key, "revision", rev, "err", err)
		}
	}
	return nil
}

// publish shows a saved and applied decision to readers, watchers, the
// event log and the metrics.
func (r *rollout) publish(ch *change) {
	r.mu.Lock()
	r.rec = ch.rec
	r.mu.Unlock()
	m := r.c.met
	m.deployments.WithLabelValues(r.key.Env, r.key.App).Add(float64(ch.deployed))
	m.successful.WithLabelValues(r.key.Env, r.key.App).Add(float64(ch.succeeded))
	m.rollbacks.WithLabelValues(r.key.Env, r.key.App).Add(float64(ch.rolledBack))
	for _, e := range ch.events {
		r.c.emit(ch.rec.ProjectID, r.eventData(ch.rec, e))
		r.notifyEvent(ch.rec, e)
	}
	r.notify()
}

// apply makes the target match rec: new replicas first, then the traffic
// split, then the replicas no longer wanted (drained in the background).
func (r *rollout) apply(env target.Env, rec *rolloutRecord) {
	for _, rev := range slices.Sorted(maps.Keys(rec.Replicas)) {
		lr := r.revision(rev)
		if lr == nil {
			r.c.log.Error("apply decision", "rollout", r.key, "revision", rev, "err", "revision record missing")
			continue
		}
		if err := env.Scale(r.targetRevision(lr), rec.Replicas[rev]); err != nil {
			r.c.log.Error("scale", "rollout", r.key, "revision", rev, "err", err)
		}
	}
	if err := r.an.route(env, rec.Traffic); err != nil {
		r.c.log.Error("route", "rollout", r.key, "err", err)
	}
	for rev := range env.Status() {
		if rec.Replicas[rev] == 0 {
			if err := env.Scale(target.Revision{Number: rev}, 0); err != nil {
				r.c.log.Error("scale down", "rollout", r.key, "revision", rev, "err", err)
			}
		}
	}
}

// close stops the environment's replicas and listeners.
func (r *rollout) close(ctx context.Context) error {
	r.an.stop()
	r.mu.Lock()
	env := r.env
	r.env = nil
	subs := r.subs
	r.subs = map[chan struct{}]struct{}{}
	r.mu.Unlock()
	for ch := range subs {
		close(ch)
	}
	if env == nil {
		return nil
	}
	return env.Close(ctx)
}

// subscribe returns a channel signalled after every saved decision; it is
// closed when the controller closes.
func (r *rollout) subscribe() (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	r.mu.Lock()
	r.subs[ch] = struct{}{}
	r.mu.Unlock()
	return ch, func() {
		r.mu.Lock()
		if _, ok := r.subs[ch]; ok {
			delete(r.subs, ch)
			close(ch)
		}
		r.mu.Unlock()
	}
}

func (r *rollout) notify() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for ch := range r.subs {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

func observed(st map[int64]target.RevisionStatus) map[int64]strategy.ReplicaStatus {
	out := make(map[int64]strategy.ReplicaStatus, len(st))
	for rev, s := range st {
		out[rev] = s.Observed()
	}
	return out
}
