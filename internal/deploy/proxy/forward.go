package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"sync"
	"sync/atomic"
	"time"
)

// Header names the proxy reads or sets.
const (
	HeaderRequestID = "X-Request-Id"
	HeaderRevision  = "X-Gantry-Revision"
	// HeaderFallback names the revision whose server error the fallback revision (named
	// by X-Gantry-Revision) answered for.
	HeaderFallback = "X-Gantry-Fallback"
)

// downFor is how long a replica that refused a connection is passed over while others
// of its revision are available: long enough to spare the requests right behind a failed
// dial, short enough that a restarted replica is back in use quickly.
const downFor = time.Second

// statusClientClosed is nginx's code for a request the client abandoned; it only ever
// appears in metrics, never on the wire.
const statusClientClosed = 499

// newTransport keeps plenty of idle keep-alive connections per replica: under load every
// new connection is a dial plus a TIME_WAIT socket on loopback.
func newTransport() *http.Transport {
	d := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	return &http.Transport{
		DialContext:           d.DialContext,
		MaxIdleConns:          0, // no overall limit; per host below
		MaxIdleConnsPerHost:   1024,
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: time.Second,
		DisableCompression:    true, // pass the client's Accept-Encoding and the body through as they are
		WriteBufferSize:       16 << 10,
		ReadBufferSize:        16 << 10,
	}
}

// bufferPool lends the 32 KB copy buffers ReverseProxy would otherwise allocate per request.
type bufferPool struct{ p sync.Pool }

func (b *bufferPool) Get() []byte {
	if v, ok := b.p.Get().(*[]byte); ok {
		return *v
	}
	return make([]byte, 32<<10)
}

func (b *bufferPool) Put(buf []byte) { b.p.Put(&buf) }

func (p *Proxy) newReverseProxy() *httputil.ReverseProxy {
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			c := callOf(pr.In.Context())
			pr.Out.URL.Scheme = "http"
			pr.Out.URL.Host = c.ep.addr
			pr.SetXForwarded()
			// pr.Out.Host stays the client's Host, so the application builds its own links.
		},
		Transport:      roundTripper{p},
		BufferPool:     p.bufs,
		ModifyResponse: p.modifyResponse,
		ErrorHandler:   p.errorHandler,
		ErrorLog:       slog.NewLogLogger(p.log.Handler(), slog.LevelWarn),
	}
}

// call is one request's state. It is the request's context too, which carries it through
// ReverseProxy to the transport without a separate context value.
type call struct {
	context.Context
	hdr   http.Header
	t     *table
	rt    *route
	ep    *endpoint // the replica holding the request (counted in its inflight), or nil
	idx   int
	tried uint64 // bit i: endpoint i of rt refused a connection
	n     int    // connection attempts
	id    string
	begin time.Time // when the request arrived, on the proxy's clock
	code  int
	fail  bool      // the proxy answered with an error of its own
	from  *revision // the revision whose server error the fallback answers for, or nil
	body  *trackBody
}

type callKey struct{}

// Value lets callOf find the call under contexts that ReverseProxy wraps around it.
func (c *call) Value(key any) any {
	if key == (callKey{}) {
		return c
	}
	return c.Context.Value(key)
}

func callOf(ctx context.Context) *call {
	if c, ok := ctx.(*call); ok {
		return c
	}
	c, _ := ctx.Value(callKey{}).(*call)
	return c
}

// ServeHTTP forwards the request to a replica of the revision its turn (or header)
// picks and records the outcome in that revision's figures.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	begin := p.now()
	id := p.ids.requestID(r.Header.Get(HeaderRequestID))
	t := p.table.Load()
	rt := t.pick(r.Header)
	if rt == nil {
		w.Header().Set(HeaderRequestID, id)
		http.Error(w, fmt.Sprintf("gantry proxy: %s has no revision taking traffic in %s", p.opts.App, p.opts.Env), http.StatusServiceUnavailable)
		return
	}
	c := &call{Context: r.Context(), hdr: r.Header, t: t, rt: rt, id: id, begin: begin}
	if r.Body != nil && r.Body != http.NoBody {
		c.body = &trackBody{rc: r.Body}
		r.Body = c.body
	}
	defer p.finish(c)
	if !p.acquire(c) {
		p.fail(w, c, errNoEndpoint)
		return
	}
	if direct(r) {
		p.forwardDirect(w, r, c) // writes the request ID itself
		return
	}
	r.Header.Set(HeaderRequestID, id)
	p.rp.ServeHTTP(w, r.WithContext(c))
}

// finish releases the replica and records the request, including one that ReverseProxy
// aborted mid-response (it panics with http.ErrAbortHandler, which must go on up).
func (p *Proxy) finish(c *call) {
	rec := recover()
	if c.ep != nil {
		c.ep.inflight.Add(-1)
	}
	end := p.now()
	code, cl := c.code, classOf(c.code)
	switch {
	case c.Context.Err() != nil:
		code, cl = statusClientClosed, classCanceled
	case c.fail || rec != nil || code == 0:
		code, cl = http.StatusBadGateway, classProxyError
	}
	rev := c.rt.rev
	rev.win.record(int64(end.Sub(p.start)), cl, end.Sub(c.begin))
	rev.met.observe(code, end.Sub(c.begin))
	p.notify.done()
	if rec != nil {
		panic(rec)
	}
}

// acquire counts the request in on a replica of its revision. A request that picked from
// a table SetRoutes has since replaced re-checks after counting itself in, so Drain never
// misses it; if its replica left the table it starts over on the new one.
func (p *Proxy) acquire(c *call) bool {
	for {
		i := c.rt.pickEndpoint(c.tried, int64(c.begin.Sub(p.start)))
		if i < 0 {
			return false
		}
		e := c.rt.eps[i]
		e.inflight.Add(1)
		cur := p.table.Load()
		if cur == c.t || cur.byAddr[e.addr] == e {
			c.ep, c.idx = e, i
			return true
		}
		e.inflight.Add(-1)
		c.t, c.tried = cur, 0
		if c.rt = cur.pick(c.hdr); c.rt == nil {
			return false
		}
	}
}

var errNoEndpoint = errors.New("no replica accepted a connection")

// roundTripper sends the request to the call's replica and, when the connection itself
// fails, to the next replica of the same revision: nothing reached the first one, so
// trying another is safe even for a POST.
type roundTripper struct{ p *Proxy }

func (rt roundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	p := rt.p
	c := callOf(req.Context())
	if c == nil || c.ep == nil {
		return nil, errors.New("gantry proxy: request lost its routing state")
	}
	for {
		c.n++
		resp, err := p.tr.RoundTrip(req)
		if err == nil || !isDialError(err) || (c.body != nil && c.body.read.Load()) || req.Context().Err() != nil {
			return resp, err
		}
		if !p.failover(c) {
			return nil, fmt.Errorf("%w (%d tried): %w", errNoEndpoint, c.n, err)
		}
		// The request is ReverseProxy's own copy, but the transport may still hold on to
		// it, so retry with a fresh shallow copy rather than editing it.
		next := *req
		u := *req.URL
		u.Host = c.ep.addr
		next.URL = &u
		if c.body != nil {
			// The transport closed the failed attempt's body (ReverseProxy's wrapper then
			// refuses reads); the body underneath is untouched, since nothing was read.
			next.Body = c.body
		}
		req = &next
	}
}

func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

func (p *Proxy) modifyResponse(resp *http.Response) error {
	c := callOf(resp.Request.Context())
	if c == nil {
		return nil
	}
	c.code = resp.StatusCode
	resp.Header.Set(HeaderRequestID, c.id)
	resp.Header[HeaderRevision] = c.rt.rev.header
	return nil
}

// errorHandler answers 502 with the reason, unless the client is gone anyway.
func (p *Proxy) errorHandler(w http.ResponseWriter, r *http.Request, err error) {
	c := callOf(r.Context())
	if c == nil {
		http.Error(w, "gantry proxy: "+err.Error(), http.StatusBadGateway)
		return
	}
	if c.Context.Err() != nil {
		return
	}
	p.fail(w, c, err)
}

// fail answers 502 naming the revision, the replica and what went wrong.
func (p *Proxy) fail(w http.ResponseWriter, c *call, err error) {
	c.fail = true
	c.code = http.StatusBadGateway
	where := "replica"
	if c.ep != nil {
		where = "replica " + c.ep.addr
	}
	p.log.Warn("proxy error", "revision", c.rt.rev.name, "request_id", c.id, "where", where, "err", err)
	h := w.Header()
	h.Set(HeaderRequestID, c.id)
	h.Set(HeaderRevision, c.rt.rev.name)
	if c.from != nil {
		h[HeaderFallback] = c.from.header
	}
	msg := fmt.Sprintf("gantry proxy: revision %s of %s: %s failed: %v", c.rt.rev.name, p.opts.App, where, err)
	if errors.Is(err, errNoEndpoint) {
		msg = fmt.Sprintf("gantry proxy: revision %s of %s: %v", c.rt.rev.name, p.opts.App, err)
	}
	http.Error(w, msg, http.StatusBadGateway)
}

// trackBody notes whether any byte of the request body was read, which is what decides
// whether a failed attempt may be retried. Its Close is left to the server, because the
// transport closes bodies on failure and a retry still needs this one.
type trackBody struct {
	rc   io.ReadCloser
	read atomic.Bool
}

func (b *trackBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if n > 0 && !b.read.Load() {
		b.read.Store(true)
	}
	return n, err
}

func (b *trackBody) Close() error { return nil }
