package strategy

import (
	"fmt"
	"strings"
	"time"

	"github.com/gantry-ci/gantry/internal/deploy/spec"
)

// Canary decides the next move of a canary rollout: it walks the steps,
// setting weights once the canary has the replicas to carry them, holding
// at pauses, and finally scales the canary to full size and makes it
// stable. The stable revision stays at full scale throughout (Argo's
// behaviour without dynamicStableScale), so aborting needs no scale-up.
func Canary(cfg spec.Canary, p Params, st State, ob Observation) Decision {
	r := newRun(p, st, ob)
	if !r.inProgress() {
		r.st.CanaryRevision = 0
		r.steady()
		return r.finish()
	}
	c := &canaryRun{run: r, cfg: cfg, target: r.st.CanaryWeight}
	c.decide()
	return r.finish()
}

type canaryRun struct {
	*run
	cfg spec.Canary
	// target is the weight the canary is sized for: the weight being set
	// by the current step, or the current weight.
	target int
	// full sizes the canary at the full replica count (before promotion).
	full bool
}

func (c *canaryRun) decide() {
	st := &c.st
	if reason := c.shouldAbort(); reason != "" {
		c.abort(reason)
	}
	if st.Phase == PhaseAborted {
		if c.ob.Request != RequestResume {
			c.aborted()
			return
		}
		c.retry()
	}
	c.common()
	steps := c.cfg.Steps
	switch c.ob.Request {
	case RequestPromoteFull:
		if st.StepIndex < len(steps) {
			c.event(ReasonStepSkipped, "promote --full: skipped steps %d to %d", st.StepIndex+1, len(steps))
			c.leaveStep(len(steps))
		}
	case RequestPromote:
		if st.StepIndex < len(steps) {
			c.event(ReasonStepSkipped, "promote: skipped step %d (%s)", st.StepIndex+1, describeStep(steps[st.StepIndex]))
			c.leaveStep(st.StepIndex + 1)
		}
	}
	if st.ManualPause {
		c.waiting(PhasePaused, "", "paused by request")
		c.hold()
		return
	}
	c.walk()
	c.apply()
}

// walk runs steps until one has to wait; several instant steps (weights
// already carried, zero pauses) complete in one decision.
func (c *canaryRun) walk() {
	st := &c.st
	steps := c.cfg.Steps
	for range len(steps) + 1 {
		if st.StepIndex >= len(steps) {
			c.complete()
			return
		}
		step := steps[st.StepIndex]
		if !st.StepStarted {
			st.StepStarted = true
			c.event(ReasonStepReached, "step %d of %d: %s", st.StepIndex+1, len(steps), describeStep(step))
		}
		if !c.runStep(step) {
			return
		}
		c.leaveStep(st.StepIndex + 1)
	}
}

func (c *canaryRun) leaveStep(next int) {
	st := &c.st
	st.StepIndex, st.StepStarted, st.PauseStartTime = next, false, time.Time{}
	st.Phase = PhaseProgressing
}

// runStep acts on one step and reports whether it is complete.
func (c *canaryRun) runStep(step spec.CanaryStep) bool {
	st := &c.st
	switch {
	case step.SetWeight != nil:
		w := clamp(*step.SetWeight, 0, 100)
		c.target = w
		want := canaryReplicas(w, st.CanaryScale, c.p.Replicas)
		if w > st.CanaryWeight && c.ready(st.CanaryRevision) < want {
			// Traffic follows capacity: the weight rises only once the
			// canary can carry it.
			c.waiting(PhaseProgressing, "", "waiting for %d of %d canary replicas before setting weight %d%%",
				want-c.ready(st.CanaryRevision), want, w)
			return false
		}
		if st.CanaryWeight != w {
			st.CanaryWeight = w
			c.event(ReasonWeightSet, "canary revision %d gets %d%% of traffic", st.CanaryRevision, w)
		}
		st.Phase, st.Message = PhaseProgressing, ""
		return !c.analysisHolds()
	case step.Pause != nil:
		if st.PauseStartTime.IsZero() {
			st.PauseStartTime = c.ob.Now
			if step.Pause.Duration == nil {
				c.event(ReasonPauseStarted, "paused until promoted")
			} else {
				c.event(ReasonPauseStarted, "paused for %s", step.Pause.Duration)
			}
		}
		if step.Pause.Duration == nil {
			c.waiting(PhasePaused, "", "paused until promoted")
			return false
		}
		end := st.PauseStartTime.Add(step.Pause.Duration.Duration())
		if c.ob.Now.Before(end) {
			c.wake(end)
			c.waiting(PhasePaused, "", "paused until %s", end.UTC().Format(time.RFC3339))
			return false
		}
		if c.analysisHolds() {
			return false
		}
		c.event(ReasonPauseEnded, "pause of %s ended", step.Pause.Duration)
		return true
	case step.SetCanaryScale != nil:
		next := step.SetCanaryScale
		if next.MatchTrafficWeight {
			next = nil
		}
		if !sameScale(st.CanaryScale, next) {
			st.CanaryScale = cloneScale(next)
			c.event(ReasonCanaryScaleSet, "canary sized %s", describeScale(next))
		}
		want := canaryReplicas(st.CanaryWeight, st.CanaryScale, c.p.Replicas)
		if c.ready(st.CanaryRevision) < want {
			c.waiting(PhaseProgressing, "", "waiting for %d of %d canary replicas", want-c.ready(st.CanaryRevision), want)
			return false
		}
		st.Phase, st.Message = PhaseProgressing, ""
		return !c.analysisHolds()
	case step.Analysis != nil:
		// The verdict is about the step the decision started at; a step
		// reached during this decision has not been measured yet.
		if c.ob.Analysis == VerdictSuccessful && st.StepIndex == c.prev.StepIndex && c.prev.StepStarted {
			return true
		}
		if c.ob.Analysis == VerdictInconclusive && st.StepIndex == c.prev.StepIndex {
			c.analysisHolds()
			return false
		}
		c.waiting(PhaseProgressing, ReasonWaitingForAnalysis, "step %d: waiting for analysis %s of revision %d",
			st.StepIndex+1, strings.Join(step.Analysis.Templates, ", "), st.CanaryRevision)
		return false
	}
	return true // an empty step (only possible in code) does nothing
}

// complete scales the canary to full size and then makes it stable.
func (c *canaryRun) complete() {
	st := &c.st
	c.full = true
	if have := c.ready(st.CanaryRevision); have < c.p.Replicas {
		c.waiting(PhaseProgressing, "", "steps done; waiting for %d of %d replicas of revision %d before promotion",
			c.p.Replicas-have, c.p.Replicas, st.CanaryRevision)
		return
	}
	if c.analysisHolds() {
		return
	}
	old := st.StableRevision
	st.StableRevision, st.CanaryRevision = st.CanaryRevision, 0
	st.StepIndex, st.StepStarted, st.CanaryWeight, st.CanaryScale = 0, false, 0, nil
	st.Phase, st.Message = PhaseHealthy, ""
	c.event(ReasonPromoted, "revision %d is now stable, replacing revision %d", st.StableRevision, old)
}

// apply sets replicas and traffic for a rollout in progress (or just
// completed by this decision).
func (c *canaryRun) apply() {
	st := &c.st
	c.replicas[st.StableRevision] = c.p.Replicas
	c.traffic = Traffic{Active: st.StableRevision}
	if st.CanaryRevision == 0 {
		return
	}
	n := canaryReplicas(c.target, st.CanaryScale, c.p.Replicas)
	if c.full {
		n = c.p.Replicas
	}
	c.replicas[st.CanaryRevision] = n
	c.setTraffic(n)
}

func (c *canaryRun) setTraffic(canaryReplicas int) {
	st := &c.st
	c.traffic.Canary, c.traffic.CanaryWeight = st.CanaryRevision, st.CanaryWeight
	if h := c.cfg.CanaryHeader; h != nil && canaryReplicas > 0 {
		c.traffic.Header = &HeaderRoute{Name: h.Name, Value: h.Value, Revision: st.CanaryRevision}
	}
}

// hold keeps the replicas and traffic of the last decision while paused by
// request.
func (c *canaryRun) hold() {
	st := &c.st
	c.replicas[st.StableRevision] = c.p.Replicas
	n := max(0, c.prev.Replicas[st.CanaryRevision])
	c.replicas[st.CanaryRevision] = n
	c.traffic = Traffic{Active: st.StableRevision}
	c.setTraffic(n)
}

// aborted runs the stable revision alone; the canary is kept in the state
// for a retry but runs no replicas.
func (c *canaryRun) aborted() {
	st := &c.st
	st.CanaryWeight, st.CanaryScale, st.StepStarted = 0, nil, false
	c.replicas[st.StableRevision] = c.p.Replicas
	c.traffic = Traffic{Active: st.StableRevision}
	if r := c.ob.Request; r != RequestNone && r != RequestAbort {
		c.event(ReasonRequestIgnored, "%s: the rollout is aborted; resume retries it", r)
	}
}

// canaryReplicas sizes the canary: by setCanaryScale when one is in force,
// else in proportion to its weight, rounded up and at least one replica
// while it gets any traffic.
func canaryReplicas(weight int, scale *spec.SetCanaryScale, replicas int) int {
	if scale != nil {
		switch {
		case scale.Replicas != nil:
			return max(0, *scale.Replicas)
		case scale.Weight != nil:
			return ceilPercent(*scale.Weight, replicas)
		}
	}
	if weight <= 0 || replicas <= 0 {
		return 0
	}
	return max(1, ceilPercent(weight, replicas))
}

func ceilPercent(pct, n int) int {
	return (clamp(pct, 0, 100)*max(0, n) + 99) / 100
}

func sameScale(a, b *spec.SetCanaryScale) bool {
	if a == nil || b == nil {
		return a == b
	}
	return eqPtr(a.Replicas, b.Replicas) && eqPtr(a.Weight, b.Weight) && a.MatchTrafficWeight == b.MatchTrafficWeight
}

func eqPtr(a, b *int) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

func cloneScale(s *spec.SetCanaryScale) *spec.SetCanaryScale {
	if s == nil {
		return nil
	}
	c := spec.SetCanaryScale{MatchTrafficWeight: s.MatchTrafficWeight}
	if s.Replicas != nil {
		v := *s.Replicas
		c.Replicas = &v
	}
	if s.Weight != nil {
		v := *s.Weight
		c.Weight = &v
	}
	return &c
}

func describeScale(s *spec.SetCanaryScale) string {
	switch {
	case s == nil:
		return "by its traffic weight"
	case s.Replicas != nil:
		return fmt.Sprintf("at %d replicas", *s.Replicas)
	case s.Weight != nil:
		return fmt.Sprintf("at %d%% of the replicas", *s.Weight)
	}
	return "by its traffic weight"
}

func describeStep(s spec.CanaryStep) string {
	switch {
	case s.SetWeight != nil:
		return fmt.Sprintf("setWeight %d", *s.SetWeight)
	case s.Pause != nil && s.Pause.Duration == nil:
		return "pause until promoted"
	case s.Pause != nil:
		return fmt.Sprintf("pause %s", s.Pause.Duration)
	case s.SetCanaryScale != nil:
		return "setCanaryScale " + describeScale(s.SetCanaryScale)
	case s.Analysis != nil:
		return "analysis " + strings.Join(s.Analysis.Templates, ", ")
	}
	return "empty step"
}
