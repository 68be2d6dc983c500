package proxy

import (
	"context"

	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// backend is a real loopback HTTP server standing in for a replica. It answers with its
// name, echoes the request ID it received, and obeys ?sleep=DURATION and ?status=CODE.
type backend struct {
	name string
	addr string
	srv  *http.Server
	hits atomic.Int64
}

func startBackend(t testing.TB, name string) *backend {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen for backend %s: %v", name, err)
	}
	b := &backend{name: name, addr: ln.Addr().String()}
	b.srv = &http.Server{Handler: http.HandlerFunc(b.serve)}
	go func() { _ = b.srv.Serve(ln) }()
	t.Cleanup(func() { _ = b.srv.Close() })
	return b
}

func (b *backend) serve(w http.ResponseWriter, r *http.Request) {
	b.hits.Add(1)
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, r.Body)
	}
	if d, err := time.ParseDuration(r.URL.Query().Get("sleep")); err == nil {
		time.Sleep(d)
	}
	w.Header().Set("X-Backend", b.name)
	w.Header().Set("X-Seen-Request-Id", r.Header.Get(HeaderRequestID))
	if code, err := strconv.Atoi(r.URL.Query().Get("status")); err == nil {
		w.WriteHeader(code)
	}
	_, _ = io.WriteString(w, b.name)
}

// refusedAddr returns a loopback address nobody listens on: connections to it are refused.
func refusedAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

// startProxy serves a new proxy on loopback and returns it with its base URL.
func startProxy(t testing.TB, opts Options) (*Proxy, string) {
	t.Helper()
	p := New(opts)
	ctx, cancel := context.WithCancel(context.Background())
	// Longer than the 5 s for which net/http waits on a connection that
	// never sent a request (a client's spare dial) before closing it.
	srv, err := Serve(ctx, "127.0.0.1:0", p, ServeOptions{ShutdownTimeout: 15 * time.Second})
	if err != nil {
		t.Fatalf("serve proxy: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		if err := srv.Wait(); err != nil {
			t.Errorf("proxy server: %v", err)
		}
		p.Close()
	})
	return p, "http://" + srv.Addr().String()
}

func mustSetRoutes(t testing.TB, p *Proxy, r Routes) {
	t.Helper()
	if err := p.SetRoutes(r); err != nil {
		t.Fatalf("SetRoutes: %v", err)
	}
}

func newClient(t testing.TB) *http.Client {
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// result is what a test keeps of one response.
type result struct {
	code     int
	revision string
	backend  string
	err      error
}

func get(c *http.Client, url string, hdr http.Header) result {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return result{err: err}
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := c.Do(req)
	if err != nil {
		return result{err: err}
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return result{err: fmt.Errorf("read body: %w", err)}
	}
	return result{code: resp.StatusCode, revision: resp.Header.Get(HeaderRevision), backend: resp.Header.Get("X-Backend")}
}

// tally counts responses by revision and collects failures.
type tally struct {
	mu     sync.Mutex
	byRev  map[string]int
	total  int
	failed []string
}

func (ty *tally) add(r result) {
	ty.mu.Lock()
	defer ty.mu.Unlock()
	if ty.byRev == nil {
		ty.byRev = make(map[string]int)
	}
	ty.total++
	switch {
	case r.err != nil:
		ty.failed = append(ty.failed, r.err.Error())
	case r.code < 200 || r.code > 299:
		ty.failed = append(ty.failed, fmt.Sprintf("status %d from %q", r.code, r.revision))
	default:
		ty.byRev[r.revision]++
	}
}

func (ty *tally) count() int {
	ty.mu.Lock()
	defer ty.mu.Unlock()
	return ty.total
}

// hammer sends n requests (n < 0: until stop is closed) from conc goroutines.
func hammer(c *http.Client, url string, n, conc int, stop <-chan struct{}, ty *tally) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				if n >= 0 && next.Add(1) > int64(n) {
					return
				}
				if stop != nil {
					select {
					case <-stop:
						return
					default:
					}
				}
				ty.add(get(c, url, nil))
			}
		}()
	}
	wg.Wait()
}

// waitFor polls cond until it holds or a generous deadline passes.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
