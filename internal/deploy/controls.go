package deploy

import (
	"context"
	"fmt"
	"time"

	"github.com/gantry-ci/gantry/internal/deploy/spec"
	"github.com/gantry-ci/gantry/internal/deploy/strategy"
)

// Status returns the rollout of k as it stands.
func (c *Controller) Status(_ context.Context, k Key) (*Status, error) {
	ro, err := c.lookup(k)
	if err != nil {
		return nil, err
	}
	return ro.snapshot(), nil
}

// Analysis returns the analysis of k: its runs, recent measurements and
// the last verdict.
func (c *Controller) Analysis(_ context.Context, k Key) (*AnalysisStatus, error) {
	ro, err := c.lookup(k)
	if err != nil {
		return nil, err
	}
	return ro.an.status(), nil
}

// History lists the kept revisions of k, oldest first.
func (c *Controller) History(_ context.Context, k Key) ([]Revision, error) {
	ro, err := c.lookup(k)
	if err != nil {
		return nil, err
	}
	return ro.history(), nil
}

// List returns the status of every rollout of a project ("" for all).
func (c *Controller) List(_ context.Context, project string) []*Status {
	c.mu.Lock()
	var ros []*rollout
	for k, ro := range c.rollouts {
		if project == "" || k.Project == project {
			ros = append(ros, ro)
		}
	}
	c.mu.Unlock()
	out := make([]*Status, 0, len(ros))
	for _, ro := range ros {
		out = append(out, ro.snapshot())
	}
	return out
}

// Watch sends the rollout's status now and after every decision until
// ctx ends or the controller closes; a slow reader gets the latest
// status, not every one.
func (c *Controller) Watch(ctx context.Context, k Key) (<-chan *Status, error) {
	ro, err := c.lookup(k)
	if err != nil {
		return nil, err
	}
	sig, cancel := ro.subscribe()
	out := make(chan *Status)
	go func() {
		defer close(out)
		defer cancel()
		for {
			select {
			case out <- ro.snapshot():
			case <-ctx.Done():
				return
			}
			select {
			case _, ok := <-sig:
				if !ok {
					return
				}
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, nil
}

// Promote ends the current pause or step (a blue-green preview is
// switched to); full skips every remaining step, as `kubectl argo
// rollouts promote --full`.
func (c *Controller) Promote(ctx context.Context, k Key, full bool, who string) (*Status, error) {
	req := strategy.RequestPromote
	if full {
		req = strategy.RequestPromoteFull
	}
	return c.request(ctx, k, who, req)
}

// Abort gives up the revision being rolled out: all traffic returns to
// the stable revision at once and the new one is scaled away (kept in
// the state for Retry).
func (c *Controller) Abort(ctx context.Context, k Key, who string) (*Status, error) {
	return c.request(ctx, k, who, strategy.RequestAbort)
}

// Retry rolls an aborted revision out again from the first step; it also
// resumes a paused rollout and restarts a degraded one's deadline.
func (c *Controller) Retry(ctx context.Context, k Key, who string) (*Status, error) {
	return c.request(ctx, k, who, strategy.RequestResume)
}

// Pause holds the rollout where it is until promote or retry.
func (c *Controller) Pause(ctx context.Context, k Key, who string) (*Status, error) {
	return c.request(ctx, k, who, strategy.RequestPause)
}

func (c *Controller) request(ctx context.Context, k Key, who string, req strategy.Request) (*Status, error) {
	ro, err := c.lookup(k)
	if err != nil {
		return nil, err
	}
	rep := ro.do(ctx, &request{who: who, strat: req})
	return rep.status, rep.err
}

// Undo rolls back to revision to (0: the rollout's previous one, as
// `kubectl rollout undo`). During a rollout that is the stable revision:
// the rollout is cancelled and the stable one keeps all traffic. A
// revision still warm within its scale-down delay gets all traffic back
// at once, with no steps and no analysis. Any other revision is rolled
// forward through the strategy as a new revision, a copy of the old one.
func (c *Controller) Undo(ctx context.Context, k Key, to int64, who string) (*Status, error) {
	ro, err := c.lookup(k)
	if err != nil {
		return nil, err
	}
	rep := ro.do(ctx, &request{who: who, mutate: func(ctx context.Context, ch *change) error {
		return ro.undo(ctx, ch, to)
	}})
	return rep.status, rep.err
}

func (r *rollout) undo(ctx context.Context, ch *change, to int64) error {
	rec, st := ch.rec, ch.rec.State
	if to == 0 {
		to = st.StableRevision
		if st.CanaryRevision == 0 {
			to = previousStable(rec)
		}
		if to == 0 {
			return conflict("%s in %s has no earlier revision to undo to", r.key.App, r.key.Env)
		}
	}
	if rec.summary(to) == nil {
		return notFound("revision %d of %s in %s is not in the history", to, r.key.App, r.key.Env)
	}
	switch {
	case to == st.CanaryRevision:
		return conflict("revision %d is the one being rolled out; abort it, or undo to another revision", to)
	case to == st.StableRevision && st.CanaryRevision == 0:
		return conflict("revision %d is already stable", to)
	case to == st.StableRevision:
		next, _ := strategy.Begin(st, to, ch.now)
		rec.State = next
		rec.PendingSuccess = 0
		ch.rolledBack++
		ch.rev = to
		ch.event(to, strategy.ReasonRolledBack, "undo: rollout of revision %d cancelled; revision %d keeps all traffic", st.CanaryRevision, to)
		return nil
	case to == st.ScaleDownRevision && ch.now.Before(st.ScaleDownDeadline) && ch.status[to].Ready > 0:
		r.switchBack(ch, to)
		return nil
	}
	lr := r.revision(to)
	if lr == nil {
		return notFound("revision %d of %s in %s cannot be loaded", to, r.key.App, r.key.Env)
	}
	copyOf := *lr.rec
	copyOf.Who, copyOf.JobID, copyOf.SHA, copyOf.RollbackOf = ch.who, 0, lr.rec.SHA, to
	if err := r.begin(ctx, ch, &copyOf, lr.spec); err != nil {
		return err
	}
	ch.rolledBack++
	ch.event(ch.rev, strategy.ReasonRolledBack, "undo: revision %d rolls revision %d (%s) forward", ch.rev, to, lr.rec.Version)
	return nil
}

// switchBack is the fast undo: the revision a promotion replaced is still
// running at full scale, so traffic moves back to it in one step, and the
// revision it replaced is kept warm in turn so the undo can be undone.
func (r *rollout) switchBack(ch *change, to int64) {
	st := &ch.rec.State
	old, abandoned := st.StableRevision, st.CanaryRevision
	delay := time.Duration(spec.DefaultScaleDownDelaySeconds) * time.Second
	if lr := r.revision(to); lr != nil {
		if env := lr.spec.Environment(r.key.Env); env != nil && env.Strategy.BlueGreen != nil {
			delay = time.Duration(env.Strategy.BlueGreen.ScaleDownDelaySeconds) * time.Second
		}
	}
	replicas := ch.rec.Replicas[to]
	st.StableRevision, st.CanaryRevision = to, 0
	st.StepIndex, st.StepStarted, st.CanaryWeight, st.CanaryScale = 0, false, 0, nil
	st.PauseStartTime, st.ManualPause, st.PreviewReadyTime, st.Promoting = time.Time{}, false, time.Time{}, false
	st.AbortReason, st.ActiveRevision, st.PreviewRevision = "", to, 0
	st.Phase, st.Message, st.LastProgressTime = strategy.PhaseProgressing, "", ch.now
	st.ScaleDownRevision, st.ScaleDownDeadline = old, ch.now.Add(delay)
	st.PromotionTime = time.Time{} // a switch back is not a promotion to analyse
	st.Replicas = map[int64]int{to: replicas}
	ch.rec.PendingSuccess = 0
	ch.rolledBack++
	ch.rev = to
	msg := fmt.Sprintf("undo: all traffic switched back to revision %d at once; revision %d stays warm until %s",
		to, old, st.ScaleDownDeadline.UTC().Format(time.RFC3339))
	if abandoned != 0 {
		msg += fmt.Sprintf("; the rollout of revision %d is cancelled", abandoned)
	}
	ch.event(to, strategy.ReasonRolledBack, "%s", msg)
}

// previousStable is the revision that was stable before the current one:
// what `undo` without --to-revision goes back to.
func previousStable(rec *rolloutRecord) int64 {
	var best int64
	var at time.Time
	for _, s := range rec.Revisions {
		if s.Revision == rec.State.StableRevision || s.StableAt.IsZero() {
			continue
		}
		if s.StableAt.After(at) || (s.StableAt.Equal(at) && s.Revision > best) {
			best, at = s.Revision, s.StableAt
		}
	}
	return best
}
