package analysis

import (
	"errors"
	"math"
	"testing"
	"time"
)

// step is one measurement fed to the state machine.
type step struct {
	ms  Measurement
	err error
}

func val(v float64) step          { return step{ms: Measurement{Value: v, Samples: 100}} }
func few(v float64, n int64) step { return step{ms: Measurement{Value: v, Samples: n}} }
func noData() step                { return step{ms: Measurement{NoData: true, Samples: 0}} }
func unknownSamples(v float64) step {
	return step{ms: Measurement{Value: v, Samples: -1}}
}
func text(s string) step { return step{ms: Measurement{Value: math.NaN(), Result: s, Samples: -1}} }

var errProvider = errors.New("connection refused")

func fails() step { return step{err: errProvider} }

// newMetric completes a metric written in a test: a builtin error-rate
// provider unless another is given, and compiled conditions.
func newMetric(t *testing.T, m Metric) *Metric {
	t.Helper()
	if m.Name == "" {
		m.Name = "error-rate"
	}
	if m.Provider.Kind() == "" {
		m.Provider.Builtin = &BuiltinSpec{Metric: BuiltinErrorRate, Window: time.Second}
	}
	if err := m.Compile(); err != nil {
		t.Fatal(err)
	}
	return &m
}

var letter = map[Phase]byte{PhaseRunning: 'R', PhaseSuccessful: 'S', PhaseFailed: 'F', PhaseInconclusive: 'I', PhaseError: 'E', PhasePending: 'P'}

// TestMetricNext walks the state machine through tables of measurements.
// records lists each measurement's own phase, phases the metric's phase
// after it (S successful, F failed, I inconclusive, E error, R running).
func TestMetricNext(t *testing.T) {
	lt := Metric{SuccessCondition: "result < 0.05", ConsecutiveErrorLimit: 4, Interval: time.Second}
	with := func(f func(*Metric)) Metric { m := lt; f(&m); return m }
	cases := []struct {
		name    string
		metric  Metric
		steps   []step
		records string
		phases  string
	}{
		{"one failure fails with failureLimit 0", lt, []step{val(0.01), val(0.3)}, "SF", "RF"},
		{"failureLimit 2 tolerates two", with(func(m *Metric) { m.FailureLimit = 2 }),
			[]step{val(0.3), val(0.01), val(0.3), val(0.3)}, "FSFF", "RRRF"},
		{"failureLimit -1 never fails", with(func(m *Metric) { m.FailureLimit = -1; m.Count = 3 }),
			[]step{val(0.3), val(0.3), val(0.3)}, "FFF", "RRS"},
		{"count reached is successful", with(func(m *Metric) { m.Count = 3 }),
			[]step{val(0.01), val(0.02), val(0.03)}, "SSS", "RRS"},
		{"failures within the limit still succeed at count", with(func(m *Metric) { m.Count = 3; m.FailureLimit = 1 }),
			[]step{val(0.3), val(0.01), val(0.01)}, "FSS", "RRS"},
		{"failureLimit is checked before count", with(func(m *Metric) { m.Count = 2 }),
			[]step{val(0.01), val(0.3)}, "SF", "RF"},
		{"no count and no interval measures once", Metric{SuccessCondition: "result < 0.05", ConsecutiveErrorLimit: 4},
			[]step{val(0.01)}, "S", "S"},
		{"interval without count runs on", lt,
			[]step{val(0.01), val(0.01), val(0.01), val(0.01), val(0.01), val(0.01)}, "SSSSSS", "RRRRRR"},
		{"both conditions: neither met is inconclusive", with(func(m *Metric) { m.FailureCondition = "result >= 0.1" }),
			[]step{val(0.07)}, "I", "I"},
		{"inconclusiveLimit 2 tolerates two", with(func(m *Metric) { m.FailureCondition = "result >= 0.1"; m.InconclusiveLimit = 2 }),
			[]step{val(0.07), val(0.07), val(0.01), val(0.07)}, "IISI", "RRRI"},
		{"NaN meets neither condition", with(func(m *Metric) { m.FailureCondition = "result >= 0.1" }),
			[]step{step{ms: Measurement{Value: math.NaN(), Samples: -1}}}, "I", "I"},
		{"NaN fails a lone successCondition", lt, []step{step{ms: Measurement{Value: math.NaN(), Samples: -1}}}, "F", "F"},
		{"isNaN lets NaN pass", with(func(m *Metric) { m.SuccessCondition = "isNaN(result) || result < 0.05" }),
			[]step{step{ms: Measurement{Value: math.NaN(), Samples: -1}}}, "S", "R"},
		{"a lone failureCondition not met succeeds", Metric{FailureCondition: "result > 0.5", Count: 2, Interval: time.Second, ConsecutiveErrorLimit: 4},
			[]step{val(0.1), val(0.6)}, "SF", "RF"},
		{"no condition always succeeds", Metric{Count: 2, Interval: time.Second}, []step{val(99), val(-1)}, "SS", "RS"},

		// Errors count towards consecutiveErrorLimit and never towards failure.
		{"four errors are tolerated, the fifth ends in Error", lt,
			[]step{fails(), fails(), fails(), fails(), fails()}, "EEEEE", "RRRRE"},
		{"a judged measurement resets consecutive errors", lt,
			[]step{fails(), fails(), fails(), fails(), val(0.01), fails(), fails(), fails(), fails()}, "EEEESEEEE", "RRRRRRRRR"},
		{"consecutiveErrorLimit 0: first error ends it", with(func(m *Metric) { m.ConsecutiveErrorLimit = 0 }),
			[]step{fails()}, "E", "E"},
		{"consecutiveErrorLimit -1: errors never end it", with(func(m *Metric) { m.ConsecutiveErrorLimit = -1 }),
			[]step{fails(), fails(), fails(), fails(), fails(), fails(), fails()}, "EEEEEEE", "RRRRRRR"},
		{"errors do not count towards count", with(func(m *Metric) { m.Count = 2 }),
			[]step{fails(), val(0.01), fails(), val(0.01)}, "ESES", "RRRS"},
		{"a condition that cannot be evaluated is an error", lt,
			[]step{text("ok"), text("ok"), text("ok"), text("ok"), text("ok")}, "EEEEE", "RRRRE"},

		// No data follows onNoData, never the conditions.
		{"onNoData inconclusive (default)", lt, []step{noData()}, "I", "I"},
		{"onNoData inconclusive within inconclusiveLimit", with(func(m *Metric) { m.InconclusiveLimit = 1 }),
			[]step{noData(), val(0.01), noData()}, "ISI", "RRI"},
		{"onNoData fail", with(func(m *Metric) { m.OnNoData = NoDataFail }), []step{noData()}, "F", "F"},
		{"onNoData fail within failureLimit", with(func(m *Metric) { m.OnNoData = NoDataFail; m.FailureLimit = 1 }),
			[]step{noData(), noData()}, "FF", "RF"},
		{"onNoData pass", with(func(m *Metric) { m.OnNoData = NoDataPass; m.Count = 2 }), []step{noData(), noData()}, "SS", "RS"},
		{"no data with a failureCondition that would hold on 0", with(func(m *Metric) {
			m.SuccessCondition, m.FailureCondition, m.OnNoData = "", "result < 1", NoDataPass
		}), []step{noData()}, "S", "R"},

		// minSamples turns thin measurements into no data.
		{"below minSamples is no data", with(func(m *Metric) { m.MinSamples = 20 }), []step{few(0.5, 19)}, "I", "I"},
		{"below minSamples with onNoData pass", with(func(m *Metric) { m.MinSamples = 20; m.OnNoData = NoDataPass }),
			[]step{few(0.5, 5), few(0.01, 20), few(0.5, 20)}, "SSF", "RRF"},
		{"unknown sample counts are judged", with(func(m *Metric) { m.MinSamples = 20 }), []step{unknownSamples(0.5)}, "F", "F"},
	}
	start := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := newMetric(t, c.metric)
			st := m.Start(start)
			now := start
			var records, phases []byte
			for i, s := range c.steps {
				now = now.Add(time.Second)
				var v Verdict
				st, v = m.Next(st, now, s.ms, s.err)
				records = append(records, letter[v.Record.Phase])
				phases = append(phases, letter[st.Phase])
				if v.Phase != st.Phase {
					t.Errorf("step %d: verdict phase %s, state phase %s", i, v.Phase, st.Phase)
				}
				if st.Phase.Completed() && (v.Reason == "" || !st.Due.IsZero()) {
					t.Errorf("step %d: completed without a reason or with a due time: %+v", i, st)
				}
			}
			if string(records) != c.records || string(phases) != c.phases {
				t.Errorf("records %s phases %s, want records %s phases %s\nlast state %+v", records, phases, c.records, c.phases, st)
			}
			if st.Failed > 0 && st.Errors > 0 && c.records == "EEEEE" {
				t.Errorf("errors counted as failures: %+v", st)
			}
		})
	}
}

func TestMetricScheduling(t *testing.T) {
	start := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	m := newMetric(t, Metric{SuccessCondition: "result < 1", Interval: 3 * time.Second, InitialDelay: 10 * time.Second, ConsecutiveErrorLimit: 4})
	st := m.Start(start)
	if st.Phase != PhasePending || !st.Due.Equal(start.Add(10*time.Second)) {
		t.Fatalf("start: %+v, want Pending due after initialDelay", st)
	}
	st, _ = m.Next(st, start.Add(11*time.Second), val(0.1).ms, nil)
	if !st.Due.Equal(start.Add(14 * time.Second)) {
		t.Errorf("after a measurement, due %v, want interval later", st.Due)
	}
	once := newMetric(t, Metric{SuccessCondition: "result < 1", ConsecutiveErrorLimit: 4})
	st = once.Start(start)
	st, _ = once.Next(st, start, Measurement{}, errProvider)
	if st.Phase != PhaseRunning || !st.Due.Equal(start.Add(ErrorRetryInterval)) {
		t.Errorf("an erroring metric without interval should retry after %s: %+v", ErrorRetryInterval, st)
	}
	done, v := once.Next(st, start.Add(time.Minute), val(0.1).ms, nil)
	if done.Phase != PhaseSuccessful {
		t.Fatalf("want Successful, got %+v", done)
	}
	again, v2 := once.Next(done, start.Add(2*time.Minute), val(5).ms, nil)
	if again != done || v2.Phase != PhaseSuccessful || v2.Reason != v.Reason {
		t.Errorf("a completed metric must not change: %+v, %+v", again, v2)
	}
}

func TestRecordMessages(t *testing.T) {
	now := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		name   string
		metric Metric
		step   step
		reason string
		cond   string
	}{
		{"failureCondition", Metric{Name: "error-rate", SuccessCondition: "result < 0.05", FailureCondition: "result >= 0.05"},
			step{ms: Measurement{Value: 0.3125, Samples: 96}},
			`metric "error-rate": value 0.3125 >= 0.05 (failureCondition) on 96 requests`, "result >= 0.05 (failureCondition)"},
		{"successCondition not met", Metric{Name: "p99", SuccessCondition: "result < 0.5", Provider: ProviderSpec{Prometheus: &PrometheusSpec{}}},
			step{ms: Measurement{Value: 0.8, Samples: -1}},
			`metric "p99": value 0.8 does not meet successCondition "result < 0.5"`, "result < 0.5 (successCondition)"},
		{"no data", Metric{Name: "error-rate", SuccessCondition: "result < 0.05", MinSamples: 20, OnNoData: NoDataFail},
			few(0.5, 3), `metric "error-rate": no data (3 requests < minSamples 20): counted as failed by onNoData "fail"`, ""},
		{"errors", Metric{Name: "smoke", SuccessCondition: "result == 'ok'", ConsecutiveErrorLimit: 0, Provider: ProviderSpec{Web: &WebSpec{}}},
			fails(), `metric "smoke": 1 consecutive error > consecutiveErrorLimit 0; last: connection refused`, ""},
		{"inconclusive", Metric{Name: "rate", SuccessCondition: "result < 0.05", FailureCondition: "result > 0.1"},
			val(0.07), `metric "rate": 1 inconclusive measurement > inconclusiveLimit 0; last: value 0.07 meets neither successCondition "result < 0.05" nor failureCondition "result > 0.1" on 100 requests`,
			"result < 0.05 (successCondition); result > 0.1 (failureCondition)"},
		{"string result", Metric{Name: "smoke", SuccessCondition: `result == "ok"`, Provider: ProviderSpec{Web: &WebSpec{}}},
			text("down"), `metric "smoke": value "down" does not meet successCondition "result == \"ok\""`, `result == "ok" (successCondition)`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := newMetric(t, c.metric)
			st, v := m.Next(m.Start(now), now, c.step.ms, c.step.err)
			if !st.Phase.Completed() {
				t.Fatalf("want a decision, got %+v", st)
			}
			if v.Reason != c.reason {
				t.Errorf("reason\n  %s\nwant\n  %s", v.Reason, c.reason)
			}
			if v.Record.Condition != c.cond {
				t.Errorf("condition %q, want %q", v.Record.Condition, c.cond)
			}
		})
	}
}

func TestUncompiledMetricErrs(t *testing.T) {
	m := &Metric{Name: "m", SuccessCondition: "result < 1", Provider: ProviderSpec{Builtin: &BuiltinSpec{Metric: BuiltinErrorRate}}}
	rec := m.Evaluate(time.Now(), Measurement{Value: 0.5, Samples: 100}, nil)
	if rec.Phase != PhaseError {
		t.Errorf("a metric whose conditions were never compiled must not be judged: %+v", rec)
	}
}
