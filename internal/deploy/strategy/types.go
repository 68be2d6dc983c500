package strategy

import (
	"time"

	"github.com/gantry-ci/gantry/internal/deploy/spec"
)

// Phase is where a rollout stands, with Argo Rollouts' names.
type Phase string

// The phases of a rollout.
const (
	// PhaseProgressing: replicas or traffic are still moving towards the
	// next step.
	PhaseProgressing Phase = "Progressing"
	// PhasePaused: waiting on a pause step, a promote request, an
	// auto-promotion delay or a user's pause.
	PhasePaused Phase = "Paused"
	// PhaseHealthy: no rollout in progress and every desired replica of the
	// stable revision is ready.
	PhaseHealthy Phase = "Healthy"
	// PhaseDegraded: progressing, but nothing moved for longer than the
	// progress deadline. Decisions keep asking for the same replicas, so
	// the rollout recovers by itself if the replicas become ready.
	PhaseDegraded Phase = "Degraded"
	// PhaseAborted: the new revision was given up; the stable one serves
	// everything. A resume request retries from the first step.
	PhaseAborted Phase = "Aborted"
)

// Request is what a user asked for since the last decision, one at a time.
type Request string

// The requests a user can make, named after `kubectl argo rollouts` verbs.
const (
	RequestNone Request = ""
	// RequestPromote ends the current pause (or skips the current step);
	// in blue-green it switches traffic to the preview.
	RequestPromote Request = "promote"
	// RequestPromoteFull skips every remaining step.
	RequestPromoteFull Request = "promoteFull"
	// RequestAbort gives up the new revision.
	RequestAbort Request = "abort"
	// RequestPause holds the rollout where it is.
	RequestPause Request = "pause"
	// RequestResume undoes RequestPause, retries an aborted rollout from
	// its first step, and restarts the progress deadline of a degraded one.
	RequestResume Request = "resume"
)

// Verdict is the outcome of the analysis attached to the current step:
// Running holds the rollout at its current step, Inconclusive holds it
// Paused until a person promotes or aborts (as Argo Rollouts does), Failed
// aborts it, Successful and None let it proceed. An analysis step passes
// only on Successful given for that very step (the step the decision
// started at).
type Verdict string

// The verdicts an analysis can give.
const (
	VerdictNone    Verdict = ""
	VerdictRunning Verdict = "Running"
	// VerdictInconclusive: the analysis could not decide (no data, by
	// default); the rollout pauses.
	VerdictInconclusive Verdict = "Inconclusive"
	VerdictSuccessful   Verdict = "Successful"
	VerdictFailed       Verdict = "Failed"
)

// ReplicaStatus is what the controller saw of one revision's replicas.
type ReplicaStatus struct {
	// Running counts replicas started and not yet stopped, ready or not.
	Running int `json:"running"`
	// Ready counts replicas passing their health check.
	Ready int `json:"ready"`
}

// Observation is everything a decision depends on besides the spec and the
// state: the time, the replicas seen, and what the user and analysis said.
type Observation struct {
	Now       time.Time               `json:"now"`
	Revisions map[int64]ReplicaStatus `json:"revisions,omitempty"`
	Request   Request                 `json:"request,omitempty"`
	Analysis  Verdict                 `json:"analysis,omitempty"`
	// AnalysisReason is why the analysis failed; an abort it causes
	// carries it as the abort reason.
	AnalysisReason string `json:"analysisReason,omitempty"`
}

func (o Observation) ready(rev int64) int {
	if rev == 0 {
		return 0
	}
	return max(0, o.Revisions[rev].Ready)
}

// Params are the parts of the spec every strategy needs.
type Params struct {
	// Replicas is the desired replica count of the environment.
	Replicas int
	// ProgressDeadline turns a rollout Degraded when nothing moves for
	// this long; 0 never does.
	ProgressDeadline time.Duration
}

// ParamsFor reads Params from a spec's environment.
func ParamsFor(s *spec.Spec, env *spec.Environment) Params {
	return Params{Replicas: env.Replicas, ProgressDeadline: time.Duration(s.ProgressDeadlineSeconds) * time.Second}
}

// State is what the controller persists between decisions. It is plain
// data: the same State and Observation always give the same Decision.
type State struct {
	Phase Phase `json:"phase,omitempty"`
	// Message says why the phase is what it is, for people.
	Message string `json:"message,omitempty"`
	// AbortReason is why an Aborted rollout was given up.
	AbortReason string `json:"abortReason,omitempty"`

	// StableRevision serves traffic when no rollout is in progress.
	StableRevision int64 `json:"stableRevision,omitempty"`
	// CanaryRevision is the revision being rolled out: the canary, the
	// rolling update's new revision or the blue-green preview. 0 when none.
	CanaryRevision int64 `json:"canaryRevision,omitempty"`

	// Canary progress.
	StepIndex int `json:"stepIndex"`
	// StepStarted records that the current step was announced, so its
	// event is emitted once.
	StepStarted  bool `json:"stepStarted,omitempty"`
	CanaryWeight int  `json:"canaryWeight"`
	// CanaryScale is the setCanaryScale in force; nil sizes the canary by
	// its weight.
	CanaryScale    *spec.SetCanaryScale `json:"canaryScale,omitempty"`
	PauseStartTime time.Time            `json:"pauseStartTime,omitzero"`
	// ManualPause is a user's pause request, lifted by resume or promote.
	ManualPause bool `json:"manualPause,omitempty"`

	// Blue-green progress. ActiveRevision and PreviewRevision mirror the
	// traffic of the last decision for display.
	ActiveRevision   int64     `json:"activeRevision,omitempty"`
	PreviewRevision  int64     `json:"previewRevision,omitempty"`
	PreviewReadyTime time.Time `json:"previewReadyTime,omitzero"`
	// Promoting: promotion was decided (by a user or automatically) and
	// waits for the preview to reach full scale.
	Promoting     bool      `json:"promoting,omitempty"`
	PromotionTime time.Time `json:"promotionTime,omitzero"`
	// ScaleDownRevision is the revision a promotion replaced, kept at full
	// scale until ScaleDownDeadline so that undoing the switch is instant.
	ScaleDownRevision int64     `json:"scaleDownRevision,omitempty"`
	ScaleDownDeadline time.Time `json:"scaleDownDeadline,omitzero"`

	// Replicas is the desired count per revision last decided; the rolling
	// update scales from it as Kubernetes scales from ReplicaSet specs.
	Replicas map[int64]int `json:"replicas,omitempty"`
	// Observed is the replica status the last decision saw, to tell
	// progress from standing still.
	Observed map[int64]ReplicaStatus `json:"observed,omitempty"`
	// LastProgressTime is when the rollout last moved, for the deadline.
	LastProgressTime time.Time `json:"lastProgressTime,omitzero"`
}

// Decision is what to do now.
type Decision struct {
	// State is to be persisted and passed to the next decision.
	State State `json:"state"`
	// Replicas is the desired replica count per revision. Revisions not
	// listed should run none. When scaling a revision down, stop replicas
	// that are not ready first: the rolling update counts on it.
	Replicas map[int64]int `json:"replicas"`
	Traffic  Traffic       `json:"traffic"`
	// Events record each thing decided, for `gantry deploy status`.
	Events []Event `json:"events,omitempty"`
	// RequeueAfter is when the decision changes with time alone (a pause
	// ends, a deadline passes); 0 when only new observations change it.
	RequeueAfter time.Duration `json:"requeueAfter,omitempty"`
}

// ReplicasOf is the desired replica count of one revision.
func (d Decision) ReplicasOf(rev int64) int { return d.Replicas[rev] }

// Traffic is how the proxy splits requests between revisions. Weights is
// the split to apply; Active, Canary and CanaryWeight name the roles for
// people and for the canary header. A proxy should send a revision's share
// to the others while it has no ready replica.
type Traffic struct {
	// Weights is the percentage of requests on the main address per
	// revision; they sum to 100. Empty before anything is deployed.
	Weights map[int64]int `json:"weights,omitempty"`
	// Active gets the requests the canary does not; in blue-green it is
	// the active revision. 0 before anything was deployed.
	Active int64 `json:"active,omitempty"`
	// Canary gets CanaryWeight percent of the requests on the main address.
	Canary       int64 `json:"canary,omitempty"`
	CanaryWeight int   `json:"canaryWeight"`
	// Header sends matching requests to its revision whatever the weights.
	Header *HeaderRoute `json:"header,omitempty"`
	// Preview is the revision served on a blue-green preview address.
	Preview int64 `json:"preview,omitempty"`
}

// HeaderRoute sends requests whose header Name equals Value to Revision.
type HeaderRoute struct {
	Name     string `json:"name"`
	Value    string `json:"value"`
	Revision int64  `json:"revision"`
}

// Event is one thing a decision did, for the controller to record.
type Event struct {
	Reason  string `json:"reason"`
	Message string `json:"message"`
}

// Event reasons.
const (
	ReasonRolloutStarted     = "RolloutStarted"
	ReasonStepReached        = "StepReached"
	ReasonWeightSet          = "WeightSet"
	ReasonCanaryScaleSet     = "CanaryScaleSet"
	ReasonPauseStarted       = "PauseStarted"
	ReasonPauseEnded         = "PauseEnded"
	ReasonStepSkipped        = "StepSkipped"
	ReasonPaused             = "Paused"
	ReasonResumed            = "Resumed"
	ReasonRetried            = "Retried"
	ReasonPreviewReady       = "PreviewReady"
	ReasonPromotionStarted   = "PromotionStarted"
	ReasonPromoted           = "Promoted"
	ReasonAborted            = "Aborted"
	ReasonRolledBack         = "RolledBack"
	ReasonScaledUp           = "ScaledUp"
	ReasonScaledDown         = "ScaledDown"
	ReasonAvailable          = "Available"
	ReasonProgressDeadline   = "ProgressDeadlineExceeded"
	ReasonProgressResumed    = "ProgressResumed"
	ReasonWaitingForAnalysis = "WaitingForAnalysis"
	ReasonRequestIgnored     = "RequestIgnored"
	ReasonAbandoned          = "RevisionAbandoned"
)
