package analysis

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"
)

// parseProvider reads the provider mapping, which must name exactly one
// provider.
func parseProvider(o obj) ProviderSpec {
	o.only("builtin", "prometheus", "web", "job")
	var p ProviderSpec
	kinds := 0
	if b, ok := o.sub("builtin"); ok {
		p.Builtin = parseBuiltin(b)
		kinds++
	}
	if b, ok := o.sub("prometheus"); ok {
		p.Prometheus = parsePrometheus(b)
		kinds++
	}
	if b, ok := o.sub("web"); ok {
		p.Web = parseWeb(b)
		kinds++
	}
	if b, ok := o.sub("job"); ok {
		p.Job = parseJob(b)
		kinds++
	}
	switch {
	case kinds == 0:
		o.errorf("", "should name one provider: builtin, prometheus, web or job")
	case kinds > 1:
		o.errorf("", "names %d providers; a metric has exactly one", kinds)
	}
	return p
}

func parseBuiltin(o obj) *BuiltinSpec {
	o.only("metric", "window", "compare")
	b := &BuiltinSpec{
		Metric:  o.str("metric", ""),
		Window:  o.duration("window", DefaultBuiltinWindow),
		Compare: o.str("compare", ""),
	}
	if !knownBuiltin(b.Metric) {
		o.errorf("metric", "should be one of %s, not %q", builtinNames, b.Metric)
	}
	if b.Compare != "" && b.Compare != CompareCanaryVsStable {
		o.errorf("compare", "should be %s, not %q", CompareCanaryVsStable, b.Compare)
	}
	if b.Window == 0 {
		o.errorf("window", "should be longer than 0")
	}
	return b
}

const builtinNames = "error_rate, request_rate, latency_p50, latency_p95, latency_p99"

func knownBuiltin(name string) bool {
	switch name {
	case BuiltinErrorRate, BuiltinRequestRate, BuiltinLatencyP50, BuiltinLatencyP95, BuiltinLatencyP99:
		return true
	}
	return false
}

func parsePrometheus(o obj) *PrometheusSpec {
	o.only("address", "query", "timeout", "headers")
	p := &PrometheusSpec{
		Address: strings.TrimSpace(o.str("address", "")),
		Query:   strings.TrimSpace(o.str("query", "")),
		Timeout: o.duration("timeout", DefaultHTTPTimeout),
		Headers: parseHeaders(o),
	}
	checkURL(o, "address", p.Address)
	if p.Query == "" {
		o.errorf("query", "a PromQL query is needed")
	} else if err := checkPlaceholders(p.Query); err != nil {
		o.errorf("query", "%v", err)
	}
	return p
}

func parseWeb(o obj) *WebSpec {
	o.only("url", "method", "headers", "body", "jsonBody", "jsonPath", "timeout", "timeoutSeconds")
	w := &WebSpec{
		URL:      strings.TrimSpace(o.str("url", "")),
		Method:   strings.ToUpper(strings.TrimSpace(o.str("method", http.MethodGet))),
		Headers:  parseHeaders(o),
		Body:     o.str("body", ""),
		JSONPath: strings.TrimSpace(o.str("jsonPath", "")),
		Timeout:  o.duration("timeout", DefaultHTTPTimeout),
	}
	if o.has("timeoutSeconds") {
		if o.has("timeout") {
			o.errorf("timeoutSeconds", "give timeout or timeoutSeconds, not both")
		}
		w.Timeout = time.Duration(o.integer("timeoutSeconds", 10, 1)) * time.Second
	}
	if o.has("jsonBody") {
		if w.Body != "" {
			o.errorf("jsonBody", "give body or jsonBody, not both")
		}
		b, err := json.Marshal(o.m["jsonBody"])
		if err != nil {
			o.errorf("jsonBody", "cannot be written as JSON: %v", err)
		}
		w.Body = string(b)
	}
	switch w.Method {
	case http.MethodGet, http.MethodPost, http.MethodPut, http.MethodHead:
	default:
		o.errorf("method", "should be GET, POST, PUT or HEAD, not %q", w.Method)
	}
	checkURL(o, "url", w.URL)
	if err := checkPlaceholders(w.Body); err != nil {
		o.errorf("body", "%v", err)
	}
	if w.JSONPath != "" {
		var err error
		if w.path, err = parseJSONPath(w.JSONPath); err != nil {
			o.errorf("jsonPath", "%v", err)
		}
	}
	return w
}

func parseJob(o obj) *JobSpec {
	o.only("command", "env", "timeout")
	j := &JobSpec{Timeout: o.duration("timeout", DefaultJobTimeout)}
	switch cmd := o.m["command"].(type) {
	case []any:
		for i, a := range cmd {
			s, ok := a.(string)
			if !ok {
				o.errorf(fmt.Sprintf("command[%d]", i), "should be a string, not %s", describe(a))
				continue
			}
			if err := checkPlaceholders(s); err != nil {
				o.errorf(fmt.Sprintf("command[%d]", i), "%v", err)
			}
			j.Command = append(j.Command, s)
		}
		if len(cmd) == 0 {
			o.errorf("command", "should name a program to run")
		}
	case nil:
		o.errorf("command", "a job needs a command, as a list: [\"sh\", \"-c\", \"...\"]")
	default:
		o.errorf("command", "should be a list of arguments like [\"sh\", \"-c\", \"...\"], not %s", describe(cmd))
	}
	if j.Timeout == 0 {
		o.errorf("timeout", "should be longer than 0")
	}
	if env, ok := o.sub("env"); ok {
		j.Env = map[string]string{}
		keys := make([]string, 0, len(env.m))
		for k := range env.m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if k == "" || strings.ContainsAny(k, "=\x00") {
				env.errorf(k, "is not a valid variable name")
				continue
			}
			v := env.str(k, "")
			if err := checkPlaceholders(v); err != nil {
				env.errorf(k, "%v", err)
			}
			j.Env[k] = v
		}
	}
	return j
}

// parseHeaders reads Argo Rollouts' list of {key, value} headers.
func parseHeaders(o obj) []Header {
	v, ok := o.m["headers"]
	if !ok || v == nil {
		return nil
	}
	list, ok := v.([]any)
	if !ok {
		o.errorf("headers", "should be a list of {key, value}, not %s", describe(v))
		return nil
	}
	var hs []Header
	for i, item := range list {
		m, ok := item.(map[string]any)
		if !ok {
			o.errorf(fmt.Sprintf("headers[%d]", i), "should be a mapping with key and value, not %s", describe(item))
			continue
		}
		h := obj{d: o.d, where: o.where, field: fmt.Sprintf("%sheaders[%d].", o.field, i), m: m}
		h.only("key", "value")
		hd := Header{Key: strings.TrimSpace(h.str("key", "")), Value: h.str("value", "")}
		if hd.Key == "" || strings.ContainsAny(hd.Key, " :\r\n") {
			h.errorf("key", "should be a header name, not %q", hd.Key)
		}
		if err := checkPlaceholders(hd.Value); err != nil {
			h.errorf("value", "%v", err)
		}
		hs = append(hs, hd)
	}
	return hs
}

// checkURL requires an http(s) URL, placeholders allowed.
func checkURL(o obj, key, raw string) {
	if raw == "" {
		o.errorf(key, "an http:// or https:// URL is needed")
		return
	}
	if err := checkPlaceholders(raw); err != nil {
		o.errorf(key, "%v", err)
		return
	}
	u, err := url.Parse(blankPlaceholders(raw))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		o.errorf(key, "should be an http:// or https:// URL, not %q", raw)
	}
}
