package spec

// Spec is a whole gantry.deploy.yaml after defaults: what to run, how many,
// how to tell it is healthy, and how each environment rolls a new revision
// out. Field names follow Argo Rollouts where the idea is the same, so that
// the file reads familiarly and can later be translated to a Rollout.
type Spec struct {
	// File is where the spec was read from; errors from Validate use it.
	File string `json:"-"`

	App                     string         `json:"app"`
	Runtime                 Runtime        `json:"runtime"`
	Replicas                int            `json:"replicas"`
	HealthCheck             HealthCheck    `json:"healthCheck"`
	RevisionHistoryLimit    int            `json:"revisionHistoryLimit"`
	ProgressDeadlineSeconds int            `json:"progressDeadlineSeconds"`
	Analysis                map[string]any `json:"analysis,omitempty"`
	Environments            []Environment  `json:"environments"`

	// positions maps a key path ("environments.production.listen") to where
	// its value was written, so Validate can point into the file.
	positions map[string]pos
}

// RuntimeKind says what a replica is.
type RuntimeKind string

// The runtimes a replica can have.
const (
	// RuntimeWasm runs a WASI module inside Gantry (wazero), one instance
	// per replica.
	RuntimeWasm RuntimeKind = "wasm"
	// RuntimeProcess runs a command per replica, told its port in $PORT.
	RuntimeProcess RuntimeKind = "process"
)

// WasmMode is the contract between Gantry and a WASI module.
type WasmMode string

// The contracts a WASI module can follow.
const (
	// ModeWAGI runs the module once per request, CGI style: request in
	// environment and stdin, response on stdout. Needs nothing beyond WASI
	// preview 1, which is why it is the default.
	ModeWAGI WasmMode = "wagi"
	// ModeListener starts the module once and lets it accept connections on
	// a pre-opened socket, for modules that keep state between requests.
	ModeListener WasmMode = "listener"
)

// Runtime is how to start one replica.
type Runtime struct {
	Kind RuntimeKind `json:"kind"`
	// Module is the WASI module's path, relative to the deploy artifact.
	Module string   `json:"module,omitempty"`
	Mode   WasmMode `json:"mode,omitempty"`
	// Command is the argv of a process replica.
	Command []string          `json:"command,omitempty"`
	Env     map[string]string `json:"env,omitempty"`
}

// HealthCheck decides when a replica is ready to receive traffic and when it
// has stopped being so. An empty Path means a replica is ready once its port
// accepts connections.
type HealthCheck struct {
	Path             string   `json:"path,omitempty"`
	Interval         Duration `json:"interval"`
	Timeout          Duration `json:"timeout"`
	FailureThreshold int      `json:"failureThreshold"`
	InitialDelay     Duration `json:"initialDelay"`
}

// Tier is GitLab's deployment tier of an environment, used to order and
// protect environments.
type Tier string

// GitLab's deployment tiers.
const (
	TierProduction  Tier = "production"
	TierStaging     Tier = "staging"
	TierTesting     Tier = "testing"
	TierDevelopment Tier = "development"
	TierOther       Tier = "other"
)

// Environment is one place the app runs: its own listen address, replica
// count and rollout strategy.
type Environment struct {
	Name     string   `json:"name"`
	Listen   string   `json:"listen"`
	Tier     Tier     `json:"tier"`
	Replicas int      `json:"replicas"`
	Strategy Strategy `json:"strategy"`
}

// Strategy is how a new revision replaces the stable one. Exactly one field
// is set.
type Strategy struct {
	Rolling   *Rolling   `json:"rolling,omitempty"`
	BlueGreen *BlueGreen `json:"blueGreen,omitempty"`
	Canary    *Canary    `json:"canary,omitempty"`
}

// Name is "rolling", "blueGreen" or "canary" (or "" for an empty Strategy).
func (s Strategy) Name() string {
	switch {
	case s.Rolling != nil:
		return "rolling"
	case s.BlueGreen != nil:
		return "blueGreen"
	case s.Canary != nil:
		return "canary"
	}
	return ""
}

// Rolling replaces replicas a few at a time, as a Kubernetes Deployment's
// RollingUpdate does.
type Rolling struct {
	// MaxSurge is how many replicas may run above the desired count
	// (percentages round up).
	MaxSurge IntOrPercent `json:"maxSurge"`
	// MaxUnavailable is how many of the desired replicas may be not ready
	// (percentages round down).
	MaxUnavailable IntOrPercent `json:"maxUnavailable"`
}

// BlueGreen starts the new revision beside the old one, reachable only on
// the preview address, then switches all traffic at once.
type BlueGreen struct {
	// PreviewListen is where the new revision answers before promotion; ""
	// keeps it unreachable except through health checks.
	PreviewListen string `json:"previewListen,omitempty"`
	// AutoPromotionEnabled false waits for a promote request once the
	// preview is ready.
	AutoPromotionEnabled bool `json:"autoPromotionEnabled"`
	// AutoPromotionSeconds delays automatic promotion after the preview is
	// ready; ignored when AutoPromotionEnabled is false (as in Argo).
	AutoPromotionSeconds int `json:"autoPromotionSeconds"`
	// ScaleDownDelaySeconds keeps the old revision running after the switch,
	// so that undoing it is instant.
	ScaleDownDelaySeconds int `json:"scaleDownDelaySeconds"`
	// PreviewReplicaCount runs fewer preview replicas until promotion; nil
	// runs the full count.
	PreviewReplicaCount *int `json:"previewReplicaCount,omitempty"`
	// PrePromotionAnalysis must succeed before traffic switches to the
	// preview; its failure aborts the rollout.
	PrePromotionAnalysis *RolloutAnalysis `json:"prePromotionAnalysis,omitempty"`
	// PostPromotionAnalysis runs after the switch while the old revision
	// is still warm; its failure switches traffic back at once.
	PostPromotionAnalysis *RolloutAnalysis `json:"postPromotionAnalysis,omitempty"`
}

// Canary shifts traffic to the new revision in steps.
type Canary struct {
	// CanaryHeader sends every request carrying this header to the canary,
	// whatever the weight, so testers can reach it on purpose. Nil turns
	// header routing off.
	CanaryHeader *HeaderMatch `json:"canaryHeader,omitempty"`
	Steps        []CanaryStep `json:"steps"`
	// Analysis runs in the background from its starting step until the
	// canary is promoted; its failure aborts the rollout.
	Analysis *BackgroundAnalysis `json:"analysis,omitempty"`
}

// HeaderMatch is an exact match on one request header.
type HeaderMatch struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// CanaryStep is one step of a canary; exactly one field is set.
type CanaryStep struct {
	// SetWeight sends this percentage of requests to the canary.
	SetWeight *int `json:"setWeight,omitempty"`
	// Pause waits for a duration or, without one, for a promote request.
	Pause *Pause `json:"pause,omitempty"`
	// SetCanaryScale sizes the canary independently of its weight.
	SetCanaryScale *SetCanaryScale `json:"setCanaryScale,omitempty"`
	// Analysis holds the step until its templates succeed; their failure
	// aborts the rollout.
	Analysis *RolloutAnalysis `json:"analysis,omitempty"`
}

// Kind is "setWeight", "pause", "setCanaryScale" or "analysis".
func (s CanaryStep) Kind() string {
	switch {
	case s.SetWeight != nil:
		return "setWeight"
	case s.Pause != nil:
		return "pause"
	case s.SetCanaryScale != nil:
		return "setCanaryScale"
	case s.Analysis != nil:
		return "analysis"
	}
	return ""
}

// Pause holds a canary at its current step.
type Pause struct {
	// Duration nil waits until promoted.
	Duration *Duration `json:"duration,omitempty"`
}

// SetCanaryScale sizes the canary; exactly one field is set.
type SetCanaryScale struct {
	Replicas *int `json:"replicas,omitempty"`
	// Weight is a percentage of the desired replicas, rounded up.
	Weight *int `json:"weight,omitempty"`
	// MatchTrafficWeight goes back to sizing the canary by its weight.
	MatchTrafficWeight bool `json:"matchTrafficWeight,omitempty"`
}

// Environment returns the named environment, or nil.
func (s *Spec) Environment(name string) *Environment {
	for i := range s.Environments {
		if s.Environments[i].Name == name {
			return &s.Environments[i]
		}
	}
	return nil
}
