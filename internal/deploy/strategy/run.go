package strategy

import (
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/gantry-ci/gantry/internal/deploy/spec"
)

// Next decides with whichever strategy s sets (rolling when none is).
func Next(s spec.Strategy, p Params, st State, ob Observation) Decision {
	switch {
	case s.Canary != nil:
		return Canary(*s.Canary, p, st, ob)
	case s.BlueGreen != nil:
		return BlueGreen(*s.BlueGreen, p, st, ob)
	case s.Rolling != nil:
		return Rolling(*s.Rolling, p, st, ob)
	}
	return Rolling(*spec.DefaultStrategy().Rolling, p, st, ob)
}

// Begin starts rolling out revision rev. The first revision ever deployed
// becomes stable at once (there is nothing to compare it with, as in Argo
// Rollouts); a rollout already in progress is abandoned for the new one;
// beginning the stable revision again cancels the rollout in progress.
func Begin(st State, rev int64, now time.Time) (State, Event) {
	st.Replicas = maps.Clone(st.Replicas)
	resetProgress := func() {
		st.StepIndex, st.StepStarted, st.CanaryWeight, st.CanaryScale = 0, false, 0, nil
		st.PauseStartTime, st.ManualPause = time.Time{}, false
		st.PreviewReadyTime, st.Promoting, st.AbortReason = time.Time{}, false, ""
		st.Phase, st.LastProgressTime = PhaseProgressing, now
	}
	switch {
	case rev <= 0:
		return st, Event{ReasonRequestIgnored, fmt.Sprintf("revision %d is not a revision number", rev)}
	case st.StableRevision == 0:
		resetProgress()
		st.StableRevision, st.CanaryRevision, st.Message = rev, 0, "deploying the first revision"
		return st, Event{ReasonRolloutStarted, fmt.Sprintf("revision %d is the first; it becomes stable without steps", rev)}
	case rev == st.CanaryRevision:
		return st, Event{ReasonRequestIgnored, fmt.Sprintf("revision %d is already being rolled out", rev)}
	case rev == st.StableRevision:
		if st.CanaryRevision == 0 {
			return st, Event{ReasonRequestIgnored, fmt.Sprintf("revision %d is already stable", rev)}
		}
		old := st.CanaryRevision
		resetProgress()
		st.CanaryRevision, st.Message = 0, fmt.Sprintf("rollout of revision %d cancelled", old)
		return st, Event{ReasonAbandoned, fmt.Sprintf("revision %d abandoned; back to stable revision %d", old, rev)}
	}
	msg := fmt.Sprintf("rolling out revision %d over stable revision %d", rev, st.StableRevision)
	if st.CanaryRevision != 0 {
		msg += fmt.Sprintf(" (replacing the rollout of revision %d)", st.CanaryRevision)
	}
	if st.ScaleDownRevision == rev {
		// Rolling back to the revision a promotion just replaced: it is
		// the preview now, not something to scale down.
		st.ScaleDownRevision, st.ScaleDownDeadline = 0, time.Time{}
	}
	resetProgress()
	st.CanaryRevision, st.Message = rev, msg
	return st, Event{ReasonRolloutStarted, msg}
}

// run is one decision being made; the strategies share its bookkeeping.
type run struct {
	p        Params
	prev     State // as given
	st       State // being decided
	ob       Observation
	replicas map[int64]int
	traffic  Traffic
	events   []Event
	wakeAt   time.Time
	// degraded is whether the rollout was Degraded before this decision
	// (and not retried by it).
	degraded bool
}

func newRun(p Params, st State, ob Observation) *run {
	p.Replicas = max(0, p.Replicas)
	p.ProgressDeadline = max(0, p.ProgressDeadline)
	r := &run{p: p, prev: st, st: st, ob: ob, replicas: map[int64]int{}}
	r.st.Replicas = maps.Clone(st.Replicas)
	r.st.Observed = maps.Clone(st.Observed)
	r.degraded = st.Phase == PhaseDegraded
	if r.st.StableRevision == 0 && r.st.CanaryRevision != 0 {
		// Nothing to roll out over: the revision is the first one.
		r.st.StableRevision, r.st.CanaryRevision = r.st.CanaryRevision, 0
	}
	if r.st.LastProgressTime.IsZero() {
		r.st.LastProgressTime = ob.Now
	}
	return r
}

func (r *run) event(reason, format string, args ...any) {
	r.events = append(r.events, Event{Reason: reason, Message: fmt.Sprintf(format, args...)})
}

// wake asks for another decision at t, when time alone changes it.
func (r *run) wake(t time.Time) {
	if r.wakeAt.IsZero() || t.Before(r.wakeAt) {
		r.wakeAt = t
	}
}

func (r *run) ready(rev int64) int { return r.ob.ready(rev) }

// waiting sets the phase and message of a rollout that cannot move yet,
// emitting reason only when the message changes, so that a long wait is one
// event and not one per decision.
func (r *run) waiting(phase Phase, reason, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if reason != "" && msg != r.prev.Message {
		r.event(reason, "%s", msg)
	}
	r.st.Phase, r.st.Message = phase, msg
}

// analysisHolds reports whether a running analysis keeps the rollout at its
// current step, recording why.
func (r *run) analysisHolds() bool {
	switch r.ob.Analysis {
	case VerdictRunning:
		phase := r.st.Phase
		if phase != PhasePaused {
			phase = PhaseProgressing
		}
		r.waiting(phase, ReasonWaitingForAnalysis, "waiting for the analysis of revision %d", r.st.CanaryRevision)
		return true
	case VerdictInconclusive:
		r.waiting(PhasePaused, ReasonWaitingForAnalysis, "the analysis of revision %d is inconclusive; promote or abort", r.st.CanaryRevision)
		return true
	}
	return false
}

// inProgress is whether a new revision is being rolled out (or was given
// up and kept for a retry).
func (r *run) inProgress() bool {
	return r.st.CanaryRevision != 0 && r.st.CanaryRevision != r.st.StableRevision
}

// steady runs the stable revision alone at full scale. It serves the first
// deployment too, which has nothing to roll out over.
func (r *run) steady() {
	st := &r.st
	if st.StableRevision == 0 {
		st.Phase, st.Message = "", "nothing deployed yet"
		return
	}
	r.replicas[st.StableRevision] = r.p.Replicas
	r.traffic = Traffic{Active: st.StableRevision}
	if req := r.ob.Request; req != RequestNone {
		r.event(ReasonRequestIgnored, "%s: no rollout in progress", req)
	}
	if r.ready(st.StableRevision) >= r.p.Replicas {
		if st.Phase != PhaseHealthy {
			r.event(ReasonAvailable, "revision %d has all %d replicas ready", st.StableRevision, r.p.Replicas)
		}
		st.Phase, st.Message = PhaseHealthy, ""
		return
	}
	if st.Phase == PhaseHealthy || st.Phase == "" || st.Phase == PhasePaused || st.Phase == PhaseAborted {
		st.Phase = PhaseProgressing
	}
	st.Message = fmt.Sprintf("revision %d has %d of %d replicas ready", st.StableRevision, r.ready(st.StableRevision), r.p.Replicas)
}

// common handles the pause, resume and promote requests every strategy
// treats alike; strategies handle what promote means for them.
func (r *run) common() {
	st := &r.st
	switch r.ob.Request {
	case RequestPause:
		if st.Phase != PhaseAborted && !st.ManualPause {
			st.ManualPause = true
			r.event(ReasonPaused, "paused by request")
		}
	case RequestResume:
		switch {
		case st.ManualPause:
			st.ManualPause = false
			r.event(ReasonResumed, "resumed by request")
		case st.Phase == PhaseDegraded:
			st.Phase, st.LastProgressTime = PhaseProgressing, r.ob.Now
			r.degraded = false
			r.event(ReasonRetried, "progress deadline restarted by request")
		}
	case RequestPromote, RequestPromoteFull:
		if st.ManualPause {
			st.ManualPause = false
			r.event(ReasonResumed, "resumed by %s", r.ob.Request)
		}
	}
}

// shouldAbort reports why the rollout must be given up now, or "".
func (r *run) shouldAbort() string {
	if r.st.Phase == PhaseAborted {
		return ""
	}
	switch {
	case r.ob.Request == RequestAbort:
		return "aborted by request"
	case r.ob.Analysis == VerdictFailed && r.ob.AnalysisReason != "":
		return r.ob.AnalysisReason
	case r.ob.Analysis == VerdictFailed:
		return "analysis failed"
	}
	return ""
}

// abort marks the rollout given up; the strategy then scales accordingly.
func (r *run) abort(reason string) {
	st := &r.st
	st.Phase, st.AbortReason = PhaseAborted, reason
	st.Message = fmt.Sprintf("revision %d aborted (%s); revision %d serves all traffic", st.CanaryRevision, reason, st.StableRevision)
	st.PauseStartTime, st.ManualPause, st.Promoting = time.Time{}, false, false
	r.event(ReasonAborted, "%s", st.Message)
}

// retry restarts an aborted rollout from the beginning.
func (r *run) retry() {
	st := &r.st
	st.Phase, st.AbortReason, st.LastProgressTime = PhaseProgressing, "", r.ob.Now
	st.StepIndex, st.StepStarted, st.CanaryWeight, st.CanaryScale = 0, false, 0, nil
	st.PreviewReadyTime, st.Promoting = time.Time{}, false
	st.Message = fmt.Sprintf("retrying revision %d", st.CanaryRevision)
	r.event(ReasonRetried, "%s", st.Message)
}

// finish records replica changes and progress, applies the progress
// deadline and returns the decision.
func (r *run) finish() Decision {
	st := &r.st
	for rev, n := range r.replicas {
		if n <= 0 {
			delete(r.replicas, rev)
		}
	}
	revs := slices.Sorted(maps.Keys(mergeKeys(r.replicas, r.prev.Replicas)))
	progressed := st.StepIndex != r.prev.StepIndex || st.CanaryWeight != r.prev.CanaryWeight
	for _, rev := range revs {
		was, now := r.prev.Replicas[rev], r.replicas[rev]
		switch {
		case now > was:
			r.event(ReasonScaledUp, "revision %d scaled up from %d to %d replicas", rev, was, now)
		case now < was:
			r.event(ReasonScaledDown, "revision %d scaled down from %d to %d replicas", rev, was, now)
		}
		progressed = progressed || now != was
	}
	observed := map[int64]ReplicaStatus{}
	for rev := range mergeKeys(r.replicas, r.ob.Revisions) {
		s := r.ob.Revisions[rev]
		s.Running, s.Ready = max(0, s.Running), max(0, s.Ready)
		if s != (ReplicaStatus{}) {
			observed[rev] = s
		}
		// Replicas becoming ready is progress; ones failing are not.
		progressed = progressed || s.Ready > r.prev.Observed[rev].Ready
	}
	st.Replicas, st.Observed = r.replicas, observed
	if len(st.Replicas) == 0 {
		st.Replicas = nil
	}
	if len(st.Observed) == 0 {
		st.Observed = nil
	}

	switch st.Phase {
	case PhaseProgressing:
		switch {
		case progressed:
			st.LastProgressTime = r.ob.Now
			if r.degraded {
				r.event(ReasonProgressResumed, "the rollout is moving again")
			}
		case r.degraded:
			st.Phase = PhaseDegraded
		case r.p.ProgressDeadline > 0 && r.ob.Now.Sub(st.LastProgressTime) > r.p.ProgressDeadline:
			st.Phase = PhaseDegraded
			st.Message = fmt.Sprintf("no progress for more than %s: %s", r.p.ProgressDeadline, st.Message)
			r.event(ReasonProgressDeadline, "%s", st.Message)
		}
		if st.Phase == PhaseProgressing && r.p.ProgressDeadline > 0 {
			r.wake(st.LastProgressTime.Add(r.p.ProgressDeadline + time.Nanosecond))
		}
	default:
		// Paused, Healthy and Aborted rollouts are not late: the deadline
		// clock starts when progressing starts again.
		st.LastProgressTime = r.ob.Now
	}

	d := Decision{State: *st, Replicas: r.replicas, Traffic: r.traffic, Events: r.events}
	d.Traffic.CanaryWeight = clamp(d.Traffic.CanaryWeight, 0, 100)
	if d.Traffic.Canary == 0 {
		d.Traffic.CanaryWeight = 0
	}
	if d.Traffic.Weights == nil && d.Traffic.Active != 0 {
		w := map[int64]int{d.Traffic.Active: 100 - d.Traffic.CanaryWeight}
		if d.Traffic.CanaryWeight > 0 {
			w[d.Traffic.Canary] += d.Traffic.CanaryWeight
		}
		for rev, n := range w {
			if n == 0 {
				delete(w, rev)
			}
		}
		d.Traffic.Weights = w
	}
	if !r.wakeAt.IsZero() && r.wakeAt.After(r.ob.Now) {
		d.RequeueAfter = r.wakeAt.Sub(r.ob.Now)
	}
	return d
}

func mergeKeys[A, B any](a map[int64]A, b map[int64]B) map[int64]bool {
	out := make(map[int64]bool, len(a)+len(b))
	for k := range a {
		out[k] = true
	}
	for k := range b {
		out[k] = true
	}
	return out
}

func clamp(v, lo, hi int) int { return min(max(v, lo), hi) }
