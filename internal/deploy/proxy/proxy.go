package proxy

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Options configure a proxy for one application in one environment.
type Options struct {
	// App and Env label the metrics and log lines.
	App, Env string
	// Metrics are the shared collectors; when nil and Registerer is set, New registers
	// them (or finds them registered by another proxy). Both nil: no metrics.
	Metrics    *Metrics
	Registerer prometheus.Registerer
	// Window is how far back per-revision figures are kept for analysis (default 60s).
	Window time.Duration
	// Bucket is the granularity of the window (default 250ms). Each bucket that saw
	// traffic holds a ~20 KB histogram per revision, so a 60s window costs up to ~5 MB
	// for a busy revision.
	Bucket time.Duration
	// Logger receives proxy errors; nil discards them.
	Logger *slog.Logger
}

// Defaults for Options.
const (
	DefaultWindow = 60 * time.Second
	DefaultBucket = 250 * time.Millisecond
	minBucket     = 10 * time.Millisecond
)

// Proxy forwards requests to the replicas of the revisions in its routing table.
type Proxy struct {
	opts   Options
	log    *slog.Logger
	table  atomic.Pointer[table]
	rp     *httputil.ReverseProxy
	tr     *http.Transport
	ids    *idSource
	bufs   *bufferPool
	notify *notifier

	// start anchors the window's clock; now is time.Now except in tests that move time.
	start time.Time
	now   func() time.Time

	mu      sync.Mutex           // serialises SetRoutes, Drain's lookups and Window's
	eps     map[string]*endpoint // endpoints of the current table
	retired map[string]*endpoint // endpoints removed while requests were in flight
	revs    map[string]*revision // revisions in the table or seen within the window
}

// revision is a revision's state that outlives routing tables: its figures.
type revision struct {
	name   string
	header []string // X-Gantry-Revision's value, shared by every response
	win    *window
	met    *revMetrics
}

// New returns a proxy with an empty routing table, which answers 503 until SetRoutes.
func New(opts Options) *Proxy {
	if opts.Window <= 0 {
		opts.Window = DefaultWindow
	}
	if opts.Bucket <= 0 {
		opts.Bucket = DefaultBucket
	}
	opts.Bucket = min(max(opts.Bucket, minBucket), opts.Window)
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("app", opts.App, "env", opts.Env)
	if opts.Metrics == nil && opts.Registerer != nil {
		m, err := NewMetrics(opts.Registerer)
		if err != nil {
			log.Warn("proxy runs without metrics", "err", err)
		}
		opts.Metrics = m
	}
	p := &Proxy{
		opts:    opts,
		log:     log,
		tr:      newTransport(),
		ids:     newIDSource(),
		bufs:    &bufferPool{},
		notify:  newNotifier(),
		start:   time.Now(),
		now:     time.Now,
		eps:     make(map[string]*endpoint),
		retired: make(map[string]*endpoint),
		revs:    make(map[string]*revision),
	}
	p.rp = p.newReverseProxy()
	p.table.Store(compile(Routes{}, nil, nil))
	return p
}

// SetRoutes validates r and swaps it in atomically: requests already started finish on
// the table they began with, new ones use r.
func (p *Proxy) SetRoutes(r Routes) error {
	if err := r.Validate(); err != nil {
		return fmt.Errorf("set routes of %s in %s: %w", p.opts.App, p.opts.Env, err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	old := p.eps
	p.eps = make(map[string]*endpoint)
	t := compile(r, func(addr string) *endpoint {
		e := old[addr]
		if e == nil {
			if e = p.retired[addr]; e != nil {
				delete(p.retired, addr)
				e.pool.reopen()
			}
		}
		if e == nil {
			e = &endpoint{addr: addr}
		}
		p.eps[addr] = e
		return e
	}, func(name string) *revision {
		rv := p.revs[name]
		if rv == nil {
			rv = &revision{name: name, header: []string{name}, win: newWindow(p.opts.Window, p.opts.Bucket),
				met: newRevMetrics(p.opts.Metrics, p.opts.Env, p.opts.App, name)}
			p.revs[name] = rv
		}
		return rv
	})
	p.table.Store(t)
	// Only after the swap may an endpoint's in-flight count be trusted as final: a request
	// that took it from the old table re-checks the table after counting itself in.
	for addr, e := range old {
		if _, kept := p.eps[addr]; kept {
			continue
		}
		e.pool.retire()
		if e.inflight.Load() > 0 {
			p.retired[addr] = e
		}
	}
	p.prune(t)
	return nil
}

// prune forgets drained endpoints and revisions that left the table and have had no
// traffic for a whole window, so a long-lived proxy does not grow with every rollout.
func (p *Proxy) prune(t *table) {
	for addr, e := range p.retired {
		if e.inflight.Load() == 0 {
			delete(p.retired, addr)
		}
	}
	inTable := make(map[*revision]bool, len(t.routes))
	for _, rt := range t.routes {
		inTable[rt.rev] = true
	}
	now := p.clock()
	for name, rv := range p.revs {
		if inTable[rv] {
			continue
		}
		if last := rv.win.idleSince(); last < 0 || now-last > int64(p.opts.Window) {
			delete(p.revs, name)
			rv.met.forget()
		}
	}
}

// Drain waits until no request is in flight to endpoint, which must already be out of
// the routing table; after it returns the replica can be stopped without failing a request.
// Long-lived requests (WebSockets, event streams) hold it until they end or ctx does.
func (p *Proxy) Drain(ctx context.Context, endpoint string) error {
	p.mu.Lock()
	_, routed := p.eps[endpoint]
	e := p.retired[endpoint]
	p.mu.Unlock()
	if routed {
		return fmt.Errorf("drain %s: endpoint is still in the routes of %s in %s; remove it with SetRoutes first", endpoint, p.opts.App, p.opts.Env)
	}
	if e == nil {
		return nil // nothing was in flight when it left the table
	}
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for e.inflight.Load() > 0 {
		select {
		case <-ctx.Done():
			return fmt.Errorf("drain %s: %d requests still in flight: %w", endpoint, e.inflight.Load(), ctx.Err())
		case <-tick.C:
		}
	}
	p.mu.Lock()
	if p.retired[endpoint] == e {
		delete(p.retired, endpoint)
	}
	p.mu.Unlock()
	return nil
}

// Window returns revision's figures over the last d (at most Options.Window; d <= 0
// means the whole window). An unknown revision has empty figures.
func (p *Proxy) Window(revision string, d time.Duration) Stats {
	if d <= 0 || d > p.opts.Window {
		d = p.opts.Window
	}
	p.mu.Lock()
	rv := p.revs[revision]
	p.mu.Unlock()
	if rv == nil {
		return Stats{Revision: revision}
	}
	s := rv.win.read(p.clock(), d)
	s.Revision = revision
	return s
}

// Subscribe returns a channel signalled after each small batch of finished requests
// (every 10 requests, or 50ms after the first of fewer), so guardrails can judge a
// canary per batch. Signals are coalesced; cancel stops them.
func (p *Proxy) Subscribe() (<-chan struct{}, func()) {
	return p.notify.subscribe()
}

// Close drops the idle connections to the replicas; in-flight requests are unaffected.
func (p *Proxy) Close() {
	p.tr.CloseIdleConnections()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, e := range p.eps {
		e.pool.closeIdle()
	}
	for _, e := range p.retired {
		e.pool.closeIdle()
	}
}

// clock is the proxy's monotonic time in nanoseconds, which indexes the window.
func (p *Proxy) clock() int64 {
	return int64(p.now().Sub(p.start))
}
