package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

// The direct path forwards body-less requests with safe methods (nearly all of a web
// application's traffic) over the proxy's own keep-alive connections, synchronously in
// the handler's goroutine. http.Transport hands every request to two more goroutines per
// connection, which costs more than the forwarding itself; ReverseProxy remains the path
// for request bodies, upgrades and Expect, where that machinery earns its keep.

// direct reports whether r can take the direct path. Safe methods without a body can
// also be retried on a fresh connection when a reused one turns out to be dead.
func direct(r *http.Request) bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
	default:
		return false
	}
	if r.ContentLength != 0 || r.Header["Upgrade"] != nil || r.Header["Expect"] != nil {
		return false
	}
	return true
}

// hopHeaders are meaningful only on one connection and never forwarded (RFC 9110 7.6.1).
var hopHeaders = map[string]bool{
	"Connection": true, "Proxy-Connection": true, "Keep-Alive": true,
	"Proxy-Authenticate": true, "Proxy-Authorization": true, "Te": true,
	"Trailer": true, "Transfer-Encoding": true, "Upgrade": true,
}

// skipRequestHeaders are the hop-by-hop headers plus those the proxy writes itself; a
// client's X-Forwarded-* are dropped rather than trusted, as ReverseProxy does with Rewrite.
var skipRequestHeaders = map[string]bool{
	"Connection": true, "Proxy-Connection": true, "Keep-Alive": true,
	"Proxy-Authenticate": true, "Proxy-Authorization": true, "Te": true,
	"Trailer": true, "Transfer-Encoding": true, "Upgrade": true,
	"Host": true, "Forwarded": true, "X-Forwarded-For": true, "X-Forwarded-Host": true, "X-Forwarded-Proto": true,
	HeaderRequestID: true,
}

// errNoResponse is a replica closing a fresh connection without answering.
var errNoResponse = errors.New("replica closed the connection without a response")

// forwardDirect sends the request over a pooled connection and copies the response back.
func (p *Proxy) forwardDirect(w http.ResponseWriter, r *http.Request, c *call) {
	ctx := r.Context()
	for {
		c.n++
		uc, reused, err := c.ep.pool.get(ctx, c.ep.addr, c.begin)
		if err != nil {
			switch {
			case ctx.Err() != nil:
			case p.failover(c):
				continue
			default:
				p.fail(w, c, fmt.Errorf("%w (%d tried): %w", errNoEndpoint, c.n, err))
			}
			return
		}
		retry, fellBack, err := p.exchange(w, r, c, uc)
		switch {
		case fellBack && ctx.Err() == nil:
			if p.fallBack(c) {
				continue
			}
			p.fail(w, c, errNoEndpoint)
		case err == nil || ctx.Err() != nil:
		case retry && reused:
			// A keep-alive connection the replica had closed, most likely because it
			// restarted: its other idle connections are just as dead.
			c.ep.pool.closeIdle()
			continue
		case retry && p.failover(c):
			continue
		default:
			p.fail(w, c, err)
		}
		return
	}
}

// failover marks the current replica down and moves the call to another replica of the
// same revision; false when none is left.
func (p *Proxy) failover(c *call) bool {
	c.ep.downUntil.Store(int64(p.now().Sub(p.start) + downFor))
	if c.idx < 64 {
		c.tried |= 1 << uint(c.idx)
	}
	c.ep.inflight.Add(-1)
	c.ep = nil
	return c.n <= len(c.rt.eps)+1 && p.acquire(c)
}

// exchange does one request/response on uc. retry reports a failure before any byte of a
// response arrived, which is safe to repeat for the methods this path takes. fellBack
// reports a server error that was not passed on because the fallback revision is to answer.
func (p *Proxy) exchange(w http.ResponseWriter, r *http.Request, c *call, uc *upstreamConn) (retry, fellBack bool, err error) {
	// A client that goes away must not leave the handler blocked on a slow replica.
	stop := context.AfterFunc(r.Context(), func() { _ = uc.nc.SetDeadline(time.Unix(1, 0)) })
	keep := false
	defer func() {
		if !stop() || !keep {
			_ = uc.nc.Close()
		} else {
			c.ep.pool.put(uc, c.begin)
		}
	}()

	writeRequest(uc, r, c.id)
	if err := uc.bw.Flush(); err != nil {
		return true, false, fmt.Errorf("send request to replica %s: %w", c.ep.addr, err)
	}
	if _, err := uc.br.Peek(1); err != nil {
		return true, false, fmt.Errorf("read response from replica %s: %w", c.ep.addr, errNoResponse)
	}
	resp, err := http.ReadResponse(uc.br, r)
	for err == nil && resp.StatusCode >= 100 && resp.StatusCode < 200 {
		if resp.StatusCode == http.StatusSwitchingProtocols {
			return false, false, fmt.Errorf("replica %s switched protocols without being asked", c.ep.addr)
		}
		if resp.StatusCode != http.StatusContinue { // e.g. 103 Early Hints: pass it on
			h := w.Header()
			copyResponseHeader(h, resp.Header)
			w.WriteHeader(resp.StatusCode)
			clear(h)
		}
		resp, err = http.ReadResponse(uc.br, r)
	}
	if err != nil {
		return false, false, fmt.Errorf("read response from replica %s: %w", c.ep.addr, err)
	}
	if p.shouldFallBack(c, resp.StatusCode) {
		c.code = resp.StatusCode
		keep = discard(resp) && !resp.Close
		return false, true, nil
	}

	h := w.Header()
	copyResponseHeader(h, resp.Header)
	h[HeaderRequestID] = []string{c.id}
	h[HeaderRevision] = c.rt.rev.header
	if c.from != nil {
		h[HeaderFallback] = c.from.header
	}
	if len(resp.Trailer) > 0 {
		names := make([]string, 0, len(resp.Trailer))
		for k := range resp.Trailer {
			names = append(names, k)
		}
		h["Trailer"] = []string{strings.Join(names, ", ")}
	}
	c.code = resp.StatusCode
	w.WriteHeader(resp.StatusCode)

	if resp.Body != http.NoBody {
		if err := p.copyBody(w, resp); err != nil {
			if r.Context().Err() != nil || errors.Is(err, errClientWrite) {
				return false, false, nil // the client left; nothing more to tell it
			}
			// Headers are out: the only honest signal left is to cut the response.
			c.fail = true
			p.log.Warn("replica failed mid-response", "revision", c.rt.rev.name, "request_id", c.id, "replica", c.ep.addr, "err", err)
			panic(http.ErrAbortHandler)
		}
	}
	for k, vv := range resp.Trailer {
		h[k] = vv
	}
	keep = !resp.Close
	return false, false, nil
}

var errClientWrite = errors.New("write to client")

// copyBody streams the body, flushing after every read when the length is unknown (server
// sent events, long polls) so the client sees each piece as the replica sends it.
func (p *Proxy) copyBody(w http.ResponseWriter, resp *http.Response) error {
	buf := p.bufs.Get()
	defer p.bufs.Put(buf)
	flush := resp.ContentLength < 0
	var flusher http.Flusher
	if flush {
		flusher, _ = w.(http.Flusher)
	}
	for {
		n, rerr := resp.Body.Read(buf)
		if n > 0 {
			if _, err := w.Write(buf[:n]); err != nil {
				return fmt.Errorf("%w: %w", errClientWrite, err)
			}
			if flusher != nil {
				flusher.Flush()
			}
		}
		if rerr == io.EOF {
			return nil
		}
		if rerr != nil {
			return rerr
		}
	}
}

func copyResponseHeader(dst, src http.Header) {
	conn := src["Connection"]
	for k, vv := range src {
		if hopHeaders[k] {
			continue
		}
		if conn != nil && listed(conn, k) {
			continue
		}
		dst[k] = vv
	}
}

// listed reports whether a Connection header names the header key.
func listed(conn []string, key string) bool {
	for _, v := range conn {
		for f := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(f), key) {
				return true
			}
		}
	}
	return false
}

// writeRequest writes the request head in HTTP/1.1 form straight from the client's
// request, dropping hop-by-hop headers and adding the forwarding ones, without building
// an outgoing request.
func writeRequest(uc *upstreamConn, r *http.Request, id string) {
	bw := uc.bw
	bw.WriteString(r.Method)
	bw.WriteByte(' ')
	if uri := r.RequestURI; uri != "" && (uri[0] == '/' || uri == "*") {
		writeClean(bw, uri)
	} else {
		writeClean(bw, r.URL.RequestURI())
	}
	bw.WriteString(" HTTP/1.1\r\nHost: ")
	writeClean(bw, r.Host)
	bw.WriteString("\r\n")
	conn := r.Header["Connection"]
	for k, vv := range r.Header {
		if skipRequestHeaders[k] || (conn != nil && listed(conn, k)) {
			continue
		}
		for _, v := range vv {
			bw.WriteString(k)
			bw.WriteString(": ")
			writeClean(bw, v)
			bw.WriteString("\r\n")
		}
	}
	if ip, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		bw.WriteString("X-Forwarded-For: ")
		writeClean(bw, ip)
		bw.WriteString("\r\n")
	}
	bw.WriteString("X-Request-Id: ")
	bw.WriteString(id) // validated or made by the proxy: nothing to clean
	bw.WriteString("\r\nX-Forwarded-Host: ")
	writeClean(bw, r.Host)
	if r.TLS != nil {
		bw.WriteString("\r\nX-Forwarded-Proto: https\r\n\r\n")
	} else {
		bw.WriteString("\r\nX-Forwarded-Proto: http\r\n\r\n")
	}
}

// writeClean writes s with any CR or LF turned into a space, as net/http does for header
// values, so nothing a client sent can split the request line or a header.
func writeClean(bw interface {
	WriteString(string) (int, error)
	WriteByte(byte) error
}, s string) {
	if !strings.ContainsAny(s, "\r\n") {
		bw.WriteString(s)
		return
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '\r' || c == '\n' {
			bw.WriteByte(' ')
		} else {
			bw.WriteByte(c)
		}
	}
}
