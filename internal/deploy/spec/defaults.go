package spec

import "time"

// Defaults are the values the decoder starts from and then overwrites with
// what the file says. Starting from them (instead of filling zero fields
// afterwards) keeps a zero the user wrote, such as `maxUnavailable: 0` or
// `autoPromotionEnabled: false`, distinct from a key left out.
//
// The numbers follow Argo Rollouts and Kubernetes where they have one
// (25%/25%, revisionHistoryLimit 10, progressDeadlineSeconds 600,
// scaleDownDelaySeconds 30, autoPromotionEnabled true); health checks are
// tighter than Kubernetes' because replicas here start in milliseconds.
const (
	DefaultReplicas                = 1
	DefaultRevisionHistoryLimit    = 10
	DefaultProgressDeadlineSeconds = 600
	DefaultScaleDownDelaySeconds   = 30
	DefaultFailureThreshold        = 3
	DefaultHealthInterval          = Duration(time.Second)
	DefaultHealthTimeout           = Duration(time.Second)
)

// defaultCanaryHeader is the header the design routes to the canary
// (`canary: "true"`); `canaryHeader: null` turns it off.
var defaultCanaryHeader = HeaderMatch{Name: "canary", Value: "true"}

// DefaultCanaryHeader returns the header match a canary uses when the spec
// names none.
func DefaultCanaryHeader() HeaderMatch { return defaultCanaryHeader }

func defaultSpec() Spec {
	return Spec{
		Replicas:                DefaultReplicas,
		HealthCheck:             defaultHealthCheck(),
		RevisionHistoryLimit:    DefaultRevisionHistoryLimit,
		ProgressDeadlineSeconds: DefaultProgressDeadlineSeconds,
	}
}

func defaultHealthCheck() HealthCheck {
	return HealthCheck{
		Interval:         DefaultHealthInterval,
		Timeout:          DefaultHealthTimeout,
		FailureThreshold: DefaultFailureThreshold,
	}
}

// defaultRuntime fills what the kind implies once the kind is known.
func defaultRuntime(r *Runtime) {
	if r.Kind == RuntimeWasm && r.Mode == "" {
		r.Mode = ModeWAGI
	}
}

// defaultEnvironment inherits the spec-wide replica count and takes the
// tier from a name that is itself a tier, as GitLab does.
func defaultEnvironment(name string, s *Spec) Environment {
	tier := TierOther
	switch t := Tier(name); t {
	case TierProduction, TierStaging, TierTesting, TierDevelopment:
		tier = t
	}
	return Environment{Name: name, Tier: tier, Replicas: s.Replicas}
}

// DefaultStrategy is what an environment without `strategy` gets:
// Kubernetes' default rolling update.
func DefaultStrategy() Strategy {
	r := defaultRolling()
	return Strategy{Rolling: &r}
}

func defaultRolling() Rolling {
	return Rolling{MaxSurge: Percent(25), MaxUnavailable: Percent(25)}
}

func defaultBlueGreen() BlueGreen {
	return BlueGreen{AutoPromotionEnabled: true, ScaleDownDelaySeconds: DefaultScaleDownDelaySeconds}
}

func defaultCanary() Canary {
	h := defaultCanaryHeader
	return Canary{CanaryHeader: &h, Steps: []CanaryStep{}}
}
