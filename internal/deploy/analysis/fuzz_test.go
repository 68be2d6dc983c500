package analysis

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// FuzzParseTemplates feeds arbitrary YAML as the analysis section. Parse
// must never panic, must give the same answer twice, and whatever it
// accepts must be usable: every metric named, with one provider and
// compiled conditions, judging a measurement without panicking.
func FuzzParseTemplates(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.yaml")
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		var doc map[string]any
		if err := yaml.Unmarshal(data, &doc); err != nil {
			f.Fatal(err)
		}
		section, err := yaml.Marshal(doc["analysis"])
		if err != nil {
			f.Fatal(err)
		}
		f.Add(section)
	}
	f.Add([]byte("templates: {t: {metrics: [{name: m, provider: {job: {command: [true]}}}]}}"))
	f.Add([]byte("templates: {t: {metrics: [{name: m, count: 1e99, interval: 1s, provider: {builtin: {metric: error_rate}}}]}}"))
	f.Add([]byte("guardrails: [{metric: latency_p99, op: '<=', threshold: -0.0}]"))
	f.Add([]byte("templates: {t: {metrics: [{name: m, successCondition: 'map(1..3, # * result) == []', provider: {web: {url: 'http://{{args.x}}/'}}}]}}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var raw map[string]any
		if err := yaml.Unmarshal(data, &raw); err != nil {
			return
		}
		cfg, err := Parse(raw)
		cfg2, err2 := Parse(raw)
		if (err == nil) != (err2 == nil) || (err != nil && err.Error() != err2.Error()) {
			t.Fatalf("Parse is not deterministic: %v / %v", err, err2)
		}
		if err != nil {
			if strings.TrimSpace(err.Error()) == "" {
				t.Fatal("an empty error message")
			}
			return
		}
		if b1, b2 := mustMarshal(t, cfg), mustMarshal(t, cfg2); b1 != b2 {
			t.Fatalf("Parse is not deterministic:\n%s\n%s", b1, b2)
		}
		for name, tmpl := range cfg.Templates {
			if len(tmpl.Metrics) == 0 {
				t.Fatalf("template %q accepted without metrics", name)
			}
			for _, m := range tmpl.Metrics {
				if m.Name == "" || m.Provider.Kind() == "" {
					t.Fatalf("metric accepted without name or provider: %+v", m)
				}
				if (m.SuccessCondition != "") != (m.success != nil) || (m.FailureCondition != "") != (m.failure != nil) {
					t.Fatalf("metric %q accepted with uncompiled conditions", m.Name)
				}
				st, v := m.Next(m.Start(time.Unix(0, 0)), time.Unix(1, 0), Measurement{Value: 0.5, Samples: 100}, nil)
				if v.Record.Metric != m.Name || (st.Phase.Completed() && v.Reason == "") {
					t.Fatalf("metric %q judged oddly: %+v %+v", m.Name, st, v)
				}
			}
		}
		for _, r := range cfg.Guardrails {
			if err := r.Validate(); err != nil {
				t.Fatalf("accepted an invalid guardrail: %v", err)
			}
		}
	})
}

func mustMarshal(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// FuzzJSONPath parses arbitrary paths and looks them up in arbitrary JSON:
// no panic, and a parsed path's canonical form parses back to the same
// path and finds the same value.
func FuzzJSONPath(f *testing.F) {
	doc := `{"status":"ok","a":{"b":[10,{"c":true},null]},"odd key":{"it's":3}}`
	for _, p := range []string{"$", "$.status", "{$.a.b[1].c}", "$['odd key']['it\\'s']", "$.a.b[-1]", "$[\"x\"]", "$.a[", "$..a", "$.a.b[99999999999999999999]"} {
		f.Add(p, []byte(doc))
	}
	f.Fuzz(func(t *testing.T, path string, data []byte) {
		p, err := parseJSONPath(path)
		if err != nil {
			return
		}
		back, err := parseJSONPath(p.String())
		if err != nil || back.String() != p.String() || len(back) != len(p) {
			t.Fatalf("%q -> %q does not parse back the same: %v", path, p.String(), err)
		}
		var v any
		if json.Unmarshal(data, &v) != nil {
			return
		}
		got, ok, where := p.lookup(v)
		got2, ok2, _ := back.lookup(v)
		if ok != ok2 || mustMarshal(t, got) != mustMarshal(t, got2) {
			t.Fatalf("%q and its canonical %q find different values", path, p.String())
		}
		if !ok && where == "" {
			t.Fatalf("%q: a miss must say where", path)
		}
	})
}
