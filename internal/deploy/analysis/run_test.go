package analysis

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"
)

func newRun(t *testing.T, metrics ...Metric) *Run {
	t.Helper()
	tmpl := &Template{Name: "t"}
	for _, m := range metrics {
		tmpl.Metrics = append(tmpl.Metrics, newMetric(t, m))
	}
	r, err := NewRun(tmpl)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestRunDecides(t *testing.T) {
	now := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	rate := Metric{Name: "rate", SuccessCondition: "result < 0.05", Interval: time.Second, Count: 2, ConsecutiveErrorLimit: 4}
	dry := Metric{Name: "dry", SuccessCondition: "result < 0.05", Interval: time.Second, Count: 5, DryRun: true, ConsecutiveErrorLimit: 4}
	slow := Metric{Name: "slow", SuccessCondition: "result < 0.5", Interval: time.Second, ConsecutiveErrorLimit: 0}

	t.Run("dry-run metrics never decide", func(t *testing.T) {
		r := newRun(t, rate, dry)
		st := r.Start(now)
		st, v := r.Next(st, "dry", now, val(0.9).ms, nil)
		if v.Phase != PhaseFailed || !v.Record.DryRun || st.Phase != PhaseRunning {
			t.Fatalf("a failing dry-run metric must be recorded but not decide: verdict %+v, run %s", v, st.Phase)
		}
		st, _ = r.Next(st, "rate", now, val(0.01).ms, nil)
		st, _ = r.Next(st, "rate", now, val(0.01).ms, nil)
		if st.Phase != PhaseSuccessful {
			t.Errorf("run %s (%s), want Successful despite the failed dry-run metric", st.Phase, st.Message)
		}
	})
	t.Run("only dry-run metrics: successful once they complete", func(t *testing.T) {
		r := newRun(t, Metric{Name: "dry", SuccessCondition: "result < 0.05", DryRun: true})
		st, _ := r.Next(r.Start(now), "dry", now, val(0.9).ms, nil)
		if st.Phase != PhaseSuccessful {
			t.Errorf("run %s, want Successful", st.Phase)
		}
	})
	t.Run("first bad metric decides at once with the worst phase", func(t *testing.T) {
		r := newRun(t, rate, slow)
		st := r.Start(now)
		st, _ = r.Next(st, "slow", now, Measurement{}, errProvider)
		if st.Phase != PhaseError || !strings.Contains(st.Message, `metric "slow"`) {
			t.Fatalf("run %s %q, want Error naming slow", st.Phase, st.Message)
		}
		before := st
		st, _ = r.Next(st, "rate", now, val(0.9).ms, nil)
		if st.Phase != before.Phase || st.Message != before.Message {
			t.Errorf("a decided run must not change: %s -> %s", before.Phase, st.Phase)
		}
	})
	t.Run("worst of several", func(t *testing.T) {
		r := newRun(t, rate, slow)
		st := r.Start(now)
		st.Metrics[1].Phase, st.Metrics[1].Message = PhaseInconclusive, "slow inconclusive"
		st.Metrics[0].Phase, st.Metrics[0].Message = PhaseFailed, "rate failed"
		if p, msg := r.assess(st); p != PhaseFailed || msg != "rate failed" {
			t.Errorf("assess = %s %q, want Failed from rate", p, msg)
		}
	})
	t.Run("terminate ends running metrics successfully", func(t *testing.T) {
		r := newRun(t, slow)
		st := r.Start(now)
		st, _ = r.Next(st, "slow", now, val(0.1).ms, nil)
		if st.Phase != PhaseRunning {
			t.Fatalf("run %s, want Running", st.Phase)
		}
		st = r.Terminate(st)
		if st.Phase != PhaseSuccessful || !strings.Contains(st.Metrics[0].Message, "after 1 measurement") {
			t.Errorf("terminated run %s, metric %q", st.Phase, st.Metrics[0].Message)
		}
	})
	t.Run("Due picks the earliest", func(t *testing.T) {
		r := newRun(t, rate, Metric{Name: "later", InitialDelay: time.Minute, Interval: time.Second})
		name, at, ok := r.Due(r.Start(now))
		if !ok || name != "rate" || !at.Equal(now) {
			t.Errorf("Due = %s %v %v", name, at, ok)
		}
	})
	t.Run("Next does not modify its input", func(t *testing.T) {
		r := newRun(t, rate)
		st := r.Start(now)
		_, _ = r.Next(st, "rate", now, val(0.9).ms, nil)
		if st.Metrics[0].Phase != PhasePending {
			t.Errorf("input state changed: %+v", st.Metrics[0])
		}
	})
	t.Run("unknown metric", func(t *testing.T) {
		r := newRun(t, rate)
		st, v := r.Next(r.Start(now), "nope", now, val(0.1).ms, nil)
		if st.Phase != PhasePending || v.Record.Phase != PhaseError {
			t.Errorf("unknown metric: %s %+v", st.Phase, v)
		}
	})
}

func TestNewRunMergesTemplates(t *testing.T) {
	a := &Template{Name: "a", Metrics: []*Metric{{Name: "x"}}}
	b := &Template{Name: "b", Metrics: []*Metric{{Name: "y"}}}
	r, err := NewRun(a, b)
	if err != nil || len(r.Metrics) != 2 {
		t.Fatalf("NewRun = %v, %v", r, err)
	}
	if _, err := NewRun(a, &Template{Name: "c", Metrics: []*Metric{{Name: "x"}}}); err == nil || !strings.Contains(err.Error(), `metric "x" is in both "a" and "c"`) {
		t.Errorf("duplicate metric names across templates: %v", err)
	}
	if _, err := NewRun(); err == nil {
		t.Error("a run without metrics should be refused")
	}
}

// TestStateJSON: records and states are stored as JSON, NaN and Inf
// included, and read back the same.
func TestStateJSON(t *testing.T) {
	now := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	r := newRun(t, Metric{Name: "p99", SuccessCondition: "result < 0.5", Interval: time.Second, ConsecutiveErrorLimit: 4})
	st, v := r.Next(r.Start(now), "p99", now, Measurement{Value: math.NaN(), Samples: -1, Query: "q"}, nil)
	for _, x := range []any{st, v} {
		b, err := json.Marshal(x)
		if err != nil {
			t.Fatalf("marshal %T: %v", x, err)
		}
		if !strings.Contains(string(b), "NaN") && x == any(v) {
			t.Errorf("NaN lost: %s", b)
		}
	}
	b, _ := json.Marshal(v.Record)
	var back Record
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !math.IsNaN(float64(back.Value)) || back.Phase != v.Record.Phase || back.Query != "q" || !back.Time.Equal(now) {
		t.Errorf("round trip: %+v from %s", back, b)
	}
	for _, f := range []float64{math.Inf(1), math.Inf(-1), 0.05, 1e-9, 12345678.9} {
		b, err := json.Marshal(Number(f))
		if err != nil {
			t.Fatal(err)
		}
		var n Number
		if err := json.Unmarshal(b, &n); err != nil || float64(n) != f {
			t.Errorf("%v -> %s -> %v, %v", f, b, n, err)
		}
	}
	b, _ = json.Marshal(st)
	var stBack RunState
	if err := json.Unmarshal(b, &stBack); err != nil || stBack.Phase != st.Phase || stBack.Metrics[0].Failed != 1 {
		t.Errorf("state round trip: %+v, %v", stBack, err)
	}
}

func TestStrategyVerdict(t *testing.T) {
	want := map[Phase]string{PhasePending: "Running", PhaseRunning: "Running", PhaseInconclusive: "Inconclusive",
		PhaseSuccessful: "Successful", PhaseFailed: "Failed", PhaseError: "Failed"}
	for p, w := range want {
		if got := string(p.StrategyVerdict()); got != w {
			t.Errorf("%s -> %s, want %s", p, got, w)
		}
	}
}
