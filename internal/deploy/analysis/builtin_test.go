package analysis

import (
	"context"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"
)

func builtinMetric(t *testing.T, metric, compare, cond string, minSamples int64) *Metric {
	t.Helper()
	b := map[string]any{"metric": metric, "window": "10s"}
	if compare != "" {
		b["compare"] = compare
	}
	raw := map[string]any{"templates": map[string]any{"t": map[string]any{"metrics": []any{
		map[string]any{"name": metric, "provider": map[string]any{"builtin": b}, "successCondition": cond, "minSamples": minSamples},
	}}}}
	ts, err := ParseTemplates(raw)
	if err != nil {
		t.Fatal(err)
	}
	return ts["t"].Metrics[0]
}

// TestBuiltinProvider reads the real proxy's figures after real requests.
func TestBuiltinProvider(t *testing.T) {
	stable, canary := startReplica(t), startReplica(t)
	p, base := startProxy(t, stable, canary, 100, 0)
	ctx := context.Background()
	args := Args{Canary: "r2", Stable: "r1"}
	b := Builtin{Source: p}

	m := builtinMetric(t, BuiltinErrorRate, "", "result < 0.05", 20)
	ms, err := b.Measure(ctx, m, args)
	if err != nil || !ms.NoData || ms.Samples != 0 {
		t.Fatalf("a canary without requests has no data: %+v, %v", ms, err)
	}
	if rec := m.Evaluate(time.Now(), ms, nil); rec.Phase != PhaseInconclusive || !rec.NoData {
		t.Errorf("no data judged %s (%s)", rec.Phase, rec.Message)
	}

	send(t, base, 40, false) // stable only
	canary.status.Store(http.StatusInternalServerError)
	send(t, base, 10, true)
	canary.status.Store(http.StatusOK)
	canary.delay.Store(int64(30 * time.Millisecond))
	send(t, base, 30, true)
	settle(t, p, "r1", 40)
	settle(t, p, "r2", 40)

	ms, err = b.Measure(ctx, m, args)
	if err != nil || ms.Samples != 40 || math.Abs(ms.Value-0.25) > 1e-9 {
		t.Fatalf("canary error rate: %+v, %v; want 10/40", ms, err)
	}
	if ms.Query != `error_rate{revision="r2"}[10s]` || !strings.Contains(ms.Raw, "40 requests, 10 5xx") {
		t.Errorf("query %q raw %q", ms.Query, ms.Raw)
	}
	rec := m.Evaluate(time.Now(), ms, nil)
	if rec.Phase != PhaseFailed || rec.Message != `value 0.25 does not meet successCondition "result < 0.05" on 40 requests` {
		t.Errorf("judged %s: %s", rec.Phase, rec.Message)
	}

	p99, err := b.Measure(ctx, builtinMetric(t, BuiltinLatencyP99, "", "result < 0.5", 0), args)
	if err != nil || p99.Value < 0.025 || p99.Value > 5 {
		t.Errorf("canary p99 %v s (%v), want about 30ms or more", p99.Value, err)
	}
	ratio, err := b.Measure(ctx, builtinMetric(t, BuiltinLatencyP50, CompareCanaryVsStable, "result < 2", 0), args)
	if err != nil || ratio.Value < 2 || ratio.Samples != 40 || !strings.Contains(ratio.Query, `/ latency_p50{revision="r1"}`) {
		t.Errorf("canary/stable p50 = %+v, %v; the slow canary should be several times the stable", ratio, err)
	}
	errRatio, err := b.Measure(ctx, builtinMetric(t, BuiltinErrorRate, CompareCanaryVsStable, "result < 2", 0), args)
	if err != nil || !math.IsInf(errRatio.Value, 1) {
		t.Errorf("errors on the canary over none on the stable should be +Inf: %+v, %v", errRatio, err)
	}
	rate, err := b.Measure(ctx, builtinMetric(t, BuiltinRequestRate, "", "result > 0", 0), args)
	if err != nil || rate.Value <= 0 {
		t.Errorf("request rate %+v, %v", rate, err)
	}

	if _, err := b.Measure(ctx, m, Args{}); err == nil {
		t.Error("measuring without a canary revision should be an error")
	}
	if _, err := (Builtin{}).Measure(ctx, m, args); err == nil {
		t.Error("measuring without a source should be an error")
	}
	if ms, err := b.Measure(ctx, builtinMetric(t, BuiltinErrorRate, CompareCanaryVsStable, "true", 0), Args{Canary: "r2", Stable: "r0"}); err != nil || !ms.NoData {
		t.Errorf("a comparison with a stable revision without requests has no data: %+v, %v", ms, err)
	}
}

func TestRatio(t *testing.T) {
	for _, c := range []struct{ c, s, want float64 }{{0, 0, 1}, {0.2, 0.1, 2}, {0.1, 0, math.Inf(1)}, {0, 0.1, 0}} {
		if got := ratio(c.c, c.s); got != c.want {
			t.Errorf("ratio(%v, %v) = %v, want %v", c.c, c.s, got, c.want)
		}
	}
}
