package analysis

import (
	"time"

	"github.com/expr-lang/expr/vm"
)

// Phase is where a measurement, a metric or a whole run stands, with Argo
// Rollouts' names.
type Phase string

// The phases. A measurement is Successful, Failed, Inconclusive or Error; a
// metric or run is Pending before its first measurement, Running until it
// is decided, then one of the four.
const (
	PhasePending      Phase = "Pending"
	PhaseRunning      Phase = "Running"
	PhaseSuccessful   Phase = "Successful"
	PhaseFailed       Phase = "Failed"
	PhaseInconclusive Phase = "Inconclusive"
	PhaseError        Phase = "Error"
)

// Completed reports whether the phase is final.
func (p Phase) Completed() bool {
	switch p {
	case PhaseSuccessful, PhaseFailed, PhaseInconclusive, PhaseError:
		return true
	}
	return false
}

// severity orders completed phases as Argo Rollouts does, so the run takes
// the worst of its metrics.
func (p Phase) severity() int {
	switch p {
	case PhaseSuccessful:
		return 1
	case PhaseInconclusive:
		return 2
	case PhaseError:
		return 3
	case PhaseFailed:
		return 4
	}
	return 0
}

// NoDataRule says how a measurement without data counts.
type NoDataRule string

// The no-data rules.
const (
	// NoDataInconclusive counts it towards inconclusiveLimit (the default):
	// the rollout waits for a person unless the limit allows a few.
	NoDataInconclusive NoDataRule = "inconclusive"
	// NoDataFail counts it towards failureLimit.
	NoDataFail NoDataRule = "fail"
	// NoDataPass counts it as a success.
	NoDataPass NoDataRule = "pass"
)

// Defaults Argo Rollouts uses, and Gantry's own for its providers.
const (
	// DefaultConsecutiveErrorLimit is the consecutiveErrorLimit of a metric
	// that sets none.
	DefaultConsecutiveErrorLimit = 4
	// ErrorRetryInterval spaces the retries of a metric without interval
	// whose measurement errored.
	ErrorRetryInterval = 10 * time.Second
	// MinInterval is the shortest interval a metric may have; guardrails
	// are the tool for judging faster than that.
	MinInterval = 10 * time.Millisecond
	// DefaultBuiltinWindow is how far back a builtin metric looks.
	DefaultBuiltinWindow = 30 * time.Second
	// DefaultHTTPTimeout bounds one prometheus or web measurement.
	DefaultHTTPTimeout = 10 * time.Second
	// DefaultJobTimeout bounds one job measurement.
	DefaultJobTimeout = 60 * time.Second
)

// Template is a named set of metrics, referenced from rollout steps.
type Template struct {
	Name    string    `json:"name"`
	Metrics []*Metric `json:"metrics"`
}

// Metric is one thing to measure repeatedly and how to judge it. Fields
// follow Argo Rollouts' AnalysisTemplate metric; OnNoData and MinSamples
// are Gantry's.
type Metric struct {
	Name     string       `json:"name"`
	Provider ProviderSpec `json:"provider"`
	// Interval between measurements; 0 measures once (Count must be at
	// most 1 then).
	Interval time.Duration `json:"interval,omitempty"`
	// Count of measurements after which the metric is Successful; 0 means
	// once without Interval and indefinitely with it.
	Count int `json:"count,omitempty"`
	// InitialDelay before the first measurement.
	InitialDelay     time.Duration `json:"initialDelay,omitempty"`
	SuccessCondition string        `json:"successCondition,omitempty"`
	FailureCondition string        `json:"failureCondition,omitempty"`
	// FailureLimit failed measurements are tolerated; one more fails the
	// metric. -1 tolerates any number.
	FailureLimit int `json:"failureLimit"`
	// InconclusiveLimit works like FailureLimit for inconclusive ones.
	InconclusiveLimit int `json:"inconclusiveLimit"`
	// ConsecutiveErrorLimit errors in a row are tolerated; one more ends
	// the metric in Error.
	ConsecutiveErrorLimit int `json:"consecutiveErrorLimit"`
	// OnNoData decides measurements without data, or with fewer than
	// MinSamples samples.
	OnNoData   NoDataRule `json:"onNoData"`
	MinSamples int64      `json:"minSamples,omitempty"`
	// DryRun metrics are measured and recorded but never decide the run.
	DryRun bool `json:"dryRun,omitempty"`

	success, failure *vm.Program
}

// ProviderSpec names the one provider of a metric.
type ProviderSpec struct {
	Builtin    *BuiltinSpec    `json:"builtin,omitempty"`
	Prometheus *PrometheusSpec `json:"prometheus,omitempty"`
	Web        *WebSpec        `json:"web,omitempty"`
	Job        *JobSpec        `json:"job,omitempty"`
}

// Kind is the provider's key in the spec.
func (p ProviderSpec) Kind() string {
	switch {
	case p.Builtin != nil:
		return "builtin"
	case p.Prometheus != nil:
		return "prometheus"
	case p.Web != nil:
		return "web"
	case p.Job != nil:
		return "job"
	}
	return ""
}

// Builtin metric names, read from the proxy's per-revision window.
const (
	BuiltinErrorRate   = "error_rate"
	BuiltinRequestRate = "request_rate"
	BuiltinLatencyP50  = "latency_p50"
	BuiltinLatencyP95  = "latency_p95"
	BuiltinLatencyP99  = "latency_p99"
)

// CompareCanaryVsStable makes a builtin metric the canary's figure divided
// by the stable revision's over the same window.
const CompareCanaryVsStable = "canary_vs_stable"

// BuiltinSpec reads a figure of the proxy's sliding window. Latencies are
// in seconds, like Prometheus'.
type BuiltinSpec struct {
	Metric  string        `json:"metric"`
	Window  time.Duration `json:"window"`
	Compare string        `json:"compare,omitempty"`
}

// Header is one HTTP header, written as a key/value pair as in Argo
// Rollouts.
type Header struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// PrometheusSpec is an instant PromQL query.
type PrometheusSpec struct {
	Address string        `json:"address"`
	Query   string        `json:"query"`
	Timeout time.Duration `json:"timeout"`
	Headers []Header      `json:"headers,omitempty"`
}

// WebSpec is an HTTP request whose JSON answer is read with JSONPath.
type WebSpec struct {
	URL      string        `json:"url"`
	Method   string        `json:"method"`
	Headers  []Header      `json:"headers,omitempty"`
	Body     string        `json:"body,omitempty"`
	JSONPath string        `json:"jsonPath,omitempty"`
	Timeout  time.Duration `json:"timeout"`

	path jsonPath
}

// JobSpec is a command whose exit status is the measurement.
type JobSpec struct {
	Command []string          `json:"command"`
	Env     map[string]string `json:"env,omitempty"`
	Timeout time.Duration     `json:"timeout"`
}

// Args are the values a measurement substitutes for {{app}}, {{env}},
// {{canary}}, {{stable}}, {{canaryUrl}}, {{stableUrl}} and {{args.NAME}}.
type Args struct {
	App, Env string
	// Canary and Stable are the revisions as the proxy names them.
	Canary, Stable string
	// CanaryURL and StableURL reach one revision alone, written without a
	// scheme (host:port), as in "http://{{canaryUrl}}/healthz".
	CanaryURL, StableURL string
	// Extra fills {{args.NAME}}.
	Extra map[string]string
}

// Measurement is what a provider saw.
type Measurement struct {
	// Value is the figure; NaN is a value, judged by the conditions.
	Value float64
	// Result is what conditions see as `result` when it is not simply
	// Value: a string, bool, list or object read by a web check. Nil
	// means Value.
	Result any
	// Samples is how many requests or points the value rests on; -1 when
	// the provider cannot tell. MinSamples applies only when it can.
	Samples int64
	// NoData says there was nothing to measure: no requests, an empty
	// vector, a JSON null. The metric's no-data rule decides it.
	NoData bool
	// Query is the query, URL or command as sent, placeholders resolved.
	Query string
	// Raw is a short excerpt of the answer, for people.
	Raw string
}

// result is the value conditions see.
func (m Measurement) result() any {
	if m.Result != nil {
		return m.Result
	}
	return m.Value
}

// Record is one judged measurement, stored and shown by the controller.
type Record struct {
	Metric string    `json:"metric"`
	Time   time.Time `json:"time"`
	Value  Number    `json:"value"`
	// Result is the non-numeric result of a web check, when there was one.
	Result  any    `json:"result,omitempty"`
	Samples int64  `json:"samples"`
	Query   string `json:"query,omitempty"`
	// Condition is the condition that decided, with which one it was, for
	// example `result >= 0.05 (failureCondition)`; empty when none did.
	Condition string `json:"condition,omitempty"`
	Phase     Phase  `json:"phase"`
	Message   string `json:"message,omitempty"`
	NoData    bool   `json:"noData,omitempty"`
	DryRun    bool   `json:"dryRun,omitempty"`
	Raw       string `json:"raw,omitempty"`
}
