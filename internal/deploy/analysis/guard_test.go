package analysis

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// trips records onTrip calls.
type trips struct {
	mu      sync.Mutex
	reasons []string
	last    Trip
	n       atomic.Int64
}

func (tr *trips) onTrip(trip Trip) {
	tr.mu.Lock()
	tr.last = trip
	tr.reasons = append(tr.reasons, trip.Reason)
	tr.mu.Unlock()
	tr.n.Add(1)
}

// TestGuardTripsOnBurstOf500s: real replicas behind the real proxy; the
// guard wakes on the proxy's batch signal and trips once.
func TestGuardTripsOnBurstOf500s(t *testing.T) {
	stable, canary := startReplica(t), startReplica(t)
	p, base := startProxy(t, stable, canary, 50, 50)
	var tr trips
	g, err := NewGuard(p, "r2", DefaultGuardrails(), tr.onTrip)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type outcome struct {
		reason  string
		tripped bool
	}
	done := make(chan outcome, 1)
	go func() {
		r, ok := g.Run(ctx)
		done <- outcome{r, ok}
	}()

	send(t, base, 200, false) // healthy: about 100 on the canary
	settle(t, p, "r2", 90)
	if reason, tripped := g.Check(); tripped || tr.n.Load() != 0 {
		t.Fatalf("a healthy canary tripped the guard: %s", reason)
	}

	canary.status.Store(http.StatusInternalServerError)
	send(t, base, 60, true) // the burst: every canary request fails
	var out outcome
	select {
	case out = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the guard did not trip on a burst of 500s")
	}
	if !out.tripped || tr.n.Load() != 1 || tr.reasons[0] != out.reason {
		t.Fatalf("outcome %+v, onTrip calls %v", out, tr.reasons)
	}
	if l := tr.last; l.Metric != BuiltinErrorRate || l.Value <= 0.05 || l.Requests < 20 || l.Condition != "error_rate > 0.05 over 2s" {
		t.Errorf("the trip does not carry its figures: %+v", l)
	}
	for _, want := range []string{"guardrail error_rate > 0.05 over 2s", `canary "r2"`, "5xx"} {
		if !strings.Contains(out.reason, want) {
			t.Errorf("reason %q should contain %q", out.reason, want)
		}
	}
	// A second Run trips again at once but never calls onTrip twice.
	if _, ok := g.Run(ctx); !ok || tr.n.Load() != 1 {
		t.Errorf("onTrip called %d times", tr.n.Load())
	}
}

func TestGuardMinRequests(t *testing.T) {
	stable, canary := startReplica(t), startReplica(t)
	canary.status.Store(http.StatusInternalServerError)
	p, base := startProxy(t, stable, canary, 100, 0)
	g, err := NewGuard(p, "r2", []Rule{{Metric: BuiltinErrorRate, Op: ">", Threshold: 0.05, Window: 10 * time.Second, MinRequests: 20}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, tripped := g.Check(); tripped {
		t.Fatal("no requests must not trip")
	}
	send(t, base, 19, true)
	settle(t, p, "r2", 19)
	if reason, tripped := g.Check(); tripped {
		t.Fatalf("19 failed requests are below minRequests 20 but tripped: %s", reason)
	}
	send(t, base, 1, true)
	settle(t, p, "r2", 20)
	reason, tripped := g.Check()
	if !tripped || !strings.Contains(reason, "value 1 on 20 requests (20 5xx)") {
		t.Errorf("20 failed requests should trip: %q", reason)
	}
}

func TestGuardLatencyRule(t *testing.T) {
	stable, canary := startReplica(t), startReplica(t)
	canary.delay.Store(int64(60 * time.Millisecond))
	p, base := startProxy(t, stable, canary, 100, 0)
	rules := []Rule{
		{Metric: BuiltinErrorRate, Op: ">", Threshold: 0.05, Window: 5 * time.Second, MinRequests: 5},
		{Metric: BuiltinLatencyP99, Op: ">", Threshold: 0.05, Window: 5 * time.Second, MinRequests: 5},
	}
	g, err := NewGuard(p, "r2", rules, nil)
	if err != nil {
		t.Fatal(err)
	}
	send(t, base, 8, true)
	settle(t, p, "r2", 8)
	reason, tripped := g.Check()
	if !tripped || !strings.HasPrefix(reason, "guardrail latency_p99 > 0.05 over 5s") {
		t.Errorf("a slow canary should trip the latency rule: %q", reason)
	}
}

func TestGuardStopsWithContext(t *testing.T) {
	stable, canary := startReplica(t), startReplica(t)
	p, _ := startProxy(t, stable, canary, 100, 0)
	for _, rules := range [][]Rule{DefaultGuardrails(), nil} {
		g, err := NewGuard(p, "r2", rules, func(Trip) { t.Error("tripped without traffic") })
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		if _, tripped := g.Run(ctx); tripped {
			t.Error("tripped without traffic")
		}
		cancel()
	}
}

func TestNewGuardRefusesBadRules(t *testing.T) {
	stable, canary := startReplica(t), startReplica(t)
	p, _ := startProxy(t, stable, canary, 100, 0)
	for _, r := range []Rule{
		{Metric: "errors", Op: ">", Window: time.Second},
		{Metric: BuiltinErrorRate, Op: "=", Window: time.Second},
		{Metric: BuiltinErrorRate, Op: ">", Window: 0},
		{Metric: BuiltinErrorRate, Op: ">", Window: time.Second, MinRequests: -1},
	} {
		if _, err := NewGuard(p, "r2", []Rule{r}, nil); err == nil {
			t.Errorf("rule %+v accepted", r)
		}
	}
	if _, err := NewGuard(p, "", DefaultGuardrails(), nil); err == nil {
		t.Error("a guard without canary accepted")
	}
	if _, err := NewGuard(nil, "r2", DefaultGuardrails(), nil); err == nil {
		t.Error("a guard without proxy accepted")
	}
}
