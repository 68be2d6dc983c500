package strategy

import (
	"cmp"
	"fmt"
	"maps"
	"slices"

	"github.com/gantry-ci/gantry/internal/deploy/spec"
)

// Rolling decides the next move of a rolling update with Kubernetes'
// Deployment semantics: the new revision grows while the total stays within
// replicas+maxSurge (rounded up), and old revisions shrink only while the
// ready replicas stay at least replicas-maxUnavailable (rounded down). If
// both round to zero, one replica may be unavailable, as in Kubernetes.
//
// Aborting runs the same algorithm towards the stable revision, so a
// rollback never drops capacity either.
func Rolling(cfg spec.Rolling, p Params, st State, ob Observation) Decision {
	r := newRun(p, st, ob)
	rr := &rollingRun{run: r, cfg: cfg}
	switch {
	case r.inProgress():
		rr.decide()
	case rr.leftovers():
		rr.drain()
	default:
		r.st.CanaryRevision = 0
		r.steady()
	}
	return r.finish()
}

// leftovers reports whether revisions other than the stable one still run
// with no rollout in progress (one was cancelled by beginning the stable
// revision again).
func (r *rollingRun) leftovers() bool {
	for rev, n := range r.st.Replicas {
		if rev != r.st.StableRevision && n > 0 {
			return true
		}
	}
	return false
}

// drain scales leftover revisions away under the same availability rules
// as an update, rather than dropping their ready replicas at once.
func (r *rollingRun) drain() {
	st := &r.st
	st.CanaryRevision = 0
	if req := r.ob.Request; req != RequestNone {
		r.event(ReasonRequestIgnored, "%s: no rollout in progress", req)
	}
	next := r.step(st.StableRevision, r.st.Replicas)
	maps.Copy(r.replicas, next)
	r.setTraffic()
	st.Phase = PhaseProgressing
	st.Message = fmt.Sprintf("scaling revision %d to %d replicas and other revisions down", st.StableRevision, r.p.Replicas)
}

type rollingRun struct {
	*run
	cfg spec.Rolling
}

// Fenceposts resolves maxSurge and maxUnavailable for a replica count the
// way Kubernetes does.
func Fenceposts(cfg spec.Rolling, replicas int) (surge, unavailable int) {
	surge = cfg.MaxSurge.Scaled(replicas, true)
	unavailable = min(cfg.MaxUnavailable.Scaled(replicas, false), replicas)
	if surge == 0 && unavailable == 0 {
		unavailable = 1
	}
	return surge, unavailable
}

func (r *rollingRun) decide() {
	st := &r.st
	if reason := r.shouldAbort(); reason != "" {
		r.abort(reason)
		st.Message = "rolling back: " + st.Message
	}
	aborted := st.Phase == PhaseAborted
	if aborted && r.ob.Request == RequestResume {
		r.retry()
		aborted = false
	}
	if !aborted {
		r.common()
		if req := r.ob.Request; req == RequestPromote || req == RequestPromoteFull {
			r.event(ReasonRequestIgnored, "%s: a rolling update has no steps to skip", req)
		}
	} else if req := r.ob.Request; req != RequestNone && req != RequestAbort {
		r.event(ReasonRequestIgnored, "%s: the rollout is aborted; resume retries it", req)
	}

	target := st.CanaryRevision
	if aborted {
		target = st.StableRevision
	}
	current := maps.Clone(st.Replicas)
	if current == nil {
		current = map[int64]int{}
	}
	defer r.setTraffic()
	if st.ManualPause || (!aborted && r.analysisHolds()) {
		maps.Copy(r.replicas, current)
		if st.ManualPause {
			r.waiting(PhasePaused, "", "paused by request")
		}
		return
	}
	next := r.step(target, current)
	maps.Copy(r.replicas, next)

	done := next[target] == r.p.Replicas && r.ready(target) >= r.p.Replicas
	for rev, n := range next {
		if rev != target && n > 0 {
			done = false
		}
	}
	switch {
	case !done && aborted:
		// The message set by abort stays.
	case !done:
		r.waiting(PhaseProgressing, "", "revision %d: %d of %d replicas updated and ready",
			target, r.ready(target), r.p.Replicas)
	case aborted:
		msg := fmt.Sprintf("revision %d aborted (%s); rolled back to revision %d", st.CanaryRevision, st.AbortReason, st.StableRevision)
		if r.prev.Message != msg {
			r.event(ReasonRolledBack, "revision %d is back at %d ready replicas", st.StableRevision, r.p.Replicas)
		}
		st.Message = msg
	default:
		old := st.StableRevision
		st.StableRevision, st.CanaryRevision = target, 0
		st.Phase, st.Message = PhaseHealthy, ""
		r.event(ReasonPromoted, "revision %d is now stable, replacing revision %d", target, old)
	}
}

// step is one reconcile of Kubernetes' rolling update: scale the target up
// within the surge, then scale other revisions down (not-ready replicas
// first, oldest revision first) within the availability budget.
func (r *rollingRun) step(target int64, current map[int64]int) map[int64]int {
	R := r.p.Replicas
	surge, unavailable := Fenceposts(r.cfg, R)
	minAvailable := max(0, R-unavailable)
	next := map[int64]int{}
	for rev, n := range current {
		if n > 0 {
			next[rev] = n
		}
	}

	// Scale up: total desired stays within R+surge.
	total := 0
	for _, n := range next {
		total += n
	}
	switch t := next[target]; {
	case t > R:
		next[target] = R
	case t < R:
		next[target] = t + max(0, min(R+surge-total, R-t))
	}

	olds := make([]int64, 0, len(next))
	for rev := range next {
		if rev != target {
			olds = append(olds, rev)
		}
	}
	slices.Sort(olds) // oldest first, as Kubernetes scales down
	if len(olds) == 0 {
		return next
	}

	// Scale down: never below minAvailable ready replicas, counting only
	// replicas that will remain (ready beyond the desired count are on
	// their way out already).
	readyKept := func(rev int64) int { return min(r.ready(rev), next[rev]) }
	total = 0
	for _, n := range next {
		total += n
	}
	targetUnavailable := max(0, next[target]-r.ready(target))
	maxScaleDown := total - minAvailable - targetUnavailable
	// Not-ready old replicas carry no traffic, so removing them costs
	// nothing; they go first (Kubernetes' cleanupUnhealthyReplicas).
	for _, rev := range olds {
		if maxScaleDown <= 0 {
			break
		}
		unready := next[rev] - readyKept(rev)
		n := min(unready, maxScaleDown)
		next[rev] -= n
		maxScaleDown -= n
	}
	available := 0
	for rev := range next {
		available += readyKept(rev)
	}
	budget := min(maxScaleDown, available-minAvailable)
	for _, rev := range olds {
		if budget <= 0 {
			break
		}
		n := min(next[rev], budget)
		next[rev] -= n
		budget -= n
	}
	for rev, n := range next {
		if n <= 0 {
			delete(next, rev)
		}
	}
	return next
}

// setTraffic splits requests in proportion to ready replicas, as a
// Kubernetes Service over every ReplicaSet would, so that no ready replica
// of any revision sits idle while others carry the load.
func (r *rollingRun) setTraffic() {
	st := &r.st
	r.traffic = Traffic{Active: st.StableRevision}
	ready := map[int64]int{}
	total := 0
	for rev, n := range r.replicas {
		if k := min(r.ready(rev), n); k > 0 {
			ready[rev] = k
			total += k
		}
	}
	if total == 0 {
		ready = map[int64]int{st.StableRevision: 1}
		total = 1
	}
	r.traffic.Weights = shares(ready, total)
	if st.CanaryRevision != 0 && r.replicas[st.CanaryRevision] > 0 {
		r.traffic.Canary = st.CanaryRevision
		r.traffic.CanaryWeight = r.traffic.Weights[st.CanaryRevision]
	}
	st.CanaryWeight = r.traffic.CanaryWeight
}

// shares turns counts into percentages summing to exactly 100, giving the
// points lost to rounding to the largest remainders (ties to the newer
// revision).
func shares(counts map[int64]int, total int) map[int64]int {
	out := make(map[int64]int, len(counts))
	revs := slices.Sorted(maps.Keys(counts))
	given := 0
	for _, rev := range revs {
		out[rev] = 100 * counts[rev] / total
		given += out[rev]
	}
	slices.SortStableFunc(revs, func(a, b int64) int {
		ra, rb := 100*counts[a]%total, 100*counts[b]%total
		if ra != rb {
			return rb - ra
		}
		return cmp.Compare(b, a)
	})
	for i := 0; given < 100; i++ {
		out[revs[i%len(revs)]]++
		given++
	}
	for rev, n := range out {
		if n == 0 {
			delete(out, rev)
		}
	}
	return out
}
