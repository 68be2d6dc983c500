package analysis

import (
	"fmt"
	"sort"
	"strings"
)

// Config is the analysis section of a deploy spec.
type Config struct {
	Templates map[string]*Template `json:"templates"`
	// Guardrails are the spec's rules; DefaultGuardrails when the section
	// has no guardrails key, none when it gives an empty list.
	Guardrails []Rule `json:"guardrails"`
}

// Parse reads the deploy spec's analysis section (spec.Spec.Analysis): the
// templates and guardrails. Every problem is reported, each naming the
// template, metric and field. A nil section has no templates and the
// default guardrails.
func Parse(raw map[string]any) (*Config, error) {
	d := &decoder{}
	root := obj{d: d, field: "analysis.", m: raw}
	root.only("templates", "guardrails")
	cfg := &Config{Templates: map[string]*Template{}, Guardrails: DefaultGuardrails()}
	if ts, ok := root.sub("templates"); ok {
		names := make([]string, 0, len(ts.m))
		for name := range ts.m {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			if t := parseTemplate(d, name, ts.m[name]); t != nil {
				cfg.Templates[name] = t
			}
		}
	}
	if v, present := raw["guardrails"]; present {
		cfg.Guardrails = parseRules(d, v)
	}
	if err := d.err(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// ParseTemplates reads only the templates of the analysis section.
func ParseTemplates(raw map[string]any) (map[string]*Template, error) {
	cfg, err := Parse(raw)
	if err != nil {
		return nil, err
	}
	return cfg.Templates, nil
}

func parseTemplate(d *decoder, name string, v any) *Template {
	where := fmt.Sprintf("template %q", name)
	o := obj{d: d, where: where}
	if strings.TrimSpace(name) == "" {
		o.errorf("", "a template needs a name")
		return nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		o.errorf("", "should be a mapping with metrics, not %s", describe(v))
		return nil
	}
	o.m = m
	o.only("metrics")
	list, ok := m["metrics"].([]any)
	if !ok || len(list) == 0 {
		if m["metrics"] != nil && !ok {
			o.errorf("metrics", "should be a list of metrics, not %s", describe(m["metrics"]))
		} else {
			o.errorf("metrics", "a template needs at least one metric")
		}
		return nil
	}
	t := &Template{Name: name}
	seen := map[string]bool{}
	bad := false
	for i, item := range list {
		mt := parseMetric(d, where, i, item)
		if mt == nil {
			bad = true
			continue
		}
		if seen[mt.Name] {
			o.errorf("", "metric %q appears twice", mt.Name)
			bad = true
			continue
		}
		seen[mt.Name] = true
		t.Metrics = append(t.Metrics, mt)
	}
	if bad {
		return nil
	}
	return t
}

func parseMetric(d *decoder, tmpl string, i int, v any) *Metric {
	errs := len(d.errs)
	o := obj{d: d, where: fmt.Sprintf("%s, metrics[%d]", tmpl, i)}
	m, ok := v.(map[string]any)
	if !ok {
		o.errorf("", "should be a mapping, not %s", describe(v))
		return nil
	}
	o.m = m
	name := strings.TrimSpace(o.str("name", ""))
	if name == "" {
		o.errorf("name", "a metric needs a name")
	} else {
		o.where = fmt.Sprintf("%s, metric %q", tmpl, name)
	}
	o.only("name", "provider", "interval", "count", "initialDelay",
		"successCondition", "failureCondition", "failureLimit", "inconclusiveLimit",
		"consecutiveErrorLimit", "onNoData", "minSamples", "dryRun")
	mt := &Metric{
		Name:                  name,
		Interval:              o.duration("interval", 0),
		Count:                 int(o.integer("count", 0, 0)),
		InitialDelay:          o.duration("initialDelay", 0),
		SuccessCondition:      strings.TrimSpace(o.str("successCondition", "")),
		FailureCondition:      strings.TrimSpace(o.str("failureCondition", "")),
		FailureLimit:          int(o.integer("failureLimit", 0, -1)),
		InconclusiveLimit:     int(o.integer("inconclusiveLimit", 0, -1)),
		ConsecutiveErrorLimit: int(o.integer("consecutiveErrorLimit", DefaultConsecutiveErrorLimit, -1)),
		OnNoData:              NoDataRule(o.str("onNoData", string(NoDataInconclusive))),
		MinSamples:            o.integer("minSamples", 0, 0),
		DryRun:                o.boolean("dryRun", false),
	}
	switch mt.OnNoData {
	case NoDataInconclusive, NoDataFail, NoDataPass:
	default:
		o.errorf("onNoData", "should be inconclusive, fail or pass, not %q", mt.OnNoData)
	}
	if mt.Interval > 0 && mt.Interval < MinInterval {
		o.errorf("interval", "should be at least %s (a shorter one only loads the provider), not %s", MinInterval, mt.Interval)
	}
	if mt.Count > 1 && mt.Interval == 0 {
		o.errorf("interval", "is needed when count is more than 1 (count %d)", mt.Count)
	}
	if p, ok := o.sub("provider"); ok {
		mt.Provider = parseProvider(p)
	} else if !o.has("provider") {
		o.errorf("provider", "a metric needs a provider (builtin, prometheus, web or job)")
	}
	if mt.MinSamples > 0 && mt.Provider.Kind() != "" && mt.Provider.Builtin == nil {
		o.errorf("minSamples", "only the builtin provider counts samples; a %s measurement cannot be held to it", mt.Provider.Kind())
	}
	if mt.Provider.Job != nil && mt.SuccessCondition == "" && mt.FailureCondition == "" {
		// Without this, Argo's rule (no condition: always successful) would
		// make a failing job pass.
		mt.SuccessCondition = "result == 1"
	}
	var err error
	if mt.SuccessCondition != "" {
		if mt.success, err = compileCondition(mt.SuccessCondition); err != nil {
			o.errorf("successCondition", "%v", err)
		}
	}
	if mt.FailureCondition != "" {
		if mt.failure, err = compileCondition(mt.FailureCondition); err != nil {
			o.errorf("failureCondition", "%v", err)
		}
	}
	if len(d.errs) > errs {
		return nil
	}
	return mt
}

// Compile prepares a metric built in code rather than parsed: it compiles
// the conditions and the web check's jsonPath. Parse does it already; a
// metric whose conditions were not compiled measures as Error.
func (mt *Metric) Compile() error {
	var err error
	mt.success, mt.failure = nil, nil
	if mt.SuccessCondition != "" {
		if mt.success, err = compileCondition(mt.SuccessCondition); err != nil {
			return fmt.Errorf("successCondition: %w", err)
		}
	}
	if mt.FailureCondition != "" {
		if mt.failure, err = compileCondition(mt.FailureCondition); err != nil {
			return fmt.Errorf("failureCondition: %w", err)
		}
	}
	if w := mt.Provider.Web; w != nil {
		w.path = nil
		if w.JSONPath != "" {
			if w.path, err = parseJSONPath(w.JSONPath); err != nil {
				return fmt.Errorf("provider.web.jsonPath: %w", err)
			}
		}
	}
	return nil
}
