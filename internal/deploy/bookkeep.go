package deploy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/gantry-ci/gantry/internal/deploy/spec"
	"github.com/gantry-ci/gantry/internal/deploy/strategy"
)

// keepWarm returns the replicas to run for decision d: the strategy's,
// plus the revision a canary promotion replaced, kept at full scale for
// the default scale-down delay so that undoing the promotion only moves
// traffic (Argo Rollouts keeps it for scaleDownDelaySeconds too).
// Blue-green keeps its own replaced revision; rolling updates have
// scaled theirs away by the time they finish, so they keep none of their
// own (but do keep one a canary left warm). It rewrites the strategy's
// events to say what really happens to the warm revision.
func keepWarm(d *strategy.Decision, prev strategy.State, s spec.Strategy, p strategy.Params, now time.Time) map[int64]int {
	replicas := maps.Clone(d.Replicas)
	if replicas == nil {
		replicas = map[int64]int{}
	}
	if s.BlueGreen != nil {
		return replicas
	}
	st := &d.State
	promoted := prev.StableRevision != 0 && prev.CanaryRevision != 0 &&
		st.StableRevision == prev.CanaryRevision && st.Phase != strategy.PhaseAborted
	if s.Canary != nil && promoted {
		st.ScaleDownRevision = prev.StableRevision
		st.ScaleDownDeadline = now.Add(time.Duration(spec.DefaultScaleDownDelaySeconds) * time.Second)
	}
	rev := st.ScaleDownRevision
	if rev == 0 {
		return replicas
	}
	if rev == st.StableRevision || rev == st.CanaryRevision || !now.Before(st.ScaleDownDeadline) {
		st.ScaleDownRevision, st.ScaleDownDeadline = 0, time.Time{}
		if rev != st.StableRevision && rev != st.CanaryRevision && replicas[rev] == 0 {
			d.Events = append(d.Events, strategy.Event{Reason: strategy.ReasonScaledDown,
				Message: fmt.Sprintf("revision %d scaled down to 0 replicas: its scale-down delay ended", rev)})
		}
		return replicas
	}
	if replicas[rev] == 0 {
		// The strategy scaled it away; say what happens instead.
		scaledDown := fmt.Sprintf("revision %d scaled down ", rev)
		d.Events = slices.DeleteFunc(d.Events, func(e strategy.Event) bool {
			return e.Reason == strategy.ReasonScaledDown && strings.HasPrefix(e.Message, scaledDown)
		})
		if promoted {
			d.Events = append(d.Events, strategy.Event{Reason: ReasonKeptWarm,
				Message: fmt.Sprintf("revision %d keeps its replicas until %s so that undo switches back at once",
					rev, st.ScaleDownDeadline.UTC().Format(time.RFC3339))})
		}
	}
	replicas[rev] = max(replicas[rev], p.Replicas)
	return replicas
}

// ReasonKeptWarm is the event of a replaced revision kept running for
// its scale-down delay.
const ReasonKeptWarm = "ScaleDownDelayed"

// bookkeep updates the history and counts what a decision did to the
// revisions: which became stable, which ended and how. prev is the state
// before the decision and the request's change.
func bookkeep(ch *change, prev strategy.State) {
	rec, st, now := ch.rec, ch.rec.State, ch.now
	if st.StableRevision != prev.StableRevision {
		if s := rec.summary(st.StableRevision); s != nil {
			s.StableAt, s.Outcome = now, ""
		}
		if s := rec.summary(prev.StableRevision); s != nil && prev.StableRevision != st.CanaryRevision {
			s.Outcome = RevisionSuperseded
		}
	}
	if c := prev.CanaryRevision; c != 0 && c != st.CanaryRevision && c != st.StableRevision {
		if s := rec.summary(c); s != nil && s.Outcome != RevisionAborted {
			s.Outcome = RevisionAbandoned
		}
	}
	if st.Phase == strategy.PhaseAborted && (prev.Phase != strategy.PhaseAborted || prev.CanaryRevision != st.CanaryRevision) {
		if s := rec.summary(st.CanaryRevision); s != nil {
			s.Outcome = RevisionAborted
		}
		ch.rolledBack++
		if rec.PendingSuccess == st.CanaryRevision {
			rec.PendingSuccess = 0
		}
	}
	if prev.Phase == strategy.PhaseAborted && st.Phase != strategy.PhaseAborted && st.CanaryRevision != 0 && st.CanaryRevision == prev.CanaryRevision {
		// Retried: the revision is being rolled out again.
		if s := rec.summary(st.CanaryRevision); s != nil {
			s.Outcome = ""
		}
		rec.PendingSuccess = st.CanaryRevision
	}
	switch p := rec.PendingSuccess; {
	case p == 0:
	case p == st.StableRevision && st.CanaryRevision == 0 && st.Phase == strategy.PhaseHealthy:
		ch.succeeded++
		rec.PendingSuccess = 0
	case p != st.StableRevision && p != st.CanaryRevision:
		rec.PendingSuccess = 0 // replaced before it got there
	}
}

// sameRecord reports whether saving b would store nothing new beyond the
// time of a wait: a paused or healthy rollout's progress clock moves with
// every decision without meaning anything.
func sameRecord(a, b *rolloutRecord) bool {
	return bytes.Equal(normalized(a), normalized(b))
}

func normalized(r *rolloutRecord) []byte {
	c := *r
	c.State = cloneState(r.State)
	if c.State.Phase != strategy.PhaseProgressing {
		c.State.LastProgressTime = time.Time{}
	}
	c.UpdatedAt = time.Time{}
	data, _ := json.Marshal(&c)
	return data
}

// eventData is what the server's event log gets for each decision.
type eventData struct {
	Project  string       `json:"project"`
	App      string       `json:"app"`
	Env      string       `json:"env"`
	Event                 // seq, time, revision, reason, message, who
	Phase    string       `json:"phase"`
	Stable   *RevisionRef `json:"stable"`
	Canary   *RevisionRef `json:"canary"`
	Weight   int          `json:"weight"`
	Step     int          `json:"step"`
	Strategy string       `json:"strategy,omitempty"`
}

func (r *rollout) eventData(rec *rolloutRecord, e Event) eventData {
	d := eventData{Project: r.key.Project, App: r.key.App, Env: r.key.Env, Event: e,
		Phase: string(rec.State.Phase), Step: rec.State.StepIndex}
	d.Stable, d.Canary, d.Weight = r.refs(rec)
	if _, env := r.specFor(rec); env != nil {
		d.Strategy = env.Strategy.Name()
	}
	return d
}
