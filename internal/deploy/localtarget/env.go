package localtarget

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/gantry-ci/gantry/internal/deploy/proxy"
	"github.com/gantry-ci/gantry/internal/deploy/strategy"
	"github.com/gantry-ci/gantry/internal/deploy/target"
)

// Timeouts of an environment's moving parts.
const (
	// drainTimeout bounds the wait for requests in flight to a replica
	// being scaled away; a hung request must not hold a rollout forever.
	drainTimeout = 30 * time.Second
	// shutdownTimeout bounds a listener's graceful shutdown when it moves
	// or the environment closes.
	shutdownTimeout = 2 * time.Second
)

// Env is one environment served locally. It satisfies target.Env.
type Env struct {
	t   *Target
	o   target.EnvOptions
	log *slog.Logger

	// ctx lives until Close: scalers and listeners stop with it.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	main    *proxy.Proxy
	preview *proxy.Proxy

	// routeMu serialises route computations so that the last one applied
	// always read the newest endpoints.
	routeMu sync.Mutex

	mu         sync.Mutex
	revs       map[int64]*revSet
	traffic    strategy.Traffic
	mainSrv    *listener
	previewSrv *listener
	closed     bool

	changes chan struct{}
}

var _ target.Env = (*Env)(nil)

// listener is one proxy serving on one address.
type listener struct {
	addr   string // as configured
	srv    *proxy.Server
	cancel context.CancelFunc
}

func openEnv(ctx context.Context, t *Target, o target.EnvOptions) (*Env, error) {
	e := &Env{
		t:       t,
		o:       o,
		log:     t.log.With("app", o.App, "env", o.Env),
		revs:    map[int64]*revSet{},
		changes: make(chan struct{}, 1),
	}
	e.ctx, e.cancel = context.WithCancel(context.Background())
	e.main = proxy.New(proxy.Options{App: o.App, Env: o.Env, Metrics: t.metrics, Logger: t.log})
	e.preview = proxy.New(proxy.Options{App: o.App, Env: o.Env, Logger: t.log})
	if err := e.Listen(ctx, o.Listen, o.PreviewListen); err != nil {
		e.cancel()
		return nil, err
	}
	return e, nil
}

// Listen (re)binds the main and preview listeners; a listener whose
// address did not change keeps its connections.
func (e *Env) Listen(_ context.Context, listen, previewListen string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return errors.New("environment is closed")
	}
	main, err := e.rebind(e.mainSrv, listen, e.main)
	if err != nil {
		return err
	}
	prev, err := e.rebind(e.previewSrv, previewListen, e.preview)
	if err != nil {
		if main != e.mainSrv {
			main.cancel()
		}
		return err
	}
	e.mainSrv, e.previewSrv = main, prev
	return nil
}

// rebind returns the listener for addr: old if it already serves there,
// a new one otherwise (old is then shut down), nil for "".
func (e *Env) rebind(old *listener, addr string, p *proxy.Proxy) (*listener, error) {
	if old != nil && old.addr == addr {
		return old, nil
	}
	var l *listener
	if addr != "" {
		sctx, cancel := context.WithCancel(e.ctx)
		srv, err := proxy.Serve(sctx, addr, p, proxy.ServeOptions{ShutdownTimeout: shutdownTimeout})
		if err != nil {
			cancel()
			return nil, fmt.Errorf("serve %s/%s: %w", e.o.App, e.o.Env, err)
		}
		l = &listener{addr: addr, srv: srv, cancel: cancel}
		e.wg.Go(func() {
			if err := srv.Wait(); err != nil {
				e.log.Warn("proxy listener stopped", "addr", addr, "err", err)
			}
		})
	}
	if old != nil {
		old.cancel()
	}
	return l, nil
}

// URL is where the environment answers.
func (e *Env) URL() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return urlOf(e.mainSrv)
}

// PreviewURL is where the blue-green preview answers, "" without one.
func (e *Env) PreviewURL() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return urlOf(e.previewSrv)
}

// urlOf turns a bound address into a URL a client on this machine can
// use: a wildcard host becomes the loopback address.
func urlOf(l *listener) string {
	if l == nil {
		return ""
	}
	addr, ok := l.srv.Addr().(*net.TCPAddr)
	if !ok {
		return "http://" + l.srv.Addr().String()
	}
	host := addr.IP.String()
	if addr.IP.IsUnspecified() {
		host = "127.0.0.1" // a wildcard listener (even "[::]") answers on IPv4 loopback
	}
	return "http://" + net.JoinHostPort(host, strconv.Itoa(addr.Port))
}

// Route applies a traffic split to the ready replicas.
func (e *Env) Route(t strategy.Traffic) error {
	e.mu.Lock()
	e.traffic = cloneTraffic(t)
	e.mu.Unlock()
	return e.reroute()
}

func cloneTraffic(t strategy.Traffic) strategy.Traffic {
	t.Weights = maps.Clone(t.Weights)
	if t.Header != nil {
		h := *t.Header
		t.Header = &h
	}
	return t
}

// reroute recomputes both proxies' routes from the traffic split and the
// replicas ready now.
func (e *Env) reroute() error {
	e.routeMu.Lock()
	defer e.routeMu.Unlock()
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	t := e.traffic
	eps := make(map[int64][]string, len(e.revs))
	for rev, rs := range e.revs {
		eps[rev] = rs.set.Endpoints()
	}
	e.mu.Unlock()

	err := e.main.SetRoutes(mainRoutes(t, eps))
	var pr proxy.Routes
	if t.Preview != 0 && len(eps[t.Preview]) > 0 {
		pr.Backends = []proxy.Backend{{Revision: revName(t.Preview), Weight: 1, Endpoints: eps[t.Preview]}}
	}
	return errors.Join(err, e.preview.SetRoutes(pr))
}

// mainRoutes turns a traffic split into proxy routes over ready
// endpoints. A revision without ready replicas is left out, so its share
// goes to the others in proportion; when no weighted revision has any,
// the table is empty and the proxy answers 503.
//
// While the split sends requests to more than one revision, the stable
// (active) one is the proxy's fallback: a canary or new rolling revision
// answering server errors then fails no user's safe request in the second
// before a guardrail aborts it, and the guardrail still sees every error.
func mainRoutes(t strategy.Traffic, eps map[int64][]string) proxy.Routes {
	var r proxy.Routes
	total := 0
	activeReady := false
	for _, rev := range slices.Sorted(maps.Keys(t.Weights)) {
		w := t.Weights[rev]
		if w <= 0 || len(eps[rev]) == 0 {
			continue
		}
		r.Backends = append(r.Backends, proxy.Backend{Revision: revName(rev), Weight: w, Endpoints: eps[rev]})
		total += w
		activeReady = activeReady || rev == t.Active
	}
	if total == 0 {
		return proxy.Routes{}
	}
	if activeReady && len(r.Backends) > 1 {
		r.Fallback = revName(t.Active)
	}
	if h := t.Header; h != nil && len(eps[h.Revision]) > 0 {
		if _, weighted := t.Weights[h.Revision]; !weighted || t.Weights[h.Revision] <= 0 {
			r.Backends = append(r.Backends, proxy.Backend{Revision: revName(h.Revision), Endpoints: eps[h.Revision]})
		}
		r.Header = &proxy.HeaderRoute{Name: h.Name, Value: h.Value, Revision: revName(h.Revision)}
	}
	return r
}

// revName is a revision's name in the proxy: its number, which is what
// http_requests_total's revision label and X-Gantry-Revision show.
func revName(rev int64) string { return strconv.FormatInt(rev, 10) }

// drain takes endpoint out of the routes and waits for its requests in
// flight; local.Set calls it before stopping a ready replica (which it has
// already marked not ready, so reroute leaves it out).
func (e *Env) drain(ctx context.Context, endpoint string) error {
	if err := e.reroute(); err != nil {
		e.log.Warn("reroute before drain", "endpoint", endpoint, "err", err)
	}
	ctx, cancel := context.WithTimeout(ctx, drainTimeout)
	defer cancel()
	return errors.Join(e.main.Drain(ctx, endpoint), e.preview.Drain(ctx, endpoint))
}

// Changes receives a value after readiness or membership changed.
func (e *Env) Changes() <-chan struct{} { return e.changes }

func (e *Env) signal() {
	select {
	case e.changes <- struct{}{}:
	default:
	}
}

// Window reports a revision's request figures on the main address.
func (e *Env) Window(rev int64, d time.Duration) target.Stats {
	s := e.main.Window(revName(rev), d)
	return target.Stats{
		Requests:    s.Requests,
		Errors:      s.Errors5xx,
		ErrorRate:   s.ErrorRate(),
		P50:         s.Quantile(0.5),
		P99:         s.Quantile(0.99),
		RequestRate: s.RequestRate(),
	}
}

// Close stops every replica without draining and shuts the listeners.
func (e *Env) Close(ctx context.Context) error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	sets := slices.Collect(maps.Values(e.revs))
	e.revs = map[int64]*revSet{}
	e.mu.Unlock()

	e.cancel()
	var errs []error
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, rs := range sets {
		wg.Go(func() {
			if err := rs.set.Close(ctx); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	e.wg.Wait()
	e.main.Close()
	e.preview.Close()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close %s/%s: %w", e.o.App, e.o.Env, err)
	}
	return nil
}

// Proxy is the main address's proxy: analysis reads its per-revision
// windows and guardrails subscribe to its request batches.
func (e *Env) Proxy() *proxy.Proxy { return e.main }

// PreviewProxy is the proxy of the blue-green preview address.
func (e *Env) PreviewProxy() *proxy.Proxy { return e.preview }
