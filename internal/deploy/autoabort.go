package deploy

import (
	"context"
	"fmt"
	"time"

	"github.com/gantry-ci/gantry/internal/deploy/strategy"
	"github.com/gantry-ci/gantry/internal/notify"
)

// autoAbort records on the rollout record whether the decision from prev
// to next was an abort that analysis or a guardrail caused, and forgets
// it once a rollout is in progress again.
func autoAbort(rec *rolloutRecord, prev, next strategy.State, ob strategy.Observation) {
	switch {
	case next.Phase == strategy.PhaseAborted && prev.Phase != strategy.PhaseAborted &&
		ob.Analysis == strategy.VerdictFailed && ob.Request != strategy.RequestAbort:
		rec.AutoAbort = next.AbortReason
	case next.CanaryRevision != 0 && next.Phase != strategy.PhaseAborted:
		rec.AutoAbort = ""
	}
}

// switchBackAfter undoes a blue-green promotion whose post-promotion
// analysis failed: the old revision is still warm, so traffic moves back
// to it at once. It runs off the loop (the analysis goroutine reports).
func (r *rollout) switchBackAfter(rev int64, reason string) {
	r.c.wg.Go(func() {
		rep := r.do(r.c.ctx, &request{who: controllerName, mutate: func(_ context.Context, ch *change) error {
			st := ch.rec.State
			old := st.ScaleDownRevision
			if st.StableRevision != rev || st.CanaryRevision != 0 || old == 0 || ch.status[old].Ready == 0 {
				return conflict("revision %d can no longer be switched back from", rev)
			}
			r.switchBack(ch, old)
			ch.rec.AutoAbort = reason
			ch.rec.State.Message = fmt.Sprintf("revision %d rolled back after promotion (%s); revision %d serves all traffic", rev, reason, old)
			if s := ch.rec.summary(rev); s != nil {
				s.Outcome = RevisionAborted
			}
			ch.event(rev, strategy.ReasonAborted, "%s", ch.rec.State.Message)
			return nil
		}})
		if rep.err != nil {
			r.c.log.Error("switch back after post-promotion analysis", "rollout", r.key, "revision", rev, "err", rep.err)
		}
	})
}

// NotifyInfo is what a rollout notification says.
type NotifyInfo struct {
	Project  string
	App      string
	Env      string
	Revision int64
	Version  string
	// Reason is the event's message: for an abort, the metric, value and
	// limit that caused it.
	Reason string
	URL    string
	Time   time.Time
}

// notifyKinds maps decision events to notification kinds. An automatic
// abort is also a rollback: traffic went back without anyone asking.
func notifyKinds(rec *rolloutRecord, e Event) []string {
	switch e.Reason {
	case strategy.ReasonPauseStarted, strategy.ReasonPaused:
		return []string{notify.KindRolloutPaused}
	case strategy.ReasonPromoted:
		return []string{notify.KindRolloutPromoted}
	case strategy.ReasonAborted:
		if rec.AutoAbort != "" {
			return []string{notify.KindRolloutAborted, notify.KindRollback}
		}
		return []string{notify.KindRolloutAborted}
	case strategy.ReasonRolledBack:
		if rec.AutoAbort != "" {
			return nil // the abort event that comes with it says so
		}
		return []string{notify.KindRollback}
	}
	return nil
}

// notifyEvent hands a published event to Config.Notify.
func (r *rollout) notifyEvent(rec *rolloutRecord, e Event) {
	if r.c.cfg.Notify == nil {
		return
	}
	kinds := notifyKinds(rec, e)
	if len(kinds) == 0 {
		return
	}
	info := NotifyInfo{Project: r.key.Project, App: r.key.App, Env: r.key.Env, Revision: e.Revision,
		Reason: e.Message, Time: e.Time}
	if s := rec.summary(e.Revision); s != nil {
		info.Version = s.Version
	}
	r.mu.Lock()
	if r.env != nil {
		info.URL = r.env.URL()
	}
	r.mu.Unlock()
	for _, k := range kinds {
		r.c.cfg.Notify(r.c.ctx, rec.ProjectID, k, info)
	}
}
