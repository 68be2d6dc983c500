// Package strategy decides, for one environment, what a rollout does next:
// given the strategy from the deploy spec, the persisted State and an
// Observation (the time, each revision's running and ready replicas, a
// user's request, an analysis verdict), it returns a Decision: the new
// State, the desired replicas per revision, the traffic split for the proxy,
// the events to record and when to decide again if nothing else changes.
//
// The functions are pure: no clock, no I/O, no goroutines. The controller
// owns all of that and calls Next in a loop. Purity is what makes the
// rollout logic testable as whole lives (a table of observations walked
// from start to promotion), fuzzable against invariants (never negative
// replicas, weights within 0..100, a rolling update never dropping ready
// capacity below replicas-maxUnavailable), and restartable: the State is
// plain JSON, so a controller that dies mid-canary resumes exactly where it
// was, and the same State and Observation always give the same Decision.
//
// # Phases
//
// A rollout is Progressing while replicas or traffic move, Paused at a
// pause step, while waiting for a blue-green promotion or after a pause
// request, Healthy when no rollout is in progress and the stable revision
// is fully ready, Degraded when Progressing made no progress (no step, no
// weight, no replica count and no newly ready replica) for the progress
// deadline, and Aborted when the new revision was given up (by request or a
// failed analysis). Degraded is not terminal: progress returns the rollout
// to Progressing, and resume restarts the clock. Aborted keeps the new
// revision in State.CanaryRevision so that resume can retry it from the
// first step; beginning another revision replaces it.
//
// # Revisions
//
// Begin starts a rollout of a revision. The first revision ever deployed
// becomes stable directly, as in Argo Rollouts. Beginning a new revision
// during a rollout abandons the one in progress; beginning the stable
// revision cancels it (the controller's undo). Revisions are the
// controller's numbers; a Decision asks for replicas only of revisions it
// lists, and the rest should be stopped (not-ready replicas first).
//
// # Strategies
//
// Rolling follows Kubernetes' Deployment: maxSurge rounds up and
// maxUnavailable down, and if both round to zero one replica may be
// unavailable. The new revision grows within replicas+maxSurge; old
// revisions shrink, oldest first and not-ready replicas first, only while
// the replicas kept ready stay at least replicas-maxUnavailable. Traffic
// follows ready replicas, as a Service would. Aborting runs the same
// algorithm back towards the stable revision.
//
// BlueGreen starts the new revision as the preview (previewReplicaCount
// replicas, or all), waits for it to be ready, then promotes: at once,
// after autoPromotionSeconds, or on request when autoPromotionEnabled is
// false. Promotion scales the preview to full size, then switches the
// active revision in one decision; the replaced revision keeps running for
// scaleDownDelaySeconds so that switching back is instant.
//
// Canary walks the steps. setWeight raises the weight only once the canary
// has the replicas to carry it (ceil(weight×replicas/100), at least one
// while the weight is above zero, unless setCanaryScale says otherwise);
// pause holds for its duration or until promoted; the stable revision stays
// at full scale throughout. Promote skips the current step (ending a
// pause), promoteFull skips all remaining steps. After the last step the
// canary grows to full size and becomes stable. Requests carrying the
// canary header go to the canary whenever it has replicas.
//
// Analysis is a placeholder verdict per decision: Running holds the rollout
// at its current step, Failed aborts it.
package strategy
