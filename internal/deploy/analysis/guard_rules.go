package analysis

import (
	"fmt"
	"time"
)

// Rule is one guardrail: the canary's builtin figure over the last Window,
// compared with Threshold by Op, judged only on at least MinRequests
// requests. Latencies are in seconds.
type Rule struct {
	Metric      string        `json:"metric"`
	Op          string        `json:"op"`
	Threshold   float64       `json:"threshold"`
	Window      time.Duration `json:"window"`
	MinRequests int64         `json:"minRequests"`
}

// Defaults of a guardrail's optional fields.
const (
	DefaultGuardWindow      = 2 * time.Second
	DefaultGuardMinRequests = 20
)

// DefaultGuardrails are the rules of a canary whose spec gives none: more
// than 5% server errors over 2s, judged on at least 20 requests. At 100
// requests per second that is about a quarter of a second of bad answers.
func DefaultGuardrails() []Rule {
	return []Rule{{Metric: BuiltinErrorRate, Op: ">", Threshold: 0.05, Window: DefaultGuardWindow, MinRequests: DefaultGuardMinRequests}}
}

// String reads like the spec: "error_rate > 0.05 over 2s with at least 20
// requests".
func (r Rule) String() string {
	return fmt.Sprintf("%s %s %s over %s with at least %d requests", r.Metric, r.Op, formatValue(r.Threshold), r.Window, r.MinRequests)
}

// breached applies the rule's comparison.
func (r *Rule) breached(v float64) bool {
	switch r.Op {
	case ">":
		return v > r.Threshold
	case ">=":
		return v >= r.Threshold
	case "<":
		return v < r.Threshold
	case "<=":
		return v <= r.Threshold
	}
	return false
}

// Validate checks a rule built in code as Parse checks the spec's.
func (r Rule) Validate() error {
	switch {
	case !knownBuiltin(r.Metric):
		return fmt.Errorf("guardrail %q: metric should be one of %s", r.Metric, builtinNames)
	case !validOp(r.Op):
		return fmt.Errorf("guardrail %s: op should be >, >=, < or <=, not %q", r.Metric, r.Op)
	case r.Window <= 0:
		return fmt.Errorf("guardrail %s: window should be longer than 0", r.Metric)
	case r.MinRequests < 0:
		return fmt.Errorf("guardrail %s: minRequests should not be negative", r.Metric)
	}
	return nil
}

func validOp(op string) bool {
	switch op {
	case ">", ">=", "<", "<=":
		return true
	}
	return false
}

// parseRules reads the guardrails list; an empty list turns them off.
func parseRules(d *decoder, v any) []Rule {
	root := obj{d: d, field: "analysis."}
	list, ok := v.([]any)
	if !ok {
		if v == nil {
			return []Rule{}
		}
		root.errorf("guardrails", "should be a list of rules, not %s", describe(v))
		return nil
	}
	rules := []Rule{}
	for i, item := range list {
		o := obj{d: d, where: fmt.Sprintf("guardrails[%d]", i)}
		m, ok := item.(map[string]any)
		if !ok {
			o.errorf("", "should be a mapping like {metric: error_rate, op: \">\", threshold: 0.05}, not %s", describe(item))
			continue
		}
		o.m = m
		o.only("metric", "op", "threshold", "window", "minRequests")
		r := Rule{
			Metric:      o.str("metric", ""),
			Op:          o.str("op", ""),
			Window:      o.duration("window", DefaultGuardWindow),
			MinRequests: o.integer("minRequests", DefaultGuardMinRequests, 0),
		}
		if r.Metric != "" {
			o.where = fmt.Sprintf("guardrails[%d] (%s)", i, r.Metric)
		}
		if !knownBuiltin(r.Metric) {
			o.errorf("metric", "should be one of %s, not %q", builtinNames, r.Metric)
		}
		if !validOp(r.Op) {
			o.errorf("op", "should be >, >=, < or <=, not %q", r.Op)
		}
		if t, ok := o.float("threshold"); ok {
			r.Threshold = t
		} else if !o.has("threshold") {
			o.errorf("threshold", "a guardrail needs a threshold")
		}
		if r.Window == 0 {
			o.errorf("window", "should be longer than 0")
		}
		rules = append(rules, r)
	}
	return rules
}
