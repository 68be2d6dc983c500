package e2edeploy

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// promErrorRate is the canary's error rate as PromQL over the proxy's
// http_requests_total: a good canary has no 5xx series at all, so the
// numerator falls back to 0 instead of making the ratio an empty vector.
const promErrorRate = `(sum(rate(http_requests_total{app="{{app}}",env="{{env}}",revision="{{canary}}",code=~"5.."}[15s])) or vector(0))` +
	` / sum(rate(http_requests_total{app="{{app}}",env="{{env}}",revision="{{canary}}"}[15s]))`

// prometheusSpec is a deploy spec for the example whose canary is judged by
// one analysis step with two metrics measuring the same thing: the
// builtin error_rate and the same ratio from a real Prometheus. Guardrails
// are off so that the analysis alone decides. Both metrics tolerate one
// failed measurement so that each records at least one verdict before the
// first to fail twice ends the run, and one inconclusive measurement in
// case Prometheus has not scraped the canary's first requests yet.
func prometheusSpec(listen, promURL string) string {
	metric := func(name, provider string) string {
		return fmt.Sprintf(`        - name: %s
          provider: %s
          initialDelay: 5s
          interval: 2s
          count: 3
          successCondition: result < 0.05
          failureCondition: result >= 0.05
          failureLimit: 1
          inconclusiveLimit: 1
`, name, provider)
	}
	return `app: wasm-service
runtime:
  kind: wasm
  module: dist/service.wasm
  mode: wagi
replicas: 1
healthCheck:
  path: /healthz
  interval: 1s
  timeout: 1s
  failureThreshold: 3
environments:
  production:
    listen: ` + listen + `
    tier: production
    strategy:
      canary:
        steps:
          - setWeight: 50
          - analysis: {templates: [error-rate]}
analysis:
  guardrails: []
  templates:
    error-rate:
      metrics:
` + metric("builtin-error-rate", "{builtin: {metric: error_rate, window: 15s}}") +
		metric("prometheus-error-rate", fmt.Sprintf("{prometheus: {address: %q, query: %s}}", promURL, yamlQuote(promErrorRate)))
}

// yamlQuote single-quotes s for YAML.
func yamlQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// A Prometheus metric against a real Prometheus scraping the server's
// /metrics decides a canary as the builtin metric does: a good canary is
// promoted with both metrics Successful, a canary answering 500s is aborted
// with both Failed, and the query each measurement shows is the one sent,
// with the canary's revision filled in.
func TestPrometheusProviderAgreesWithBuiltin(t *testing.T) {
	s := startServer(t)
	promURL := startPrometheus(t, strings.TrimPrefix(s.URL, "http://"))
	listen := freeAddr(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "gantry.deploy.yaml"), []byte(prometheusSpec(listen, promURL)), 0o644); err != nil {
		t.Fatal(err)
	}
	s.addProject("wasm-service")
	deploy := func(version string, extra ...string) {
		t.Helper()
		args := append([]string{"deploy", "--env", "production", "--version", version, "--artifact", wasmFile, "--project", "wasm-service"}, extra...)
		s.mustGantry(dir, args...)
	}
	deploy("v1", "--wait")
	url := "http://" + listen + "/"

	// About 50 requests per second from the test, loopback only.
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	c := &http.Client{Timeout: 10 * time.Second}
	for range 2 {
		wg.Go(func() {
			for ctx.Err() == nil {
				if resp, err := c.Get(url); err == nil {
					resp.Body.Close()
				}
				time.Sleep(40 * time.Millisecond)
			}
		})
	}
	defer wg.Wait()
	defer cancel()

	settled := func(rev int64) func(rolloutStatus) bool {
		return func(st rolloutStatus) bool {
			return st.Phase == "Degraded" || st.Phase == "Paused" ||
				(st.Phase == "Healthy" && st.Stable != nil && st.Stable.Revision == rev)
		}
	}

	// A good canary: promoted, both metrics Successful.
	deploy("v2")
	st := s.waitStatus(dir, "production", "the good canary's verdict", settled(2))
	a := s.analysis(dir)
	if st.Phase != "Healthy" || st.Stable.Version != "v2" {
		t.Fatalf("good canary: phase %s, stable %+v; want Healthy on v2\nanalysis: %+v", st.Phase, st.Stable, a)
	}
	s.checkAgreement(a, 2, "Successful", "Failed")
	if !metricsHave(s.URL, `app="wasm-service"`, `env="production"`, `revision="2"`) {
		t.Errorf("/metrics has no http_requests_total series labelled revision=\"2\", the value {{canary}} resolves to")
	}

	// A canary answering 500s: aborted, both metrics Failed, v2 serving.
	deploy("v3", "--set", "FAIL=1")
	st = s.waitStatus(dir, "production", "the failing canary's verdict", settled(3))
	a = s.analysis(dir)
	if st.Phase != "Degraded" || st.Stable == nil || st.Stable.Version != "v2" || st.Weight != 0 {
		t.Fatalf("failing canary: %+v; want Degraded with all traffic on v2\nanalysis: %+v", st, a)
	}
	s.checkAgreement(a, 3, "Failed", "Successful")
	if a.Verdict == nil || a.Verdict.Phase != "Failed" || a.Verdict.Revision != 3 || !strings.Contains(a.Verdict.Reason, "error-rate") {
		t.Errorf("verdict of the failing canary: %+v, want Failed naming an error-rate metric", a.Verdict)
	}
	if got := versions(t, url, 10); got["v2"] != 10 {
		t.Errorf("after the abort production answered %v, want only v2", got)
	}
}

// analysis runs `gantry rollout analysis --json`.
func (s *server) analysis(dir string) analysisJSON {
	s.T.Helper()
	out := s.mustGantry(dir, "rollout", "analysis", "wasm-service", "--env", "production", "--project", "wasm-service", "--json")
	var a analysisJSON
	if err := json.Unmarshal([]byte(out), &a); err != nil {
		s.T.Fatalf("rollout analysis --json: %v\n%s", err, out)
	}
	return a
}

// checkAgreement asserts that both metrics judged revision rev's canary
// alike: each has a measurement in phase want, none in phase not, and
// every Prometheus measurement shows the query as sent to Prometheus.
func (s *server) checkAgreement(a analysisJSON, rev int64, want, not string) {
	t := s.T
	t.Helper()
	phases, queries := a.phasesByMetric(rev)
	t.Logf("revision %d: measurements %v; verdict %+v", rev, phases, a.Verdict)
	for _, metric := range []string{"builtin-error-rate", "prometheus-error-rate"} {
		p := phases[metric]
		if !slices.Contains(p, want) || slices.Contains(p, not) {
			t.Errorf("revision %d: %s measured %v, want %s and no %s (all phases: %v)", rev, metric, p, want, not, phases)
		}
	}
	resolved := strings.NewReplacer("{{app}}", "wasm-service", "{{env}}", "production",
		"{{canary}}", strconv.FormatInt(rev, 10)).Replace(promErrorRate)
	for _, q := range queries["prometheus-error-rate"] {
		if q != resolved {
			t.Errorf("revision %d: the Prometheus measurement shows query\n%s\nwant the resolved\n%s", rev, q, resolved)
		}
	}
	for _, q := range queries["builtin-error-rate"] {
		if strings.Contains(q, "{{") {
			t.Errorf("revision %d: the builtin measurement shows an unresolved query %q", rev, q)
		}
	}
}
