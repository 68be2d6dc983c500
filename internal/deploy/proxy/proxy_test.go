package proxy

import (
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestWeightsSplitWithinOnePercent(t *testing.T) {
	stable1, stable2, canary := startBackend(t, "s1"), startBackend(t, "s2"), startBackend(t, "c1")
	p, url := startProxy(t, Options{App: "web", Env: "prod"})
	client := newClient(t)
	for _, w := range [][2]int{{90, 10}, {50, 50}, {99, 1}} {
		t.Run(strconv.Itoa(w[0])+"/"+strconv.Itoa(w[1]), func(t *testing.T) {
			mustSetRoutes(t, p, Routes{Backends: []Backend{
				{Revision: "stable", Weight: w[0], Endpoints: []string{stable1.addr, stable2.addr}},
				{Revision: "canary", Weight: w[1], Endpoints: []string{canary.addr}},
			}})
			const n = 10_000
			var ty tally
			hammer(client, url, n, 16, nil, &ty)
			if len(ty.failed) > 0 {
				t.Fatalf("%d of %d requests failed, first: %s", len(ty.failed), n, ty.failed[0])
			}
			for i, rev := range []string{"stable", "canary"} {
				want := n * w[i] / (w[0] + w[1])
				if got := ty.byRev[rev]; got < want-n/100 || got > want+n/100 {
					t.Errorf("%s got %d of %d requests, want %d ± 1%%", rev, got, n, want)
				}
			}
		})
	}
	if s1, s2 := stable1.hits.Load(), stable2.hits.Load(); s1 == 0 || s2 == 0 {
		t.Errorf("one stable replica got no traffic: %d and %d requests", s1, s2)
	}
}

func TestHeaderRouteReachesCanaryAtWeightZero(t *testing.T) {
	stable, canary := startBackend(t, "stable"), startBackend(t, "canary")
	p, url := startProxy(t, Options{App: "web", Env: "prod"})
	mustSetRoutes(t, p, Routes{
		Backends: []Backend{
			{Revision: "v1", Weight: 100, Endpoints: []string{stable.addr}},
			{Revision: "v2", Weight: 0, Endpoints: []string{canary.addr}},
		},
		Header: &HeaderRoute{Name: "canary", Value: "true", Revision: "v2"},
	})
	client := newClient(t)
	for i := range 200 {
		hdr := http.Header{}
		want := "v1"
		if i%2 == 0 {
			hdr.Set("Canary", "true")
			want = "v2"
		} else if i%4 == 1 {
			hdr.Set("Canary", "false")
		}
		r := get(client, url, hdr)
		if r.err != nil || r.code != 200 || r.revision != want {
			t.Fatalf("request %d (header %v): got %d from %q (%v), want 200 from %s", i, hdr, r.code, r.revision, r.err, want)
		}
	}
	if got := canary.hits.Load(); got != 100 {
		t.Errorf("canary replica served %d requests, want exactly the 100 with the header", got)
	}
}

func TestNoRoutesAnswers503(t *testing.T) {
	_, url := startProxy(t, Options{App: "web", Env: "prod"})
	r := get(newClient(t), url, nil)
	if r.err != nil || r.code != http.StatusServiceUnavailable {
		t.Fatalf("got %d (%v), want 503 before any routes are set", r.code, r.err)
	}
}

func TestRefusedEndpointFailsOverWithinRevision(t *testing.T) {
	live := startBackend(t, "live")
	dead := refusedAddr(t)
	p, url := startProxy(t, Options{App: "web", Env: "prod"})
	mustSetRoutes(t, p, Routes{Backends: []Backend{
		{Revision: "v1", Weight: 1, Endpoints: []string{dead, live.addr}},
	}})
	client := newClient(t)
	for i := range 50 {
		// POST with a body: safe to retry because the dead replica never received a byte.
		resp, err := client.Post(url, "text/plain", strings.NewReader("payload"))
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("X-Backend") != "live" {
			t.Fatalf("request %d: got %d %q from %q, want 200 from the live replica", i, resp.StatusCode, body, resp.Header.Get("X-Backend"))
		}
	}
	if s := p.Window("v1", 0); s.Requests != 50 || s.Status2xx != 50 || s.Errors5xx != 0 {
		t.Errorf("figures after failover: %+v, want 50 requests, all 2xx", s)
	}
}

func TestAllEndpointsRefusedAnswers502WithReason(t *testing.T) {
	p, url := startProxy(t, Options{App: "web", Env: "prod"})
	mustSetRoutes(t, p, Routes{Backends: []Backend{
		{Revision: "v1", Weight: 1, Endpoints: []string{refusedAddr(t), refusedAddr(t)}},
	}})
	resp, err := newClient(t).Get(url)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadGateway || !strings.Contains(string(body), "no replica accepted a connection") {
		t.Fatalf("got %d %q, want 502 saying no replica accepted a connection", resp.StatusCode, body)
	}
	if resp.Header.Get(HeaderRevision) != "v1" || resp.Header.Get(HeaderRequestID) == "" {
		t.Errorf("502 lacks revision or request ID headers: %v", resp.Header)
	}
	if s := p.Window("v1", 0); s.ProxyErrors != 1 || s.ErrorRate() != 1 {
		t.Errorf("figures: %+v, want one proxy error and error rate 1", s)
	}
}

func TestRequestIDPropagated(t *testing.T) {
	b := startBackend(t, "b")
	p, url := startProxy(t, Options{App: "web", Env: "prod"})
	mustSetRoutes(t, p, Routes{Backends: []Backend{{Revision: "v1", Weight: 1, Endpoints: []string{b.addr}}}})
	client := newClient(t)
	do := func(id string) (sent, upstream, back string) {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		if id != "" {
			req.Header.Set(HeaderRequestID, id)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.Header.Values(HeaderRequestID); len(got) != 1 {
			t.Errorf("response has %d %s headers: %v", len(got), HeaderRequestID, got)
		}
		return id, resp.Header.Get("X-Seen-Request-Id"), resp.Header.Get(HeaderRequestID)
	}
	if _, up, back := do("abc-123"); up != "abc-123" || back != "abc-123" {
		t.Errorf("client ID: upstream saw %q, response has %q, want abc-123 both", up, back)
	}
	_, up1, back1 := do("")
	_, up2, _ := do("")
	if up1 == "" || up1 != back1 || up1 == up2 {
		t.Errorf("generated IDs: upstream %q, back %q, next %q: want one non-empty ID per request, the same both ways", up1, back1, up2)
	}
	if _, up, _ := do(strings.Repeat("x", 300)); len(up) != 32 {
		t.Errorf("an overlong client ID was passed on as %q, want a fresh 32-digit one", up)
	}
	// Requests with a body take ReverseProxy's path; the ID must behave the same there.
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader("body"))
	req.Header.Set(HeaderRequestID, "post-1")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("X-Seen-Request-Id") != "post-1" || resp.Header.Values(HeaderRequestID)[0] != "post-1" || len(resp.Header.Values(HeaderRequestID)) != 1 {
		t.Errorf("POST: upstream saw %q, response has %v; want post-1 once", resp.Header.Get("X-Seen-Request-Id"), resp.Header.Values(HeaderRequestID))
	}
}

func TestHTTP2Clients(t *testing.T) {
	b := startBackend(t, "b")
	p := New(Options{App: "web", Env: "prod"})
	defer p.Close()
	mustSetRoutes(t, p, Routes{Backends: []Backend{{Revision: "v1", Weight: 1, Endpoints: []string{b.addr}}}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	t.Run("h2c", func(t *testing.T) {
		srv, err := Serve(ctx, "127.0.0.1:0", p, ServeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		protos := new(http.Protocols)
		protos.SetUnencryptedHTTP2(true)
		tr := &http.Transport{Protocols: protos}
		defer tr.CloseIdleConnections()
		checkHTTP2(t, &http.Client{Transport: tr}, "http://"+srv.Addr().String())
	})
	t.Run("tls", func(t *testing.T) {
		// httptest's certificate is valid for 127.0.0.1; only the certificate is borrowed.
		ts := httptest.NewUnstartedServer(http.NotFoundHandler())
		ts.EnableHTTP2 = true
		ts.StartTLS()
		defer ts.Close()
		srv, err := Serve(ctx, "127.0.0.1:0", p, ServeOptions{TLS: &tls.Config{Certificates: ts.TLS.Certificates}})
		if err != nil {
			t.Fatal(err)
		}
		client := ts.Client()
		checkHTTP2(t, client, "https://"+srv.Addr().String())
	})
}

func checkHTTP2(t *testing.T, c *http.Client, url string) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.ProtoMajor != 2 || resp.StatusCode != 200 || string(body) != "b" || resp.Header.Get(HeaderRevision) != "v1" {
		t.Fatalf("got %s %d %q revision %q, want HTTP/2 200 \"b\" from v1", resp.Proto, resp.StatusCode, body, resp.Header.Get(HeaderRevision))
	}
}

func TestServeShutsDownWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := Serve(ctx, "127.0.0.1:0", http.NotFoundHandler(), ServeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	done := make(chan error, 1)
	go func() { done <- srv.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("clean shutdown reported %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("server did not stop after its context ended")
	}
	if _, err := Serve(context.Background(), "256.0.0.1:0", http.NotFoundHandler(), ServeOptions{}); err == nil {
		t.Error("listening on an impossible address succeeded")
	}
}
