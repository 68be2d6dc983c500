package deploy_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gantry-ci/gantry/internal/deploy"
	"github.com/gantry-ci/gantry/internal/deploy/analysis"
)

// analysisSpec is a two-replica canary with the given steps and analysis
// section (top-level YAML, appended after the environments).
func analysisSpec(t testing.TB, app, addr, steps, section string) string {
	return processSpec(t, app, 2, fmt.Sprintf(`  production:
    listen: %s
    strategy:
      canary:
        steps:
%s
`, addr, steps)) + section
}

// revLoad sends about rps requests per second and notes, per answer,
// which revision served it, so a test can tell when the canary stopped
// getting traffic.
type revLoad struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
	canary string

	mu         sync.Mutex
	total      int
	failed     int
	first500   time.Time
	lastCanary time.Time
	// failedAfter500 counts failures from the first 500 on.
	failedAfter500 int
}

func startRevLoad(t *testing.T, url, canary string, workers int, every time.Duration) *revLoad {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	l := &revLoad{cancel: cancel, canary: canary}
	c := newClient()
	for range workers {
		l.wg.Go(func() {
			tick := time.NewTicker(every)
			defer tick.Stop()
			for ctx.Err() == nil {
				resp, err := c.Get(url)
				now := time.Now()
				l.mu.Lock()
				l.total++
				if err != nil || resp.StatusCode != http.StatusOK {
					l.failed++
					if !l.first500.IsZero() {
						l.failedAfter500++
					}
				}
				if err == nil {
					// The proxy's fallback answers for the canary's 500s on safe
					// requests, saying so in X-Gantry-Fallback: that is the canary
					// failing (and taking traffic) too, though the client sees no error.
					fellBack := resp.Header.Get("X-Gantry-Fallback") == l.canary
					if (resp.StatusCode == http.StatusInternalServerError || fellBack) && l.first500.IsZero() {
						l.first500 = now
						if resp.StatusCode != http.StatusOK {
							l.failedAfter500 = 1
						}
					}
					if resp.Header.Get("X-Gantry-Revision") == l.canary || fellBack {
						l.lastCanary = now
					}
					resp.Body.Close()
				}
				l.mu.Unlock()
				select {
				case <-ctx.Done():
				case <-tick.C:
				}
			}
		})
	}
	t.Cleanup(l.stop)
	return l
}

func (l *revLoad) stop() {
	l.cancel()
	l.wg.Wait()
}

// analysisOf reads the rollout's analysis.
func (h *harness) analysisOf(k deploy.Key) *deploy.AnalysisStatus {
	h.t.Helper()
	a, err := h.c.Analysis(context.Background(), k)
	if err != nil {
		h.t.Fatal(err)
	}
	return a
}

func (h *harness) notesOf(kind string) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, n := range h.notes {
		if strings.HasPrefix(n, kind+" ") {
			out = append(out, n)
		}
	}
	return out
}

const errorRateTemplate = `analysis:
  templates:
    errors:
      metrics:
        - name: error-rate
          provider: {builtin: {metric: error_rate, window: 2s}}
          interval: 200ms
          initialDelay: 500ms
          count: 3
          successCondition: result < 0.05
          failureLimit: 0
`

// A good canary with an analysis step is measured, judged Successful and
// promoted; each measurement is stored with its query and sample count.
func TestAnalysisStepPromotesGoodCanary(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	k := h.key("good", "production")
	spec := analysisSpec(t, "good", freeAddr(t), `          - setWeight: 50
          - analysis: {templates: [errors]}`, errorRateTemplate)
	h.deploy(spec, "production", "v1", nil)
	st := h.waitHealthy(k, 1)
	l := startLoad(t, st.URL, 2)
	h.deploy(spec, "production", "v2", nil)
	st = h.waitHealthy(k, 2)
	l.check(t)
	if st.Analysis == nil || st.Analysis.Phase != analysis.PhaseSuccessful || st.Analysis.Run != "step 2" {
		t.Fatalf("status shows verdict %+v, want step 2 Successful", st.Analysis)
	}
	a := h.analysisOf(k)
	n := 0
	for _, m := range a.Measurements {
		if m.Run != "step 2" || m.Revision != 2 {
			continue
		}
		n++
		if m.Phase != analysis.PhaseSuccessful || m.Samples <= 0 || !strings.Contains(m.Query, "error_rate") || m.Condition == "" {
			t.Errorf("measurement %+v: want Successful with samples, query and condition", m)
		}
	}
	if n != 3 {
		t.Errorf("%d measurements of step 2, want count 3: %+v", n, a.Measurements)
	}
	if got := h.notesOf("rollout_promoted"); len(got) != 1 {
		t.Errorf("promoted notifications: %q, want one", got)
	}
}

// A canary answering 500s is cut off by the default guardrail within a
// second or so of its first bad answer, the rollout is aborted as
// Degraded with a reason naming error_rate, the canary is scaled away,
// rollbacks_total counts it, and a later deploy starts again.
func TestGuardrailAbortsFailingCanary(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	k := h.key("bad", "production")
	spec := analysisSpec(t, "bad", freeAddr(t), `          - setWeight: 20
          - pause: {}`, "")
	h.deploy(spec, "production", "v1", nil)
	st := h.waitHealthy(k, 1)
	l := startRevLoad(t, st.URL, "2", 4, 40*time.Millisecond) // about 100 requests per second

	h.deploy(spec, "production", "v2", map[string]string{"FAIL": "1"})
	st = h.waitStatus(k, "aborted as Degraded", func(s *deploy.Status) bool { return s.Phase == "Degraded" })
	// Let requests in flight when the cut happened land before reading.
	time.Sleep(300 * time.Millisecond)
	l.stop()
	l.mu.Lock()
	first500, lastCanary, failed, total := l.first500, l.lastCanary, l.failedAfter500, l.total
	l.mu.Unlock()
	if first500.IsZero() {
		t.Fatal("the load never saw a 500 from the canary")
	}
	cut := lastCanary.Sub(first500)
	t.Logf("canary traffic stopped %v after the first 500; %d requests failed of %d sent", cut, failed, total)
	if cut > 3*time.Second {
		t.Errorf("the canary got traffic for %v after its first 500, want well under 3s", cut)
	}
	if !strings.Contains(st.AbortReason, "error_rate") || st.Analysis == nil || st.Analysis.Run != "guardrails" {
		t.Errorf("abort reason %q, verdict %+v: want the guardrail naming error_rate", st.AbortReason, st.Analysis)
	}
	if got := sample(t, st.URL, 100, 2); got["v1"] != 100 {
		t.Errorf("after the abort requests reached %v, want only v1", got)
	}
	h.waitStatus(k, "canary scaled down", func(s *deploy.Status) bool {
		return len(s.Revisions) == 1 && s.Revisions[0].Revision == 1
	})
	if n := h.metric("rollbacks_total", "production", "bad"); n != 1 {
		t.Errorf("rollbacks_total = %v, want 1", n)
	}
	if a, r := h.notesOf("rollout_aborted"), h.notesOf("rollback"); len(a) != 1 || len(r) != 1 || !strings.Contains(a[0], "error_rate") {
		t.Errorf("notifications aborted=%q rollback=%q, want one each naming error_rate", a, r)
	}
	found := false
	for _, e := range st.Events {
		found = found || (e.Reason == "Aborted" && strings.Contains(e.Message, "error_rate"))
	}
	if !found {
		t.Errorf("no Aborted event naming error_rate: %s", describe(st))
	}
	var trip *deploy.Measurement
	for _, m := range h.analysisOf(k).Measurements {
		if m.Run == "guardrails" {
			trip = &m
		}
	}
	if trip == nil || trip.Metric != "error_rate" || trip.Value <= 0.05 || trip.Samples < 20 || trip.Condition != "error_rate > 0.05 over 2s" {
		t.Errorf("the guardrail's measurement %+v does not carry the value, requests and rule", trip)
	}

	h.deploy(spec, "production", "v3", nil)
	h.waitStatus(k, "v3 paused at 20%", func(s *deploy.Status) bool {
		return s.Phase == "Paused" && s.Canary != nil && s.Canary.Version == "v3" && s.Weight == 20 && s.AbortReason == ""
	})
}

// A slow canary fails a latency_p99 analysis step and is aborted with a
// reason naming the metric, its value and the limit.
func TestSlowCanaryFailsLatencyAnalysis(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	k := h.key("slow", "production")
	spec := analysisSpec(t, "slow", freeAddr(t), `          - setWeight: 50
          - analysis: {templates: [latency]}`, `analysis:
  templates:
    latency:
      metrics:
        - name: p99
          provider: {builtin: {metric: latency_p99, window: 5s}}
          interval: 300ms
          count: 5
          initialDelay: 500ms
          successCondition: result < 0.15
          failureLimit: 0
          inconclusiveLimit: 4  # a loaded machine may measure before a slow canary's first answer
`)
	h.deploy(spec, "production", "v1", nil)
	st := h.waitHealthy(k, 1)
	l := startLoad(t, st.URL, 4)
	defer l.stop()
	h.deploy(spec, "production", "v2", map[string]string{"DELAY_MS": "300"})
	st = h.waitStatus(k, "aborted as Degraded", func(s *deploy.Status) bool { return s.Phase == "Degraded" })
	if !strings.Contains(st.AbortReason, "p99") || st.Analysis == nil || st.Analysis.Phase != analysis.PhaseFailed {
		t.Errorf("abort reason %q, verdict %+v: want the p99 metric failed", st.AbortReason, st.Analysis)
	}
	if st.Stable == nil || st.Stable.Revision != 1 || st.Weight != 0 {
		t.Errorf("after the abort: %s", describe(st))
	}
}

// A canary that receives no traffic is judged by its no-data rule:
// inconclusive pauses the rollout (it is never promoted by accident),
// fail aborts it.
func TestNoTrafficJudgedByNoDataRule(t *testing.T) {
	t.Parallel()
	for _, rule := range []string{"inconclusive", "fail"} {
		t.Run(rule, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			k := h.key("idle", "production")
			spec := analysisSpec(t, "idle", freeAddr(t), `          - setCanaryScale: {replicas: 1}
          - analysis: {templates: [errors]}`, fmt.Sprintf(`analysis:
  templates:
    errors:
      metrics:
        - name: error-rate
          provider: {builtin: {metric: error_rate}}
          interval: 100ms
          count: 2
          successCondition: result < 0.05
          onNoData: %s
`, rule))
			h.deploy(spec, "production", "v1", nil)
			h.waitHealthy(k, 1)
			h.deploy(spec, "production", "v2", nil)
			want := map[string]string{"inconclusive": "Paused", "fail": "Degraded"}[rule]
			st := h.waitStatus(k, want, func(s *deploy.Status) bool { return s.Phase == want })
			a := h.analysisOf(k)
			if len(a.Measurements) == 0 || !a.Measurements[0].NoData {
				t.Fatalf("measurements %+v: want no-data ones", a.Measurements)
			}
			wantPhase := map[string]analysis.Phase{"inconclusive": analysis.PhaseInconclusive, "fail": analysis.PhaseFailed}[rule]
			if st.Analysis == nil || st.Analysis.Phase != wantPhase {
				t.Errorf("verdict %+v, want %s", st.Analysis, wantPhase)
			}
			if rule == "inconclusive" {
				time.Sleep(500 * time.Millisecond)
				if st, _ := h.c.Status(context.Background(), k); st.Phase != "Paused" || st.Canary == nil {
					t.Errorf("an inconclusive canary moved on: %s", describe(st))
				}
			}
		})
	}
}

// A provider that cannot measure (a web check against a closed port)
// counts toward consecutiveErrorLimit: the run ends in Error after
// limit+1 errors in a row, never as a failed measurement.
func TestProviderErrorsCountTowardConsecutiveErrorLimit(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	h := newHarness(t)
	k := h.key("web", "production")
	spec := analysisSpec(t, "web", freeAddr(t), `          - setWeight: 50
          - analysis: {templates: [check]}`, fmt.Sprintf(`analysis:
  templates:
    check:
      metrics:
        - name: health
          provider: {web: {url: "http://%s/health", jsonPath: "$.ok", timeout: 1s}}
          interval: 100ms
          count: 10
          successCondition: result == true
          consecutiveErrorLimit: 2
`, closed))
	h.deploy(spec, "production", "v1", nil)
	h.waitHealthy(k, 1)
	h.deploy(spec, "production", "v2", nil)
	st := h.waitStatus(k, "aborted as Degraded", func(s *deploy.Status) bool { return s.Phase == "Degraded" })
	a := h.analysisOf(k)
	errs := 0
	for _, m := range a.Measurements {
		switch m.Phase {
		case analysis.PhaseError:
			errs++
		default:
			t.Errorf("measurement %+v: want only errors", m)
		}
	}
	if errs != 3 {
		t.Errorf("%d errored measurements, want consecutiveErrorLimit+1 = 3", errs)
	}
	if st.Analysis == nil || st.Analysis.Phase != analysis.PhaseError || !strings.Contains(st.AbortReason, "consecutiveErrorLimit 2") {
		t.Errorf("verdict %+v, reason %q: want Error naming consecutiveErrorLimit 2", st.Analysis, st.AbortReason)
	}
}

// A controller restarted in the middle of an analysis resumes the run
// where it was: the measurements before and after add up to the count,
// and the canary is promoted.
func TestAnalysisResumesAfterRestart(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	k := h.key("resume", "production")
	spec := analysisSpec(t, "resume", freeAddr(t), `          - setWeight: 50
          - analysis: {templates: [errors]}`, `analysis:
  templates:
    errors:
      metrics:
        - name: error-rate
          provider: {builtin: {metric: error_rate, window: 5s}}
          interval: 300ms
          count: 8
          successCondition: result < 0.05
          onNoData: pass
`)
	h.deploy(spec, "production", "v1", nil)
	st := h.waitHealthy(k, 1)
	l := startLoad(t, st.URL, 2)
	h.deploy(spec, "production", "v2", nil)
	deadline := time.Now().Add(60 * time.Second)
	for len(h.analysisOf(k).Measurements) < 3 {
		if time.Now().After(deadline) {
			t.Fatal("the analysis took no measurements")
		}
		time.Sleep(50 * time.Millisecond)
	}
	before := len(h.analysisOf(k).Measurements)
	h.stop()
	if before >= 8 {
		t.Fatalf("%d measurements before the restart; the run was already over", before)
	}
	h.start()
	st = h.waitHealthy(k, 2)
	l.stop()
	n := 0
	for _, m := range h.analysisOf(k).Measurements {
		if m.Run == "step 2" && m.Revision == 2 {
			n++
		}
	}
	if n != 8 {
		t.Errorf("%d measurements in all (%d before the restart), want the count, 8: the run restarted instead of resuming", n, before)
	}
	if st.Analysis == nil || st.Analysis.Phase != analysis.PhaseSuccessful {
		t.Errorf("verdict %+v, want Successful", st.Analysis)
	}
}

// A blue-green pre-promotion analysis judges the traffic testers send to
// the preview address: a green that answers 500s there is aborted before
// any user on the main address reaches it.
func TestPrePromotionAnalysisJudgesPreviewTraffic(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	addr, preview := freeAddr(t), freeAddr(t)
	spec := processSpec(t, "bg", 2, fmt.Sprintf(`  production:
    listen: %s
    strategy:
      blueGreen:
        previewListen: %q
        autoPromotionEnabled: false
        prePromotionAnalysis: {templates: [errors]}
`, addr, preview)) + errorRateTemplate
	k := h.key("bg", "production")
	h.deploy(spec, "production", "blue", nil)
	st := h.waitHealthy(k, 1)
	users := startLoad(t, st.URL, 2)
	testers := startRevLoad(t, "http://"+preview+"/", "2", 2, 50*time.Millisecond)

	h.deploy(spec, "production", "green", map[string]string{"FAIL": "1"})
	st = h.waitStatus(k, "green aborted by its pre-promotion analysis", func(s *deploy.Status) bool { return s.Phase == "Degraded" })
	testers.stop()
	if st.Analysis == nil || st.Analysis.Run != "prePromotion" || st.Analysis.Phase != analysis.PhaseFailed {
		t.Fatalf("verdict %+v, want prePromotion Failed", st.Analysis)
	}
	if st.Stable == nil || st.Stable.Revision != 1 {
		t.Fatalf("stable is %s, want blue", describe(st))
	}
	users.check(t) // the main address never served green
}
