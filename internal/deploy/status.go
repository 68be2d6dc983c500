package deploy

import (
	"maps"
	"slices"
	"strings"

	"github.com/gantry-ci/gantry/internal/deploy/strategy"
)

// statusEvents is how many recent events a status carries.
const statusEvents = 20

// snapshot is the rollout's status now.
func (r *rollout) snapshot() *Status {
	r.mu.Lock()
	rec, env, envErr := r.rec, r.env, r.envErr
	r.mu.Unlock()
	st := &Status{
		Project: r.key.Project, App: r.key.App, Env: r.key.Env,
		Phase:       string(rec.State.Phase),
		Message:     rec.State.Message,
		AbortReason: rec.State.AbortReason,
		Step:        rec.State.StepIndex,
		Traffic:     maps.Clone(rec.Traffic.Weights),
		UpdatedAt:   rec.UpdatedAt,
	}
	if rec.AutoAbort != "" {
		if rec.State.Phase == strategy.PhaseAborted {
			st.Phase = string(strategy.PhaseDegraded)
		}
		if st.AbortReason == "" {
			st.AbortReason = rec.AutoAbort
		}
	}
	st.Analysis = r.an.lastVerdict()
	st.Stable, st.Canary, st.Weight = r.refs(rec)
	if _, es := r.specFor(rec); es != nil {
		st.Strategy = es.Strategy.Name()
		if c := es.Strategy.Canary; c != nil {
			st.Steps = len(c.Steps)
		}
	}
	if env != nil {
		st.URL, st.PreviewURL = env.URL(), env.PreviewURL()
		status := env.Status()
		for _, rev := range slices.Sorted(maps.Keys(status)) {
			rr := RevisionReplicas{RevisionRef: RevisionRef{Revision: rev}, RevisionStatus: status[rev]}
			if lr := r.revision(rev); lr != nil {
				rr.Version = lr.rec.Version
			}
			st.Revisions = append(st.Revisions, rr)
		}
	} else {
		if listen, _, ok := r.listenOf(rec); ok {
			st.URL = listenURL(listen)
		}
		if envErr != "" {
			st.Message = strings.TrimSpace(st.Message + " (not served: " + envErr + ")")
		}
	}
	events := rec.Events
	if n := len(events) - statusEvents; n > 0 {
		events = events[n:]
	}
	st.Events = slices.Clone(events)
	return st
}

// listenURL is the URL of a configured listen address, for a status
// given while the address cannot be bound.
func listenURL(listen string) string {
	if strings.HasPrefix(listen, ":") {
		return "http://127.0.0.1" + listen
	}
	return "http://" + listen
}

// refs names the stable and canary revisions and the canary's weight.
func (r *rollout) refs(rec *rolloutRecord) (stable, canary *RevisionRef, weight int) {
	ref := func(rev int64) *RevisionRef {
		if rev == 0 {
			return nil
		}
		out := &RevisionRef{Revision: rev}
		if s := rec.summary(rev); s != nil {
			out.Version = s.Version
		} else if lr := r.revision(rev); lr != nil {
			out.Version = lr.rec.Version
		}
		return out
	}
	stable, canary = ref(rec.State.StableRevision), ref(rec.State.CanaryRevision)
	if canary != nil {
		weight = rec.Traffic.Weights[canary.Revision]
	}
	return stable, canary, weight
}

// history lists the kept revisions, oldest first, as `rollout history`
// prints them.
func (r *rollout) history() []Revision {
	r.mu.Lock()
	rec := r.rec
	r.mu.Unlock()
	out := make([]Revision, 0, len(rec.Revisions))
	for _, s := range rec.Revisions {
		out = append(out, Revision{
			Revision: s.Revision, Version: s.Version, Phase: revisionPhase(rec, s),
			CreatedAt: s.CreatedAt, StableAt: s.StableAt, Who: s.Who, JobID: s.JobID, SHA: s.SHA,
			RollbackOf: s.RollbackOf, SetKeys: s.SetKeys,
		})
	}
	return out
}

// revisionPhase is the rollout's phase for the revisions it is about,
// and how it ended for the others.
func revisionPhase(rec *rolloutRecord, s revisionSummary) string {
	st := rec.State
	switch {
	case s.Revision == st.CanaryRevision:
		return string(st.Phase)
	case s.Revision == st.StableRevision && st.CanaryRevision == 0:
		return string(st.Phase)
	case s.Revision == st.StableRevision:
		return RevisionStable
	case s.Outcome != "":
		return s.Outcome
	}
	return RevisionSuperseded
}
