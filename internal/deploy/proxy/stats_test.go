package proxy

import (
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// movableClock lets a test jump the proxy's clock forward; real time still passes, so
// latencies measured across a request stay real.
func movableClock(p *Proxy) *atomic.Int64 {
	var off atomic.Int64
	p.now = func() time.Time { return time.Now().Add(time.Duration(off.Load())) }
	return &off
}

func TestStatsQuantilesFromKnownLatencies(t *testing.T) {
	b := startBackend(t, "b")
	p, url := startProxy(t, Options{App: "web", Env: "prod", Window: 10 * time.Second, Bucket: 100 * time.Millisecond})
	off := movableClock(p)
	mustSetRoutes(t, p, Routes{Backends: []Backend{{Revision: "v1", Weight: 1, Endpoints: []string{b.addr}}}})
	client := newClient(t)
	send := func(n int, query string) {
		t.Helper()
		var wg sync.WaitGroup
		errs := make(chan string, n)
		var next atomic.Int64
		for range min(n, 8) { // few enough clients that queueing does not blur the latencies
			wg.Add(1)
			go func() {
				defer wg.Done()
				for next.Add(1) <= int64(n) {
					if r := get(client, url+"/?"+query, nil); r.err != nil {
						errs <- r.err.Error()
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for e := range errs {
			t.Fatalf("request failed: %s", e)
		}
	}
	// 80 fast and 20 slow requests, the slow ones a second later on the proxy's clock, so
	// they land in different buckets and the quantiles need a real merge.
	send(80, "sleep=10ms")
	waitFor(t, "80 requests recorded", func() bool { return p.Window("v1", 0).Requests == 80 })
	off.Add(int64(time.Second))
	send(20, "sleep=200ms")
	waitFor(t, "100 requests recorded", func() bool { return p.Window("v1", 0).Requests == 100 })

	s := p.Window("v1", 0)
	checks := []struct {
		q      float64
		lo, hi time.Duration
	}{
		{0.50, 10 * time.Millisecond, 100 * time.Millisecond},
		{0.75, 10 * time.Millisecond, 100 * time.Millisecond},
		{0.95, 200 * time.Millisecond, 600 * time.Millisecond},
		{0.99, 200 * time.Millisecond, 600 * time.Millisecond},
	}
	for _, c := range checks {
		if got := s.Quantile(c.q); got < c.lo || got >= c.hi {
			t.Errorf("p%g = %v, want in [%v, %v)", c.q*100, got, c.lo, c.hi)
		}
	}
	if s.Status2xx != 100 || s.ErrorRate() != 0 || s.RequestRate() <= 0 {
		t.Errorf("figures %+v: want 100 2xx, no errors, a positive rate", s)
	}
	// The last half second holds only the slow requests.
	if recent := p.Window("v1", 500*time.Millisecond); recent.Requests != 20 || recent.Quantile(0.5) < 200*time.Millisecond {
		t.Errorf("last 500ms: %d requests, p50 %v; want the 20 slow ones only", recent.Requests, recent.Quantile(0.5))
	}

	send(6, "status=500")
	send(3, "status=404")
	send(1, "status=302")
	waitFor(t, "110 requests recorded", func() bool { return p.Window("v1", 0).Requests == 110 })
	s = p.Window("v1", 0)
	if s.Status5xx != 6 || s.Status4xx != 3 || s.Status3xx != 1 || s.Errors5xx != 6 {
		t.Errorf("status classes %+v, want 6 5xx, 3 4xx, 1 3xx", s)
	}
	if want := 6.0 / 110; math.Abs(s.ErrorRate()-want) > 1e-9 {
		t.Errorf("error rate %v, want %v", s.ErrorRate(), want)
	}

	off.Add(int64(11 * time.Second)) // past the whole window
	if s := p.Window("v1", 0); s.Requests != 0 || s.Quantile(0.99) != 0 {
		t.Errorf("after the window slid past: %d requests, p99 %v; want none", s.Requests, s.Quantile(0.99))
	}
	if s := p.Window("nonesuch", 0); s.Requests != 0 || s.Revision != "nonesuch" {
		t.Errorf("unknown revision: %+v", s)
	}
}

func TestWindowSlidesAndRates(t *testing.T) {
	ms := int64(time.Millisecond)
	w := newWindow(time.Second, 100*time.Millisecond)
	for i := range 10 {
		w.record(50*ms, class2xx, time.Duration(i+1)*time.Millisecond)
		w.record(550*ms, class5xx, 100*time.Millisecond)
	}
	tests := []struct {
		name     string
		now      int64
		d        time.Duration
		requests int64
		errors   int64
	}{
		{"whole window", 600 * ms, time.Second, 20, 10},
		{"latest bucket only", 600 * ms, 100 * time.Millisecond, 10, 10},
		{"first bucket still in", 1000 * ms, time.Second, 20, 10},
		{"first bucket dropped out", 1150 * ms, time.Second, 10, 10},
		{"all dropped out", 1700 * ms, time.Second, 0, 0},
		{"ring wrapped far ahead", 60_000 * ms, time.Second, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := w.read(tc.now, tc.d)
			if s.Requests != tc.requests || s.Errors5xx != tc.errors {
				t.Errorf("got %d requests, %d errors; want %d, %d", s.Requests, s.Errors5xx, tc.requests, tc.errors)
			}
		})
	}

	// A new request in a reused ring slot must not resurrect the old slot's counts.
	w.record(1050*ms, class2xx, time.Millisecond) // slot 10 reuses slot 0's place (ring of 11)
	if s := w.read(1100*ms, time.Second); s.Requests != 11 {
		t.Errorf("after reusing a slot: %d requests, want 11 (10 errors + 1 new)", s.Requests)
	}

	// 100 requests a second for 10 seconds.
	r := newWindow(10*time.Second, 100*time.Millisecond)
	for i := range 1000 {
		r.record(int64(i)*10*ms, class2xx, time.Millisecond)
	}
	if got := r.read(10_000*ms, 10*time.Second).RequestRate(); math.Abs(got-100) > 2 {
		t.Errorf("request rate %v, want 100/s", got)
	}
	if got := r.read(10_000*ms, time.Second).RequestRate(); math.Abs(got-100) > 10 {
		t.Errorf("request rate over the last second %v, want about 100/s", got)
	}
}

func TestSubscribeSignalsPerBatch(t *testing.T) {
	b := startBackend(t, "b")
	p, url := startProxy(t, Options{App: "web", Env: "prod"})
	mustSetRoutes(t, p, Routes{Backends: []Backend{{Revision: "v1", Weight: 1, Endpoints: []string{b.addr}}}})
	ch, cancel := p.Subscribe()
	defer cancel()
	client := newClient(t)
	wait := func(what string) {
		t.Helper()
		select {
		case <-ch:
		case <-time.After(20 * time.Second):
			t.Fatalf("no signal after %s", what)
		}
	}
	for range 3 { // fewer than a batch: the batch delay must still deliver a signal
		get(client, url, nil)
	}
	wait("a small batch")
	for range batchSize {
		get(client, url, nil)
	}
	wait("a full batch")

	// After cancel the channel gets nothing more, even on full batches.
	n := newNotifier()
	sub, stop := n.subscribe()
	stop()
	stop() // a second cancel is harmless
	for range 3 * batchSize {
		n.done()
	}
	select {
	case <-sub:
		t.Error("a cancelled subscription was signalled")
	default:
	}
	// A subscriber that does not read gets one coalesced signal, and requests never block.
	sub, stop = n.subscribe()
	defer stop()
	for range 5 * batchSize {
		n.done()
	}
	if len(sub) != 1 {
		t.Errorf("unread subscription holds %d signals, want 1", len(sub))
	}
}

func TestMetricsExposedWithLabels(t *testing.T) {
	b := startBackend(t, "b")
	reg := newRegistry()
	m, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	// Staging gets the shared Metrics; prod registers through the registry and must find
	// the same collectors rather than failing.
	staging, stagingURL := startProxy(t, Options{App: "web", Env: "staging", Metrics: m, Window: time.Second})
	prod, prodURL := startProxy(t, Options{App: "web", Env: "prod", Registerer: reg})
	off := movableClock(staging)
	routes := Routes{Backends: []Backend{{Revision: "v1", Weight: 1, Endpoints: []string{b.addr}}}}
	mustSetRoutes(t, staging, routes)
	mustSetRoutes(t, prod, routes)
	client := newClient(t)
	for range 3 {
		get(client, stagingURL, nil)
	}
	get(client, prodURL, nil)
	get(client, prodURL, nil)
	get(client, prodURL+"/?status=503", nil)

	want := []string{
		`http_requests_total{app="web",code="200",env="staging",revision="v1"} 3`,
		`http_requests_total{app="web",code="200",env="prod",revision="v1"} 2`,
		`http_requests_total{app="web",code="503",env="prod",revision="v1"} 1`,
		`http_request_duration_seconds_count{app="web",env="prod",revision="v1"} 3`,
		`http_request_duration_seconds_bucket{app="web",env="staging",revision="v1",le="+Inf"} 3`,
	}
	waitFor(t, "metrics with the right labels", func() bool { return scrapeHas(t, reg, want...) })

	// Once v1 has left staging's table and been idle a whole window, its series go.
	mustSetRoutes(t, staging, Routes{Backends: []Backend{{Revision: "v2", Weight: 1, Endpoints: []string{b.addr}}}})
	off.Add(int64(2 * time.Second))
	mustSetRoutes(t, staging, Routes{Backends: []Backend{{Revision: "v2", Weight: 2, Endpoints: []string{b.addr}}}})
	if scrapeHas(t, reg, `env="staging",revision="v1"`) {
		t.Error("series of a revision gone for a whole window are still exported")
	}
	if !scrapeHas(t, reg, `http_requests_total{app="web",code="200",env="prod",revision="v1"} 2`) {
		t.Error("forgetting staging's v1 removed prod's v1 too")
	}
}

// TestWindowGroupsMatchBruteForce reads a long-running window at many moments and spans
// and compares with counting the recorded requests one by one, so the merged groups can
// never drift from the buckets they summarise.
func TestWindowGroupsMatchBruteForce(t *testing.T) {
	type event struct {
		at  int64
		c   class
		lat time.Duration
	}
	width := int64(DefaultBucket)
	w := newWindow(DefaultWindow, DefaultBucket)
	rng := rand.New(rand.NewPCG(1, 2))
	var events []event
	now := int64(0)
	for step := range 4000 {
		now += rng.Int64N(int64(80 * time.Millisecond))
		ev := event{at: now, c: class(rng.IntN(int(numClasses))), lat: time.Duration(1+rng.IntN(500)) * time.Millisecond}
		w.record(ev.at, ev.c, ev.lat)
		events = append(events, ev)
		if step%97 != 0 {
			continue
		}
		for _, d := range []time.Duration{time.Second, 7 * time.Second, 30 * time.Second, DefaultWindow} {
			got := w.read(now, d)
			cur, lo := now/width, max((now-int64(d))/width, 0)
			want := newHist()
			var n, errs int64
			for _, e := range events {
				if s := e.at / width; s >= lo && s <= cur {
					n++
					_ = want.RecordValue(e.lat.Microseconds())
					if e.c == class5xx || e.c == classProxyError {
						errs++
					}
				}
			}
			if got.Requests != n || got.Errors5xx != errs {
				t.Fatalf("at %v over %v: %d requests, %d errors; want %d, %d", time.Duration(now), d, got.Requests, got.Errors5xx, n, errs)
			}
			for _, q := range []float64{0.5, 0.95, 0.99} {
				if g, w := got.Quantile(q), time.Duration(want.ValueAtQuantile(q*100))*time.Microsecond; g != w && n > 0 {
					t.Fatalf("at %v over %v: p%g %v, want %v", time.Duration(now), d, q*100, g, w)
				}
			}
		}
	}
}
