package strategy

import (
	"time"

	"github.com/gantry-ci/gantry/internal/deploy/spec"
)

// BlueGreen decides the next move of a blue-green rollout: the new revision
// starts beside the active one as the preview (at previewReplicaCount, or
// full size), and once ready it is promoted, automatically after
// autoPromotionSeconds or on request. Promotion scales the preview to full
// size, then switches the active revision in one step; the old revision
// keeps running for scaleDownDelaySeconds so that switching back is instant.
func BlueGreen(cfg spec.BlueGreen, p Params, st State, ob Observation) Decision {
	r := newRun(p, st, ob)
	b := &blueGreenRun{run: r, cfg: cfg}
	if !r.inProgress() {
		r.st.CanaryRevision = 0
		r.steady()
	} else {
		b.decide()
	}
	b.scaleDownOld()
	r.st.ActiveRevision, r.st.PreviewRevision = r.traffic.Active, r.traffic.Preview
	return r.finish()
}

type blueGreenRun struct {
	*run
	cfg spec.BlueGreen
}

func (b *blueGreenRun) previewCount() int {
	if c := b.cfg.PreviewReplicaCount; c != nil && !b.st.Promoting {
		return clamp(*c, 0, b.p.Replicas)
	}
	return b.p.Replicas
}

func (b *blueGreenRun) decide() {
	st := &b.st
	if reason := b.shouldAbort(); reason != "" {
		b.abort(reason)
	}
	if st.Phase == PhaseAborted {
		if b.ob.Request != RequestResume {
			b.replicas[st.StableRevision] = b.p.Replicas
			b.traffic = Traffic{Active: st.StableRevision}
			if r := b.ob.Request; r != RequestNone && r != RequestAbort {
				b.event(ReasonRequestIgnored, "%s: the rollout is aborted; resume retries it", r)
			}
			return
		}
		b.retry()
	}
	b.common()
	if req := b.ob.Request; (req == RequestPromote || req == RequestPromoteFull) && !st.Promoting {
		st.Promoting = true
		b.endPause()
		b.event(ReasonPromotionStarted, "promotion of revision %d requested", st.CanaryRevision)
	}

	preview := st.CanaryRevision
	b.replicas[st.StableRevision] = b.p.Replicas
	b.traffic = Traffic{Active: st.StableRevision, Preview: preview}
	want := b.previewCount()
	b.replicas[preview] = want
	if st.ManualPause {
		b.waiting(PhasePaused, "", "paused by request")
		return
	}
	have := b.ready(preview)
	if have < want {
		b.waiting(PhaseProgressing, "", "waiting for %d of %d preview replicas of revision %d", want-have, want, preview)
		return
	}
	if st.PreviewReadyTime.IsZero() {
		st.PreviewReadyTime = b.ob.Now
		b.event(ReasonPreviewReady, "preview revision %d has %d replicas ready", preview, have)
	}
	if b.analysisHolds() {
		return
	}
	if !st.Promoting && !b.autoPromote() {
		return
	}
	b.promote()
}

// autoPromote decides whether an unrequested promotion happens now,
// pausing the rollout when it does not.
func (b *blueGreenRun) autoPromote() bool {
	st := &b.st
	if !b.cfg.AutoPromotionEnabled {
		b.startPause()
		b.waiting(PhasePaused, "", "preview revision %d is ready; waiting for promote", st.CanaryRevision)
		return false
	}
	if b.cfg.AutoPromotionSeconds > 0 {
		at := st.PreviewReadyTime.Add(time.Duration(b.cfg.AutoPromotionSeconds) * time.Second)
		if b.ob.Now.Before(at) {
			b.startPause()
			b.wake(at)
			b.waiting(PhasePaused, "", "preview revision %d is ready; promoting at %s", st.CanaryRevision, at.UTC().Format(time.RFC3339))
			return false
		}
	}
	st.Promoting = true
	b.endPause()
	b.event(ReasonPromotionStarted, "automatic promotion of revision %d", st.CanaryRevision)
	return true
}

func (b *blueGreenRun) endPause() {
	if !b.st.PauseStartTime.IsZero() {
		b.st.PauseStartTime = time.Time{}
		b.event(ReasonPauseEnded, "waiting for promotion ended")
	}
}

func (b *blueGreenRun) startPause() {
	if b.st.PauseStartTime.IsZero() {
		b.st.PauseStartTime = b.ob.Now
		b.event(ReasonPauseStarted, "preview revision %d is ready and waits for promotion", b.st.CanaryRevision)
	}
}

// promote switches traffic once the preview is at full size.
func (b *blueGreenRun) promote() {
	st := &b.st
	preview := st.CanaryRevision
	b.replicas[preview] = b.p.Replicas
	if have := b.ready(preview); have < b.p.Replicas {
		b.waiting(PhaseProgressing, "", "promoting: waiting for %d of %d replicas of revision %d",
			b.p.Replicas-have, b.p.Replicas, preview)
		return
	}
	old := st.StableRevision
	if st.ScaleDownRevision != 0 && st.ScaleDownRevision != old {
		// A third revision still waiting for its delay goes now: only the
		// last switch is kept reversible.
		st.ScaleDownRevision = 0
	}
	st.ScaleDownRevision = old
	st.ScaleDownDeadline = b.ob.Now.Add(time.Duration(b.cfg.ScaleDownDelaySeconds) * time.Second)
	st.StableRevision, st.CanaryRevision = preview, 0
	st.Promoting, st.PromotionTime, st.PreviewReadyTime = false, b.ob.Now, time.Time{}
	st.Phase, st.Message = PhaseHealthy, ""
	delete(b.replicas, old)
	b.replicas[preview] = b.p.Replicas
	b.traffic = Traffic{Active: preview}
	b.event(ReasonPromoted, "revision %d is now active, replacing revision %d", preview, old)
}

// scaleDownOld keeps the revision a promotion replaced until its deadline.
func (b *blueGreenRun) scaleDownOld() {
	st := &b.st
	rev := st.ScaleDownRevision
	if rev == 0 {
		return
	}
	if rev == st.StableRevision || rev == st.CanaryRevision || !b.ob.Now.Before(st.ScaleDownDeadline) {
		st.ScaleDownRevision, st.ScaleDownDeadline = 0, time.Time{}
		return
	}
	b.replicas[rev] = b.p.Replicas
	b.wake(st.ScaleDownDeadline)
}
