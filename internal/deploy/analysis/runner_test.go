package analysis

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// reports collects what Runner.Report was given.
type reports struct {
	mu       sync.Mutex
	verdicts []Verdict
	states   []RunState
}

func (r *reports) report(v Verdict, st RunState) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.verdicts = append(r.verdicts, v)
	r.states = append(r.states, st)
}

func (r *reports) phases() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var b []byte
	for _, v := range r.verdicts {
		b = append(b, letter[v.Record.Phase])
	}
	return string(b)
}

func parseRun(t *testing.T, metrics ...map[string]any) *Run {
	t.Helper()
	list := make([]any, len(metrics))
	for i, m := range metrics {
		list[i] = m
	}
	ts, err := ParseTemplates(map[string]any{"templates": map[string]any{"t": map[string]any{"metrics": list}}})
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewRun(ts["t"])
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestRunnerErrorsThenSuccess: a web check that errors twice, then answers;
// errors are retried on the interval and do not count towards count.
func TestRunnerErrorsThenSuccess(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if hits.Add(1) <= 2 {
			http.Error(w, "warming up", http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, `{"ok":true}`)
	}))
	defer srv.Close()
	run := parseRun(t, map[string]any{"name": "smoke", "interval": "10ms", "count": int64(3), "successCondition": "result == true",
		"provider": map[string]any{"web": map[string]any{"url": srv.URL + "/healthz", "jsonPath": "$.ok"}}})
	var rep reports
	r := &Runner{Run: run, Provider: Providers{}, Report: rep.report}
	st, err := r.Execute(context.Background(), RunState{})
	if err != nil {
		t.Fatal(err)
	}
	if st.Phase != PhaseSuccessful || rep.phases() != "EESSS" {
		t.Errorf("run %s (%s), records %s; want Successful after EESSS", st.Phase, st.Message, rep.phases())
	}
	if m := st.Metrics[0]; m.Count != 3 || m.Errors != 2 || m.Failed != 0 {
		t.Errorf("metric state %+v", m)
	}
	last := rep.states[len(rep.states)-1]
	if last.Phase != st.Phase {
		t.Errorf("the last report should carry the final phase, got %s", last.Phase)
	}
}

// TestRunnerAbortsOnBadCanary: the builtin metric reads the real proxy;
// the run fails on the first measurement and the reason names the metric,
// the value and the limit.
func TestRunnerAbortsOnBadCanary(t *testing.T) {
	stable, canary := startReplica(t), startReplica(t)
	canary.status.Store(http.StatusInternalServerError)
	p, base := startProxy(t, stable, canary, 100, 0)
	send(t, base, 24, true)
	settle(t, p, "r2", 24)
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	defer slow.Close()
	run := parseRun(t,
		map[string]any{"name": "error-rate", "interval": "20ms", "count": int64(5), "minSamples": int64(20),
			"successCondition": "result < 0.05", "failureCondition": "result >= 0.05",
			"provider": map[string]any{"builtin": map[string]any{"metric": "error_rate", "window": "10s"}}},
		// A check that never answers must not hold up the decision.
		map[string]any{"name": "hangs", "successCondition": "true",
			"provider": map[string]any{"web": map[string]any{"url": slow.URL, "timeout": "30s"}}},
	)
	var rep reports
	r := &Runner{Run: run, Provider: Providers{Stats: p}, Args: Args{Canary: "r2", Stable: "r1"}, Report: rep.report}
	start := time.Now()
	st, err := r.Execute(context.Background(), RunState{})
	if err != nil {
		t.Fatal(err)
	}
	want := `metric "error-rate": value 1 >= 0.05 (failureCondition) on 24 requests`
	if st.Phase != PhaseFailed || st.Message != want {
		t.Errorf("run %s %q, want Failed %q", st.Phase, st.Message, want)
	}
	if took := time.Since(start); took > 20*time.Second {
		t.Errorf("the hanging check held the run for %s", took)
	}
	rec := rep.verdicts[0].Record
	if rec.Samples != 24 || rec.Query != `error_rate{revision="r2"}[10s]` || rec.Condition != "result >= 0.05 (failureCondition)" {
		t.Errorf("record %+v", rec)
	}
	if _, err := json.Marshal(rep.verdicts); err != nil {
		t.Errorf("records must be JSON: %v", err)
	}
}

// TestRunnerResumes: a run stopped by its context resumes from the
// persisted state and keeps counting.
func TestRunnerResumes(t *testing.T) {
	stable, canary := startReplica(t), startReplica(t)
	p, base := startProxy(t, stable, canary, 100, 0)
	send(t, base, 30, true)
	settle(t, p, "r2", 30)
	run := parseRun(t, map[string]any{"name": "error-rate", "interval": "10ms", "count": int64(6),
		"successCondition": "result < 0.05", "provider": map[string]any{"builtin": map[string]any{"metric": "error_rate"}}})
	ctx, cancel := context.WithCancel(context.Background())
	var mu sync.Mutex
	var saved []byte
	r := &Runner{Run: run, Provider: Providers{Stats: p}, Args: Args{Canary: "r2"}, Report: func(v Verdict, st RunState) {
		b, err := json.Marshal(st)
		if err != nil {
			t.Error(err)
		}
		mu.Lock()
		saved = b
		mu.Unlock()
		if st.Metrics[0].Count == 2 {
			cancel()
		}
	}}
	st, err := r.Execute(ctx, RunState{})
	if !errors.Is(err, context.Canceled) || st.Phase != PhaseRunning {
		t.Fatalf("stopped run: %s, %v", st.Phase, err)
	}
	var resumed RunState
	mu.Lock()
	if err := json.Unmarshal(saved, &resumed); err != nil {
		t.Fatal(err)
	}
	mu.Unlock()
	if resumed.Metrics[0].Count != 2 {
		t.Fatalf("persisted state %+v", resumed.Metrics[0])
	}
	r.Report = nil
	st, err = r.Execute(context.Background(), resumed)
	if err != nil || st.Phase != PhaseSuccessful || st.Metrics[0].Count != 6 {
		t.Errorf("resumed run: %s %+v, %v", st.Phase, st.Metrics[0], err)
	}
	if !strings.Contains(st.Message, "all 1 metric successful") {
		t.Errorf("message %q", st.Message)
	}
}

// TestRunnerBackgroundTerminate: an indefinite background metric runs until
// the controller stops it; Terminate then ends it successfully.
func TestRunnerBackgroundTerminate(t *testing.T) {
	stable, canary := startReplica(t), startReplica(t)
	p, base := startProxy(t, stable, canary, 100, 0)
	send(t, base, 10, true)
	settle(t, p, "r2", 10)
	run := parseRun(t, map[string]any{"name": "error-rate", "interval": "10ms",
		"successCondition": "result < 0.05", "provider": map[string]any{"builtin": map[string]any{"metric": "error_rate"}}})
	ctx, cancel := context.WithCancel(context.Background())
	var n atomic.Int64
	r := &Runner{Run: run, Provider: Providers{Stats: p}, Args: Args{Canary: "r2"}, Report: func(Verdict, RunState) {
		if n.Add(1) == 5 {
			cancel()
		}
	}}
	st, err := r.Execute(ctx, RunState{})
	if !errors.Is(err, context.Canceled) || st.Phase != PhaseRunning {
		t.Fatalf("background run: %s, %v", st.Phase, err)
	}
	if st = run.Terminate(st); st.Phase != PhaseSuccessful {
		t.Errorf("terminated: %s", st.Phase)
	}
}

func TestRunnerRefusesForeignState(t *testing.T) {
	run := parseRun(t, map[string]any{"name": "a", "provider": map[string]any{"job": map[string]any{"command": []any{"true"}}}})
	other := parseRun(t, map[string]any{"name": "b", "provider": map[string]any{"job": map[string]any{"command": []any{"true"}}}})
	r := &Runner{Run: run, Provider: Providers{}}
	if _, err := r.Execute(context.Background(), other.Start(time.Now())); err == nil {
		t.Error("a state saved for other metrics must be refused")
	}
	if _, err := (&Runner{Run: run}).Execute(context.Background(), RunState{}); err == nil {
		t.Error("a runner without provider must be refused")
	}
}
