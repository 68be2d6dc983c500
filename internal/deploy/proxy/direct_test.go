package proxy

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// startRawBackend serves each connection with handle, for replicas that misbehave at the
// connection level in ways net/http's server will not.
func startRawBackend(t *testing.T, handle func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go handle(c)
		}
	}()
	return ln.Addr().String()
}

func TestReplicaClosingKeepAliveConnectionsFailsNoRequest(t *testing.T) {
	// Each connection answers one request as if it would stay open, then closes: the
	// proxy's next request on it finds it dead and must quietly use a new one.
	addr := startRawBackend(t, func(c net.Conn) {
		defer c.Close()
		req, err := http.ReadRequest(bufio.NewReader(c))
		if err != nil {
			return
		}
		_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Path: "+req.URL.Path+"\r\n\r\nok")
		time.Sleep(5 * time.Millisecond) // let the proxy pool the connection first
	})
	p, url := startProxy(t, Options{App: "web", Env: "prod"})
	mustSetRoutes(t, p, Routes{Backends: []Backend{{Revision: "v1", Weight: 1, Endpoints: []string{addr}}}})
	client := newClient(t)
	for i := range 30 {
		if r := get(client, url+"/x", nil); r.err != nil || r.code != 200 {
			t.Fatalf("request %d: %d %v, want 200", i, r.code, r.err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestDirectPathFailsOverAndStreams(t *testing.T) {
	release := make(chan struct{})
	b := startBackend(t, "b")
	b.srv.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/events": // server-sent events: the first must arrive before the stream ends
			w.Header().Set("Content-Type", "text/event-stream")
			_, _ = io.WriteString(w, "data: one\n\n")
			w.(http.Flusher).Flush()
			<-release
			_, _ = io.WriteString(w, "data: two\n\n")
		case "/trailer":
			w.Header().Set("Trailer", "X-Checksum")
			_, _ = io.WriteString(w, "body")
			w.Header().Set("X-Checksum", "abc")
		case "/big":
			_, _ = w.Write(bytes.Repeat([]byte("0123456789abcdef"), 1<<16))
		case "/echo":
			// Read first: Go's HTTP/1 server is not full duplex, and a
			// handler that writes while reading may lose the body's end.
			body, _ := io.ReadAll(r.Body)
			_, _ = w.Write(body)
		case "/headers":
			w.Header().Set("Connection", "X-Internal")
			w.Header().Set("X-Internal", "secret")
			w.Header().Set("X-Saw-Secret", r.Header.Get("X-Secret"))
			w.Header().Set("X-Saw-Forwarded-For", strings.Join(r.Header.Values("X-Forwarded-For"), ";"))
			w.Header().Set("X-Saw-Host", r.Host)
		}
	})
	p, url := startProxy(t, Options{App: "web", Env: "prod"})
	mustSetRoutes(t, p, Routes{Backends: []Backend{{Revision: "v1", Weight: 1, Endpoints: []string{refusedAddr(t), b.addr}}}})
	client := newClient(t)

	t.Run("GET fails over", func(t *testing.T) {
		for i := range 20 {
			if r := get(client, url+"/trailer", nil); r.err != nil || r.code != 200 {
				t.Fatalf("request %d: %d %v", i, r.code, r.err)
			}
		}
	})
	t.Run("events stream", func(t *testing.T) {
		resp, err := client.Get(url + "/events")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		line, err := bufio.NewReader(resp.Body).ReadString('\n')
		if err != nil || line != "data: one\n" {
			t.Fatalf("first event: %q %v", line, err)
		}
		close(release)
	})
	t.Run("trailers and HEAD", func(t *testing.T) {
		resp, err := client.Get(url + "/trailer")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(body) != "body" || resp.Trailer.Get("X-Checksum") != "abc" {
			t.Errorf("got body %q trailer %v, want \"body\" and X-Checksum abc", body, resp.Trailer)
		}
		resp, err = client.Head(url + "/big")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get(HeaderRevision) != "v1" {
			t.Errorf("HEAD: %d %v", resp.StatusCode, resp.Header)
		}
	})
	t.Run("large bodies intact both ways", func(t *testing.T) {
		want := sha256.Sum256(bytes.Repeat([]byte("0123456789abcdef"), 1<<16))
		resp, err := client.Get(url + "/big")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if sha256.Sum256(body) != want {
			t.Errorf("GET /big: %d bytes arrived altered", len(body))
		}
		resp, err = client.Post(url+"/echo", "application/octet-stream", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		echo, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if sha256.Sum256(echo) != want {
			t.Errorf("POST /echo: %d bytes came back altered", len(echo))
		}
	})
	t.Run("hop-by-hop and forwarding headers", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodGet, url+"/headers", nil)
		req.Header.Set("Connection", "X-Secret")
		req.Header.Set("X-Secret", "1")
		req.Header.Set("X-Forwarded-For", "6.6.6.6")
		req.Host = "app.example"
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		h := resp.Header
		if h.Get("X-Saw-Secret") != "" || h.Get("X-Internal") != "" {
			t.Errorf("hop-by-hop headers crossed the proxy: %v", h)
		}
		if h.Get("X-Saw-Forwarded-For") != "127.0.0.1" || h.Get("X-Saw-Host") != "app.example" {
			t.Errorf("replica saw X-Forwarded-For %q and Host %q, want 127.0.0.1 and app.example", h.Get("X-Saw-Forwarded-For"), h.Get("X-Saw-Host"))
		}
	})
}

func TestClientGoneCancelsUpstream(t *testing.T) {
	entered, upstreamGone := make(chan struct{}), make(chan struct{})
	b := startBackend(t, "b")
	b.srv.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-r.Context().Done() // only the proxy closing its connection ends this
		close(upstreamGone)
	})
	p, url := startProxy(t, Options{App: "web", Env: "prod"})
	mustSetRoutes(t, p, Routes{Backends: []Backend{{Revision: "v1", Weight: 1, Endpoints: []string{b.addr}}}})
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	go func() {
		<-entered
		cancel()
	}()
	if _, err := newClient(t).Do(req); !errors.Is(err, context.Canceled) {
		t.Fatalf("client error %v, want canceled", err)
	}
	select {
	case <-upstreamGone:
	case <-time.After(20 * time.Second):
		t.Fatal("the replica's request was not cancelled after the client left")
	}
	waitFor(t, "the abandoned request recorded", func() bool { return p.Window("v1", 0).Canceled == 1 })
	if s := p.Window("v1", 0); s.Errors5xx != 0 {
		t.Errorf("a client leaving counted as a server error: %+v", s)
	}
}

func TestReplicaDyingMidResponseCutsTheResponse(t *testing.T) {
	addr := startRawBackend(t, func(c net.Conn) {
		defer c.Close()
		if _, err := http.ReadRequest(bufio.NewReader(c)); err != nil {
			return
		}
		_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten b")
	})
	p, url := startProxy(t, Options{App: "web", Env: "prod"})
	mustSetRoutes(t, p, Routes{Backends: []Backend{{Revision: "v1", Weight: 1, Endpoints: []string{addr}}}})
	resp, err := newClient(t).Get(url)
	if err == nil {
		_, err = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	if err == nil {
		t.Fatal("a truncated response reached the client as if complete")
	}
	waitFor(t, "the failure recorded", func() bool { return p.Window("v1", 0).ProxyErrors == 1 })
}
