package proxy

import (
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
)

// failing is a real loopback replica that answers every request with code and a body of
// size bytes, as a broken canary does.
type failing struct {
	addr string
	hits atomic.Int64
}

func startFailing(t testing.TB, code, size int) *failing {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen for failing replica: %v", err)
	}
	f := &failing{addr: ln.Addr().String()}
	body := strings.Repeat("x", size)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.hits.Add(1)
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(code)
		_, _ = io.WriteString(w, body)
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return f
}

// send makes one request and returns the answer's status, revision and fallback headers.
func send(t *testing.T, c *http.Client, method, url string, hdr http.Header, body string) (code int, rev, from string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		t.Fatalf("%s %s: read body: %v", method, url, err)
	}
	return resp.StatusCode, resp.Header.Get(HeaderRevision), resp.Header.Get(HeaderFallback)
}

// canaryRoutes puts a stable revision v1 at 80% and a canary v2 at 20%, reachable by header.
func canaryRoutes(stable, canary, fallback string) Routes {
	return Routes{
		Backends: []Backend{
			{Revision: "v1", Weight: 80, Endpoints: []string{stable}},
			{Revision: "v2", Weight: 20, Endpoints: []string{canary}},
		},
		Header:   &HeaderRoute{Name: "Canary", Value: "true", Revision: "v2"},
		Fallback: fallback,
	}
}

// A canary answering 500s fails no user request while the fallback is set, yet its figures
// and metrics still show every error, which is what lets a guardrail abort it.
func TestFallbackHidesCanaryErrorsFromClientsOnly(t *testing.T) {
	for _, tc := range []struct {
		name string
		size int
	}{{"short error body", 64}, {"error body too long to keep the connection", 200 << 10}} {
		t.Run(tc.name, func(t *testing.T) {
			stable, canary := startBackend(t, "stable"), startFailing(t, http.StatusInternalServerError, tc.size)
			reg := newRegistry()
			p, url := startProxy(t, Options{App: "web", Env: "prod", Registerer: reg})
			mustSetRoutes(t, p, canaryRoutes(stable.addr, canary.addr, "v1"))
			const n = 1000
			var ty tally
			hammer(newClient(t), url, n, 8, nil, &ty)
			if len(ty.failed) > 0 {
				t.Fatalf("%d of %d requests failed for the client, first: %s", len(ty.failed), n, ty.failed[0])
			}
			if ty.byRev["v1"] != n {
				t.Errorf("clients got %d answers from v1, want all %d", ty.byRev["v1"], n)
			}
			if got := canary.hits.Load(); got != n/5 {
				t.Errorf("canary served %d requests, want its 20%% share %d", got, n/5)
			}
			waitFor(t, "v1's figures to count every answer", func() bool { return p.Window("v1", 0).Requests == n })
			c := p.Window("v2", 0)
			if c.Status5xx != n/5 || c.Requests != n/5 || c.ErrorRate() != 1 || c.Fallbacks != n/5 {
				t.Errorf("canary figures: %d requests, %d 5xx, error rate %v, %d fallbacks; want %d of each and rate 1",
					c.Requests, c.Status5xx, c.ErrorRate(), c.Fallbacks, n/5)
			}
			if s := p.Window("v1", 0); s.Fallbacks != 0 || s.Status2xx != n {
				t.Errorf("stable figures: %d 2xx, %d fallbacks; want %d and 0", s.Status2xx, s.Fallbacks, n)
			}
			if !scrapeHas(t, reg,
				`gantry_proxy_fallback_total{app="web",env="prod",revision="v2"} 200`,
				`http_requests_total{app="web",code="500",env="prod",revision="v2"} 200`,
				`http_requests_total{app="web",code="200",env="prod",revision="v1"} 1000`) {
				t.Error("metrics do not show the canary's 200 errors, the 200 fallbacks and v1's 1000 answers")
			}
		})
	}
}

// The answer the fallback gives says so, and the revisions it came from and for.
func TestFallbackAnswerIsLabelled(t *testing.T) {
	stable, canary := startBackend(t, "stable"), startFailing(t, http.StatusServiceUnavailable, 10)
	p, url := startProxy(t, Options{App: "web", Env: "prod"})
	mustSetRoutes(t, p, canaryRoutes(stable.addr, canary.addr, "v1"))
	c := newClient(t)
	labelled := 0
	for range 10 {
		code, rev, from := send(t, c, http.MethodGet, url, nil, "")
		if code != http.StatusOK || rev != "v1" {
			t.Fatalf("got %d from %q, want 200 from v1", code, rev)
		}
		if from != "" {
			labelled++
			if from != "v2" {
				t.Errorf("%s = %q, want v2", HeaderFallback, from)
			}
		}
	}
	if labelled != 2 {
		t.Errorf("%d of 10 answers carry %s, want the canary's 2", labelled, HeaderFallback)
	}
}

// What the fallback does not touch: the header route (a tester wants the canary's own
// answer), requests with bodies, 501, and a fallback that fails as well.
func TestFallbackLeavesAlone(t *testing.T) {
	c := newClient(t)
	t.Run("header-routed requests", func(t *testing.T) {
		stable, canary := startBackend(t, "stable"), startFailing(t, http.StatusInternalServerError, 10)
		p, url := startProxy(t, Options{App: "web", Env: "prod"})
		mustSetRoutes(t, p, canaryRoutes(stable.addr, canary.addr, "v1"))
		for range 5 {
			code, rev, from := send(t, c, http.MethodGet, url, http.Header{"Canary": {"true"}}, "")
			if code != http.StatusInternalServerError || rev != "v2" || from != "" {
				t.Fatalf("header-routed request: %d from %q (fallback %q), want the canary's own 500", code, rev, from)
			}
		}
		if s := p.Window("v2", 0); s.Fallbacks != 0 || s.Status5xx != 5 {
			t.Errorf("canary figures: %d 5xx, %d fallbacks; want 5 and 0", s.Status5xx, s.Fallbacks)
		}
	})
	t.Run("POST", func(t *testing.T) {
		stable, canary := startBackend(t, "stable"), startFailing(t, http.StatusInternalServerError, 10)
		p, url := startProxy(t, Options{App: "web", Env: "prod"})
		mustSetRoutes(t, p, canaryRoutes(stable.addr, canary.addr, "v1"))
		failed := 0
		for range 10 {
			code, rev, from := send(t, c, http.MethodPost, url, nil, "order=1")
			if code == http.StatusInternalServerError && rev == "v2" && from == "" {
				failed++
			}
		}
		if failed != 2 || canary.hits.Load() != 2 || stable.hits.Load() != 8 {
			t.Errorf("POST: %d canary 500s reached the client, replicas saw %d and %d; want 2, 2 and 8 (no retry)",
				failed, canary.hits.Load(), stable.hits.Load())
		}
	})
	t.Run("501", func(t *testing.T) {
		stable, canary := startBackend(t, "stable"), startFailing(t, http.StatusNotImplemented, 10)
		p, url := startProxy(t, Options{App: "web", Env: "prod"})
		mustSetRoutes(t, p, canaryRoutes(stable.addr, canary.addr, "v1"))
		seen := 0
		for range 10 {
			if code, rev, _ := send(t, c, http.MethodGet, url, nil, ""); code == http.StatusNotImplemented && rev == "v2" {
				seen++
			}
		}
		if seen != 2 {
			t.Errorf("%d of the canary's 2 answers of 501 reached the client", seen)
		}
	})
	t.Run("failing fallback", func(t *testing.T) {
		stable, canary := startFailing(t, http.StatusServiceUnavailable, 10), startFailing(t, http.StatusInternalServerError, 10)
		p, url := startProxy(t, Options{App: "web", Env: "prod"})
		mustSetRoutes(t, p, canaryRoutes(stable.addr, canary.addr, "v1"))
		for i := range 10 {
			code, rev, from := send(t, c, http.MethodGet, url, nil, "")
			if code != http.StatusServiceUnavailable || rev != "v1" {
				t.Fatalf("request %d: %d from %q (fallback %q), want the fallback's own 503", i, code, rev, from)
			}
		}
		if canary.hits.Load() != 2 || stable.hits.Load() != 10 {
			t.Errorf("replicas saw %d (canary) and %d (stable) requests, want 2 and 10: one retry per canary error", canary.hits.Load(), stable.hits.Load())
		}
		waitFor(t, "the figures of both revisions", func() bool {
			return p.Window("v1", 0).Status5xx == 10 && p.Window("v2", 0).Status5xx == 2
		})
	})
	t.Run("no fallback set", func(t *testing.T) {
		stable, canary := startBackend(t, "stable"), startFailing(t, http.StatusInternalServerError, 10)
		p, url := startProxy(t, Options{App: "web", Env: "prod"})
		mustSetRoutes(t, p, canaryRoutes(stable.addr, canary.addr, ""))
		var ty tally
		hammer(c, url, 100, 4, nil, &ty)
		if len(ty.failed) != 20 {
			t.Errorf("%d of 100 requests failed, want the canary's 20", len(ty.failed))
		}
		if s := p.Window("v2", 0); s.Fallbacks != 0 {
			t.Errorf("%d fallbacks without a fallback revision", s.Fallbacks)
		}
	})
}

func TestFallbackMustBeABackend(t *testing.T) {
	r := canaryRoutes("127.0.0.1:1001", "127.0.0.1:1002", "v3")
	if err := r.Validate(); err == nil || !strings.Contains(err.Error(), "fallback") {
		t.Errorf("Validate with an unknown fallback revision: %v, want an error about the fallback", err)
	}
	r.Fallback = "v2"
	if err := r.Validate(); err != nil {
		t.Errorf("Validate with the canary as fallback: %v", err)
	}
}
