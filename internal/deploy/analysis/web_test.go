package analysis

import (
	"context"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestJSONPath(t *testing.T) {
	doc := map[string]any{}
	if err := json.Unmarshal([]byte(`{"status":"ok","a":{"b":[10,{"c":true},null]},"odd key":{"it's":3},"list":[1,2,3]}`), &doc); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		path  string
		want  any
		canon string
		miss  string
	}{
		{"$", doc, "$", ""},
		{"$.status", "ok", "$.status", ""},
		{"{$.status}", "ok", "$.status", ""},
		{"$.a.b[0]", 10.0, "$.a.b[0]", ""},
		{"$.a.b[1].c", true, "$.a.b[1].c", ""},
		{"$['a']['b'][-1]", nil, "$.a.b[-1]", ""},
		{`$["odd key"]['it\'s']`, 3.0, `$['odd key']['it\'s']`, ""},
		{"$.list[-3]", 1.0, "$.list[-3]", ""},
		{"$.missing", nil, "", "$.missing is missing"},
		{"$.list[3]", nil, "", "$.list[3] is out of range (length 3)"},
		{"$.status.x", nil, "", "$.status.x: $.status is not an object or array"},
		{"$.a[0]", nil, "", "$.a[0] indexes an object"},
		{"$.list.x", nil, "", "$.list.x names a member of an array"},
	}
	for _, c := range cases {
		t.Run(c.path, func(t *testing.T) {
			p, err := parseJSONPath(c.path)
			if err != nil {
				t.Fatal(err)
			}
			got, ok, where := p.lookup(doc)
			if c.miss != "" {
				if ok || where != c.miss {
					t.Errorf("lookup = %v, %v, %q; want missing %q", got, ok, where, c.miss)
				}
				return
			}
			if !ok {
				t.Fatalf("not found: %s", where)
			}
			if gb, _ := json.Marshal(got); string(gb) != mustJSON(t, c.want) {
				t.Errorf("got %s, want %s", gb, mustJSON(t, c.want))
			}
			if p.String() != c.canon {
				t.Errorf("String() = %s, want %s", p, c.canon)
			}
		})
	}
	for _, bad := range []string{"", "a.b", "$.", "$..a", "$[*]", "$[?(@.a)]", "$.a[", "$['a'", "$['a'x]", "$a", "$[1:2]"} {
		if _, err := parseJSONPath(bad); err == nil {
			t.Errorf("%q parsed; want an error", bad)
		}
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// webMetric builds a parsed web metric from its provider fields.
func webMetric(t *testing.T, web map[string]any, cond string) *Metric {
	t.Helper()
	raw := map[string]any{"templates": map[string]any{"t": map[string]any{"metrics": []any{
		map[string]any{"name": "smoke", "provider": map[string]any{"web": web}, "successCondition": cond},
	}}}}
	ts, err := ParseTemplates(raw)
	if err != nil {
		t.Fatal(err)
	}
	return ts["t"].Metrics[0]
}

func TestWebProvider(t *testing.T) {
	var lastBody, lastHeader, lastMethod atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		lastBody.Store(string(b))
		lastHeader.Store(r.Header.Get("X-Env") + "|" + r.Header.Get("Content-Type"))
		lastMethod.Store(r.Method)
		switch r.URL.Path {
		case "/healthz":
			_, _ = io.WriteString(w, `{"status":"ok","checks":[{"latency":0.012},{"latency":0.3}],"ready":true,"gone":null}`)
		case "/text":
			_, _ = io.WriteString(w, "  healthy\n")
		case "/broken":
			http.Error(w, "database down", http.StatusServiceUnavailable)
		case "/slow":
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		}
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	args := Args{App: "shop", Env: "prod", CanaryURL: addr}
	ctx := context.Background()

	t.Run("string at jsonPath", func(t *testing.T) {
		m := webMetric(t, map[string]any{"url": "http://{{canaryUrl}}/healthz", "jsonPath": "$.status",
			"headers": []any{map[string]any{"key": "X-Env", "value": "{{env}}"}}}, `result == "ok"`)
		ms, err := Web{}.Measure(ctx, m, args)
		if err != nil {
			t.Fatal(err)
		}
		if ms.Result != "ok" || ms.Query != "GET http://"+addr+"/healthz" || lastHeader.Load() != "prod|" {
			t.Errorf("measurement %+v, header %v", ms, lastHeader.Load())
		}
		if rec := m.Evaluate(time.Now(), ms, nil); rec.Phase != PhaseSuccessful {
			t.Errorf("judged %s: %s", rec.Phase, rec.Message)
		}
	})
	t.Run("number at jsonPath", func(t *testing.T) {
		m := webMetric(t, map[string]any{"url": srv.URL + "/healthz", "jsonPath": "$.checks[-1].latency"}, "result < 0.1")
		ms, err := Web{}.Measure(ctx, m, args)
		if err != nil || ms.Value != 0.3 || ms.Result != nil {
			t.Fatalf("got %+v, %v", ms, err)
		}
		if rec := m.Evaluate(time.Now(), ms, nil); rec.Phase != PhaseFailed || rec.Message != `value 0.3 does not meet successCondition "result < 0.1"` {
			t.Errorf("judged %s: %s", rec.Phase, rec.Message)
		}
	})
	t.Run("bool and null", func(t *testing.T) {
		m := webMetric(t, map[string]any{"url": srv.URL + "/healthz", "jsonPath": "$.ready"}, "result")
		ms, err := Web{}.Measure(ctx, m, args)
		if err != nil || ms.Value != 1 || ms.Result != true {
			t.Fatalf("got %+v, %v", ms, err)
		}
		m = webMetric(t, map[string]any{"url": srv.URL + "/healthz", "jsonPath": "$.gone"}, "result")
		ms, err = Web{}.Measure(ctx, m, args)
		if err != nil || !ms.NoData {
			t.Fatalf("JSON null should be no data: %+v, %v", ms, err)
		}
	})
	t.Run("POST with a JSON body", func(t *testing.T) {
		m := webMetric(t, map[string]any{"url": srv.URL + "/healthz", "method": "POST", "jsonBody": map[string]any{"app": "{{app}}"}, "jsonPath": "$.status"}, `result == "ok"`)
		if _, err := (Web{}).Measure(ctx, m, args); err != nil {
			t.Fatal(err)
		}
		if lastMethod.Load() != "POST" || lastBody.Load() != `{"app":"shop"}` || !strings.HasSuffix(lastHeader.Load().(string), "application/json") {
			t.Errorf("sent %v %v %v", lastMethod.Load(), lastBody.Load(), lastHeader.Load())
		}
	})
	t.Run("plain text without jsonPath", func(t *testing.T) {
		m := webMetric(t, map[string]any{"url": srv.URL + "/text"}, `result == "healthy"`)
		ms, err := Web{}.Measure(ctx, m, args)
		if err != nil || ms.Result != "healthy" || !math.IsNaN(ms.Value) {
			t.Fatalf("got %+v, %v", ms, err)
		}
		if rec := m.Evaluate(time.Now(), ms, nil); rec.Phase != PhaseSuccessful {
			t.Errorf("judged %s: %s", rec.Phase, rec.Message)
		}
	})
	t.Run("errors", func(t *testing.T) {
		for _, c := range []struct {
			web  map[string]any
			want string
		}{
			{map[string]any{"url": srv.URL + "/broken"}, "503 Service Unavailable: database down"},
			{map[string]any{"url": srv.URL + "/healthz", "jsonPath": "$.nope"}, "jsonPath $.nope: $.nope is missing"},
			{map[string]any{"url": srv.URL + "/text", "jsonPath": "$.a"}, "answer is not JSON"},
			{map[string]any{"url": srv.URL + "/slow", "timeout": "100ms"}, "deadline exceeded"},
			{map[string]any{"url": "http://{{args.host}}/"}, `no argument "host" was given`},
		} {
			m := webMetric(t, c.web, "true")
			ms, err := Web{}.Measure(ctx, m, args)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%v: got %+v, %v; want an error containing %q", c.web, ms, err, c.want)
			}
		}
	})
}
