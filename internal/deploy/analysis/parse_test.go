package analysis

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gantry-ci/gantry/internal/deploy/spec"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

// parseSpecFile reads a whole deploy spec with the real spec parser and then
// its analysis section, as the controller will.
func parseSpecFile(t *testing.T, name string) (*Config, error) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	s, err := spec.Parse(name, data)
	if err != nil {
		t.Fatalf("the deploy spec itself should parse: %v", err)
	}
	return Parse(s.Analysis)
}

// TestParseGolden compares what each testdata/*.yaml parses to (or the
// errors it gives) with its .golden file; run with -update to rewrite them.
func TestParseGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata: %v", err)
	}
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(strings.TrimSuffix(name, ".yaml"), func(t *testing.T) {
			cfg, err := parseSpecFile(t, name)
			var got []byte
			switch {
			case strings.HasPrefix(name, "err_"):
				if err == nil {
					t.Fatal("want errors, got none")
				}
				got = []byte(err.Error() + "\n")
			case err != nil:
				t.Fatalf("parse: %v", err)
			default:
				var buf bytes.Buffer
				enc := json.NewEncoder(&buf)
				enc.SetEscapeHTML(false)
				enc.SetIndent("", "  ")
				if err := enc.Encode(cfg); err != nil {
					t.Fatal(err)
				}
				got = buf.Bytes()
			}
			golden := strings.TrimSuffix(f, ".yaml") + ".golden"
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("read golden (run with -update to create it): %v", err)
			}
			if string(got) != string(want) {
				t.Errorf("%s differs from %s:\n--- got\n%s--- want\n%s", name, golden, got, want)
			}
		})
	}
}

// TestParseErrors checks single mistakes name where they are.
func TestParseErrors(t *testing.T) {
	metric := func(fields map[string]any) map[string]any {
		m := map[string]any{"name": "m", "provider": map[string]any{"builtin": map[string]any{"metric": "error_rate"}}}
		for k, v := range fields {
			if v == nil {
				delete(m, k)
				continue
			}
			m[k] = v
		}
		return map[string]any{"templates": map[string]any{"t": map[string]any{"metrics": []any{m}}}}
	}
	cases := []struct {
		name string
		raw  map[string]any
		want string
	}{
		{"count without interval", metric(map[string]any{"count": int64(2)}), `template "t", metric "m": interval: is needed when count is more than 1`},
		{"negative interval", metric(map[string]any{"interval": "-1s"}), `template "t", metric "m": interval: should be a duration like "30s", not "-1s"`},
		{"interval too short", metric(map[string]any{"interval": "1ms"}), `interval: should be at least 10ms`},
		{"number as duration", metric(map[string]any{"initialDelay": int64(5)}), `initialDelay: should be a duration like "30s", not 5`},
		{"fractional count", metric(map[string]any{"count": 2.5}), `count: should be a whole number, not 2.5`},
		{"limit below -1", metric(map[string]any{"inconclusiveLimit": int64(-3)}), `inconclusiveLimit: should be at least -1, not -3`},
		{"misspelt field", metric(map[string]any{"sucessCondition": "result > 1"}), `unknown field (did you mean "successCondition"?)`},
		{"no provider", metric(map[string]any{"provider": nil}), `provider: a metric needs a provider`},
		{"provider not a map", metric(map[string]any{"provider": "builtin"}), `provider: should be a mapping, not "builtin"`},
		{"dryRun not bool", metric(map[string]any{"dryRun": "yes"}), `dryRun: should be true or false, not "yes"`},
		{"condition uses unknown name", metric(map[string]any{"successCondition": "value > 1"}), `successCondition: compile "value > 1"`},
		{"condition not bool", metric(map[string]any{"failureCondition": "1 + 1"}), `failureCondition: compile "1 + 1"`},
		{"compare unknown", metric(map[string]any{"provider": map[string]any{"builtin": map[string]any{"metric": "error_rate", "compare": "stable"}}}), `provider.builtin.compare: should be canary_vs_stable, not "stable"`},
		{"web missing url", metric(map[string]any{"provider": map[string]any{"web": map[string]any{}}}), `provider.web.url: an http:// or https:// URL is needed`},
		{"web bad header", metric(map[string]any{"provider": map[string]any{"web": map[string]any{"url": "http://x", "headers": []any{map[string]any{"key": "A B"}}}}}), `provider.web.headers[0].key: should be a header name, not "A B"`},
		{"unclosed placeholder", metric(map[string]any{"provider": map[string]any{"prometheus": map[string]any{"address": "http://p", "query": "up{a=\"{{app\"}"}}}), `provider.prometheus.query: unclosed {{`},
		{"job command item", metric(map[string]any{"provider": map[string]any{"job": map[string]any{"command": []any{"sh", int64(1)}}}}), `provider.job.command[1]: should be a string, not 1`},
		{"templates not a map", map[string]any{"templates": []any{}}, `analysis.templates: should be a mapping, not a list`},
		{"template not a map", map[string]any{"templates": map[string]any{"t": "x"}}, `template "t": should be a mapping with metrics, not "x"`},
		{"duplicate metric", map[string]any{"templates": map[string]any{"t": map[string]any{"metrics": []any{
			map[string]any{"name": "a", "provider": map[string]any{"job": map[string]any{"command": []any{"true"}}}},
			map[string]any{"name": "a", "provider": map[string]any{"job": map[string]any{"command": []any{"true"}}}},
		}}}}, `template "t": metric "a" appears twice`},
		{"guardrails not a list", map[string]any{"guardrails": map[string]any{}}, `analysis.guardrails: should be a list of rules, not a mapping`},
		{"guardrail without threshold", map[string]any{"guardrails": []any{map[string]any{"metric": "error_rate", "op": ">"}}}, `guardrails[0] (error_rate): threshold: a guardrail needs a threshold`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse(c.raw)
			if err == nil {
				t.Fatalf("want an error containing %q, got none", c.want)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error\n  %s\nshould contain\n  %s", err, c.want)
			}
		})
	}
}

func TestParseTemplatesDefaults(t *testing.T) {
	cfg, err := parseSpecFile(t, "defaults.yaml")
	if err != nil {
		t.Fatal(err)
	}
	m := cfg.Templates["once"].Metrics[0]
	if m.ConsecutiveErrorLimit != DefaultConsecutiveErrorLimit || m.OnNoData != NoDataInconclusive || m.FailureLimit != 0 || m.Provider.Builtin.Window != DefaultBuiltinWindow {
		t.Errorf("defaults not applied: %+v %+v", m, m.Provider.Builtin)
	}
	if m.effectiveCount() != 1 {
		t.Errorf("a metric without count or interval should be measured once, effective count %d", m.effectiveCount())
	}
	if len(cfg.Guardrails) != 1 || cfg.Guardrails[0].String() != "error_rate > 0.05 over 2s with at least 20 requests" {
		t.Errorf("default guardrails = %v", cfg.Guardrails)
	}
	tm, err := ParseTemplates(nil)
	if err != nil || len(tm) != 0 {
		t.Errorf("a nil section should have no templates, got %v, %v", tm, err)
	}
}
