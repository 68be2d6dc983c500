package proxy

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestRolloutUnderLoadFailsNoRequest shifts weights back and forth and takes a replica
// out (routes, drain, stop) while clients keep sending: not one request may fail.
func TestRolloutUnderLoadFailsNoRequest(t *testing.T) {
	a1, a2, b1 := startBackend(t, "a1"), startBackend(t, "a2"), startBackend(t, "b1")
	p, url := startProxy(t, Options{App: "web", Env: "prod"})
	routes := func(wa, wb int, aEps ...string) Routes {
		return Routes{Backends: []Backend{
			{Revision: "a", Weight: wa, Endpoints: aEps},
			{Revision: "b", Weight: wb, Endpoints: []string{b1.addr}},
		}}
	}
	mustSetRoutes(t, p, routes(90, 10, a1.addr, a2.addr))

	var ty tally
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		// A little work per request keeps several in flight at every moment of the switch.
		hammer(newClient(t), url+"/?sleep=1ms", -1, 8, stop, &ty)
	}()
	served := func(n int64) func() bool { return func() bool { return a2.hits.Load() >= n } }
	waitFor(t, "traffic on replica a2", served(20))

	for _, w := range [][2]int{{50, 50}, {0, 100}, {100, 0}, {10, 90}, {90, 10}} {
		mustSetRoutes(t, p, routes(w[0], w[1], a1.addr, a2.addr))
		n := ty.count()
		waitFor(t, "traffic after a weight switch", func() bool { return ty.count() > n+100 })
	}
	mustSetRoutes(t, p, routes(90, 10, a1.addr)) // a2 leaves the table
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := p.Drain(ctx, a2.addr); err != nil {
		t.Fatalf("drain: %v", err)
	}
	if err := a2.srv.Close(); err != nil { // abrupt: any request still on it would fail
		t.Fatalf("stop replica a2: %v", err)
	}
	n := ty.count()
	waitFor(t, "traffic after the replica stopped", func() bool { return ty.count() > n+200 })
	close(stop)
	<-done

	if len(ty.failed) > 0 {
		t.Fatalf("%d of %d requests failed during the rollout, first: %s", len(ty.failed), ty.total, ty.failed[0])
	}
	if sa, sb := p.Window("a", 0), p.Window("b", 0); sa.Errors5xx+sb.Errors5xx != 0 || sa.Requests+sb.Requests != int64(ty.total) {
		t.Errorf("figures disagree with the clients: a %+v, b %+v, clients sent %d", sa, sb, ty.total)
	}
}

// TestDrainWaitsForRequestInFlight holds a request on a replica, removes the replica and
// checks that Drain returns only once that request is done.
func TestDrainWaitsForRequestInFlight(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	slow := startBackend(t, "slow")
	slow.srv.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-release
		_, _ = w.Write([]byte("late"))
	})
	fast := startBackend(t, "fast")
	p, url := startProxy(t, Options{App: "web", Env: "prod"})
	mustSetRoutes(t, p, Routes{Backends: []Backend{{Revision: "v1", Weight: 1, Endpoints: []string{slow.addr}}}})

	if err := p.Drain(context.Background(), slow.addr); err == nil || !strings.Contains(err.Error(), "still in the routes") {
		t.Fatalf("draining a routed endpoint: got %v, want a refusal", err)
	}
	got := make(chan result, 1)
	go func() { got <- get(newClient(t), url, nil) }()
	<-entered
	mustSetRoutes(t, p, Routes{Backends: []Backend{{Revision: "v1", Weight: 1, Endpoints: []string{fast.addr}}}})

	short, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	err := p.Drain(short, slow.addr)
	cancel()
	if err == nil || !strings.Contains(err.Error(), "1 requests still in flight") {
		t.Fatalf("drain with a request held: got %v, want a timeout naming the request in flight", err)
	}
	close(release)
	if err := p.Drain(context.Background(), slow.addr); err != nil {
		t.Fatalf("drain after the request finished: %v", err)
	}
	if r := <-got; r.err != nil || r.code != 200 {
		t.Fatalf("held request: %d %v, want 200", r.code, r.err)
	}
	if err := p.Drain(context.Background(), "127.0.0.1:1"); err != nil {
		t.Errorf("draining an endpoint never seen: %v, want nil", err)
	}
}

// TestSetRoutesIsAtomic checks that concurrent readers only ever see complete tables.
func TestSetRoutesIsAtomic(t *testing.T) {
	p := New(Options{})
	defer p.Close()
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				tb := p.table.Load()
				if tb.weighted > 0 && len(tb.routes) != 2 {
					t.Errorf("saw a table with %d routes", len(tb.routes))
					return
				}
				if rt := tb.pick(nil); rt != nil && len(rt.eps) == 0 {
					t.Error("picked a revision without endpoints")
					return
				}
			}
		}()
	}
	for i := range 200 {
		mustSetRoutes(t, p, Routes{Backends: []Backend{
			{Revision: "a", Weight: i%7 + 1, Endpoints: []string{"127.0.0.1:1001"}},
			{Revision: "b", Weight: i % 3, Endpoints: []string{"127.0.0.1:1002", "127.0.0.1:1003"}},
		}})
	}
	close(stop)
	wg.Wait()
}
