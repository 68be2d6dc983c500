package analysis

import (
	"testing"
	"time"
)

// BenchmarkGuardBatch measures one guard evaluation, what runs after every
// batch of requests: the default error-rate rule, then with a latency rule,
// over the real proxy's window holding about a thousand canary requests.
// The windows are 15s rather than the default 2s so that the requests stay
// in them for the whole benchmark.
func BenchmarkGuardBatch(b *testing.B) {
	stable, canary := startReplica(b), startReplica(b)
	p, base := startProxy(b, stable, canary, 50, 50)
	errRate := Rule{Metric: BuiltinErrorRate, Op: ">", Threshold: 0.05, Window: 15 * time.Second, MinRequests: 20}
	p99 := Rule{Metric: BuiltinLatencyP99, Op: ">", Threshold: 0.5, Window: 15 * time.Second, MinRequests: 20}
	for _, bc := range []struct {
		name  string
		rules []Rule
	}{{"error_rate", []Rule{errRate}}, {"error_rate+p99", []Rule{errRate, p99}}} {
		b.Run(bc.name, func(b *testing.B) {
			send(b, base, 2000, false)
			settle(b, p, "r2", 900)
			g, err := NewGuard(p, "r2", bc.rules, nil)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if reason, tripped := g.Check(); tripped {
					b.Fatalf("a healthy canary tripped: %s", reason)
				}
			}
		})
	}
}

// BenchmarkMetricNext measures judging one measurement through the state
// machine, conditions included.
func BenchmarkMetricNext(b *testing.B) {
	m := &Metric{Name: "error-rate", SuccessCondition: "result < 0.05", FailureCondition: "result >= 0.05",
		Interval: time.Second, ConsecutiveErrorLimit: 4, Provider: ProviderSpec{Builtin: &BuiltinSpec{Metric: BuiltinErrorRate}}}
	if err := m.Compile(); err != nil {
		b.Fatal(err)
	}
	now := time.Unix(0, 0)
	st := m.Start(now)
	ms := Measurement{Value: 0.01, Samples: 100}
	b.ReportAllocs()
	for b.Loop() {
		st, _ = m.Next(st, now, ms, nil)
	}
}
