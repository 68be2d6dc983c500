package analysis

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gantry-ci/gantry/internal/deploy/proxy"
)

// replica is a real loopback server standing in for one revision's replica;
// its status code and delay can be changed while it serves.
type replica struct {
	srv    *httptest.Server
	status atomic.Int64
	delay  atomic.Int64 // nanoseconds
}

func startReplica(t testing.TB) *replica {
	t.Helper()
	r := &replica{}
	r.status.Store(http.StatusOK)
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if d := time.Duration(r.delay.Load()); d > 0 {
			time.Sleep(d)
		}
		w.WriteHeader(int(r.status.Load()))
		_, _ = io.WriteString(w, "hello")
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *replica) addr() string { return strings.TrimPrefix(r.srv.URL, "http://") }

// startProxy serves a real proxy on loopback with a stable revision r1 and
// a canary r2, each weighted as given.
func startProxy(t testing.TB, stable, canary *replica, stableWeight, canaryWeight int) (*proxy.Proxy, string) {
	t.Helper()
	p := proxy.New(proxy.Options{App: "shop", Env: "prod", Window: 20 * time.Second, Bucket: 50 * time.Millisecond})
	routes := proxy.Routes{Backends: []proxy.Backend{
		{Revision: "r1", Weight: stableWeight, Endpoints: []string{stable.addr()}},
		{Revision: "r2", Weight: canaryWeight, Endpoints: []string{canary.addr()}},
	}, Header: &proxy.HeaderRoute{Name: "X-Canary", Value: "1", Revision: "r2"}}
	if err := p.SetRoutes(routes); err != nil {
		t.Fatalf("set routes: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := proxy.Serve(ctx, "127.0.0.1:0", p, proxy.ServeOptions{ShutdownTimeout: 5 * time.Second})
	if err != nil {
		cancel()
		t.Fatalf("serve proxy: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		_ = srv.Wait()
		p.Close()
	})
	return p, "http://" + srv.Addr().String()
}

// send makes n requests through the proxy from a few goroutines; canary
// pins them to r2 with the canary header.
func send(t testing.TB, base string, n int, canary bool) {
	t.Helper()
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
	defer client.CloseIdleConnections()
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for next.Add(1) <= int64(n) {
				req, err := http.NewRequest(http.MethodGet, base+"/", nil)
				if err != nil {
					t.Error(err)
					return
				}
				if canary {
					req.Header.Set("X-Canary", "1")
				}
				resp, err := client.Do(req)
				if err != nil {
					t.Errorf("request through the proxy: %v", err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
			}
		})
	}
	wg.Wait()
}

// poll waits for cond with a deadline generous enough for a loaded machine.
func poll(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// settle waits until the proxy has recorded n requests of rev: a client
// can see its response a moment before the proxy counts it.
func settle(t testing.TB, p *proxy.Proxy, rev string, n int64) {
	t.Helper()
	poll(t, "the proxy to count the requests of "+rev, func() bool { return p.Window(rev, 10*time.Second).Requests >= n })
}
