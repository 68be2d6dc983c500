package analysis

import (
	"context"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

func promMetric(t *testing.T, address, query, cond string) *Metric {
	t.Helper()
	raw := map[string]any{"templates": map[string]any{"t": map[string]any{"metrics": []any{
		map[string]any{"name": "p99", "successCondition": cond,
			"provider": map[string]any{"prometheus": map[string]any{"address": address, "query": query, "timeout": "5s",
				"headers": []any{map[string]any{"key": "X-Scope", "value": "{{app}}"}}}}},
	}}}}
	ts, err := ParseTemplates(raw)
	if err != nil {
		t.Fatal(err)
	}
	return ts["t"].Metrics[0]
}

// TestPrometheusAPI answers the provider's queries with Prometheus' JSON
// for each kind of result.
func TestPrometheusAPI(t *testing.T) {
	answers := map[string]struct {
		code int
		body string
	}{
		"scalar":  {200, `{"status":"success","data":{"resultType":"scalar","result":[1700000000.1,"0.042"]}}`},
		"vector":  {200, `{"status":"success","data":{"resultType":"vector","result":[{"metric":{"app":"shop"},"value":[1700000000,"0.31"]}]}}`},
		"empty":   {200, `{"status":"success","data":{"resultType":"vector","result":[]}}`},
		"nan":     {200, `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1700000000,"NaN"]}]}}`},
		"inf":     {200, `{"status":"success","data":{"resultType":"scalar","result":[1700000000,"+Inf"]}}`},
		"many":    {200, `{"status":"success","data":{"resultType":"vector","result":[{"metric":{"r":"1"},"value":[1,"1"]},{"metric":{"r":"2"},"value":[1,"2"]}]}}`},
		"matrix":  {200, `{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1,"1"],[2,"2"]]}]}}`},
		"bad":     {400, `{"status":"error","errorType":"bad_data","error":"parse error: unexpected end of input"}`},
		"crash":   {500, `upstream exploded`},
		"warning": {200, `{"status":"success","warnings":["partial data"],"data":{"resultType":"scalar","result":[1,"1"]}}`},
	}
	var sawScope atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/query" {
			http.NotFound(w, r)
			return
		}
		sawScope.Store(r.Header.Get("X-Scope"))
		q := r.FormValue("query")
		if q == "slow" {
			<-r.Context().Done()
			return
		}
		a, ok := answers[strings.TrimPrefix(q, "shop:")]
		if !ok {
			a = answers["empty"]
		}
		if a.body[0] == '{' {
			w.Header().Set("Content-Type", "application/json")
		}
		w.WriteHeader(a.code)
		_, _ = io.WriteString(w, a.body)
	}))
	defer srv.Close()
	ctx := context.Background()
	args := Args{App: "shop", Canary: "r2"}
	cases := []struct {
		query   string
		value   float64
		noData  bool
		wantErr string
		phase   Phase
	}{
		{"{{app}}:scalar", 0.042, false, "", PhaseSuccessful},
		{"vector", 0.31, false, "", PhaseFailed},
		{"empty", 0, true, "", PhaseInconclusive},
		{"nan", math.NaN(), false, "", PhaseFailed},
		{"inf", math.Inf(1), false, "", PhaseFailed},
		{"warning", 1, false, "", PhaseFailed},
		{"many", 0, false, "query returned 2 samples", PhaseError},
		{"matrix", 0, false, "query returned a matrix", PhaseError},
		{"bad", 0, false, "bad_data: parse error: unexpected end of input", PhaseError},
		{"crash", 0, false, "server error: 500 (upstream exploded)", PhaseError},
	}
	for _, c := range cases {
		t.Run(c.query, func(t *testing.T) {
			m := promMetric(t, srv.URL, c.query, "result < 0.05")
			ms, err := Prometheus{}.Measure(ctx, m, args)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("got %+v, %v; want an error containing %q", ms, err, c.wantErr)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if err == nil {
				same := ms.Value == c.value || (math.IsNaN(ms.Value) && math.IsNaN(c.value))
				if !same || ms.NoData != c.noData || ms.Samples != -1 {
					t.Errorf("measurement %+v, want value %v noData %v", ms, c.value, c.noData)
				}
			}
			if rec := m.Evaluate(time.Now(), ms, err); rec.Phase != c.phase {
				t.Errorf("judged %s (%s), want %s", rec.Phase, rec.Message, c.phase)
			}
		})
	}
	if sawScope.Load() != "shop" {
		t.Errorf("header X-Scope = %q, want the resolved {{app}}", sawScope.Load())
	}
	m := promMetric(t, srv.URL, "{{app}}:scalar", "true")
	if ms, _ := (Prometheus{}).Measure(ctx, m, args); ms.Query != "shop:scalar" {
		t.Errorf("the record should keep the resolved query, got %q", ms.Query)
	}
	m = promMetric(t, srv.URL, "warning", "true")
	if ms, _ := (Prometheus{}).Measure(ctx, m, args); !strings.Contains(ms.Raw, "partial data") {
		t.Errorf("warnings should be kept in Raw: %q", ms.Raw)
	}
	m = promMetric(t, srv.URL, "slow", "true")
	m.Provider.Prometheus.Timeout = 100 * time.Millisecond
	if _, err := (Prometheus{}).Measure(ctx, m, args); err == nil {
		t.Error("a query past its timeout should be an error")
	}
	m = promMetric(t, "http://"+freeAddr(t), "up", "true")
	if _, err := (Prometheus{}).Measure(ctx, m, args); err == nil {
		t.Error("an unreachable Prometheus should be an error")
	}
}

// freeAddr returns a loopback address nobody listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

// TestRealPrometheus runs Debian's prometheus against a tiny /metrics
// endpoint and judges its answers.
func TestRealPrometheus(t *testing.T) {
	const bin = "/usr/bin/prometheus"
	if _, err := os.Stat(bin); err != nil {
		t.Skip("prometheus is not installed (Debian package prometheus); skipping the real-Prometheus test")
	}
	reg := prometheus.NewRegistry()
	ratio := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "gantry_test_error_ratio", Help: "test figure"}, []string{"app", "revision"})
	reg.MustRegister(ratio)
	ratio.WithLabelValues("shop", "r1").Set(0.01)
	ratio.WithLabelValues("shop", "r2").Set(0.31)
	target := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer target.Close()

	dir := t.TempDir()
	cfg := fmt.Sprintf("global: {scrape_interval: 1s, evaluation_interval: 1s}\nscrape_configs:\n  - job_name: test\n    static_configs: [{targets: [%q]}]\n",
		strings.TrimPrefix(target.URL, "http://"))
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address="+addr, "--log.level=warn")
	var logs strings.Builder
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start prometheus: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
	})
	address := "http://" + addr
	args := Args{App: "shop", Canary: "r2", Stable: "r1"}
	query := `max(gantry_test_error_ratio{app="{{app}}",revision="{{canary}}"})`
	m := promMetric(t, address, query, "result < 0.05")
	// Poll until Prometheus is up and has scraped once: generous for a busy
	// machine.
	deadline := time.Now().Add(90 * time.Second)
	var ms Measurement
	var err error
	for {
		ms, err = Prometheus{}.Measure(ctx, m, args)
		if err == nil && !ms.NoData {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("prometheus never answered with data: %+v, %v\nlogs:\n%s", ms, err, logs.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
	if ms.Value != 0.31 || ms.Query != `max(gantry_test_error_ratio{app="shop",revision="r2"})` {
		t.Errorf("measurement %+v", ms)
	}
	if rec := m.Evaluate(time.Now(), ms, nil); rec.Phase != PhaseFailed || !strings.Contains(rec.Message, "value 0.31 does not meet") {
		t.Errorf("judged %s: %s", rec.Phase, rec.Message)
	}
	for _, c := range []struct {
		query   string
		phase   Phase
		noData  bool
		isNaN   bool
		wantErr string
	}{
		{`max(gantry_test_error_ratio{revision="{{stable}}"})`, PhaseSuccessful, false, false, ""},
		{`gantry_test_error_ratio{revision="r9"}`, PhaseInconclusive, true, false, ""},
		{`sum(gantry_test_error_ratio{revision="r9"}) / count(gantry_test_error_ratio{revision="r9"}) or vector(0)/0`, PhaseFailed, false, true, ""},
		{`0/0`, PhaseFailed, false, true, ""},
		{`gantry_test_error_ratio`, PhaseError, false, false, "query returned 2 samples"},
		{`gantry_test_error_ratio[1m]`, PhaseError, false, false, "matrix"},
		{`sum(`, PhaseError, false, false, "bad_data"},
	} {
		m := promMetric(t, address, c.query, "result < 0.05")
		ms, err := Prometheus{}.Measure(ctx, m, args)
		if c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)) {
			t.Errorf("%s: got %+v, %v; want an error containing %q", c.query, ms, err, c.wantErr)
		}
		if ms.NoData != c.noData || math.IsNaN(ms.Value) != c.isNaN {
			t.Errorf("%s: measurement %+v", c.query, ms)
		}
		if rec := m.Evaluate(time.Now(), ms, err); rec.Phase != c.phase {
			t.Errorf("%s: judged %s (%s), want %s", c.query, rec.Phase, rec.Message, c.phase)
		}
	}
}
