package proxy

import (
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the Prometheus collectors the proxies of one registry share. Each
// environment has its own proxy but one registry holds one collector per name, so create
// Metrics once per registry and hand it to every proxy (or let New do it through
// Options.Registerer, which finds the collectors already registered).
type Metrics struct {
	requests  *prometheus.CounterVec
	duration  *prometheus.HistogramVec
	fallbacks *prometheus.CounterVec
}

// durationBuckets start well below a millisecond: a proxy in front of loopback replicas
// answers most requests in that range, and the default buckets would lump them together.
var durationBuckets = []float64{
	0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
}

// NewMetrics registers http_requests_total{env,app,revision,code},
// http_request_duration_seconds{env,app,revision} and
// gantry_proxy_fallback_total{env,app,revision} on reg, or reuses them when another
// proxy registered them already.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	labels := []string{"env", "app", "revision"}
	req := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "http_requests_total",
		Help: "Requests answered through the Gantry proxy, by revision and status code.",
	}, append(labels, "code"))
	dur := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "http_request_duration_seconds",
		Help:    "Time from a request reaching the Gantry proxy to its response body being sent.",
		Buckets: durationBuckets,
	}, labels)
	fb := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gantry_proxy_fallback_total",
		Help: "Server errors of a revision that the client did not see because the fallback revision answered instead.",
	}, labels)
	m := &Metrics{}
	var err error
	if m.requests, err = register(reg, req); err != nil {
		return nil, err
	}
	if m.duration, err = register(reg, dur); err != nil {
		return nil, err
	}
	if m.fallbacks, err = register(reg, fb); err != nil {
		return nil, err
	}
	return m, nil
}

// register registers c, or returns the equal collector registered before it.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	err := reg.Register(c)
	if err == nil {
		return c, nil
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing, nil
		}
	}
	return c, fmt.Errorf("register proxy metrics: %w", err)
}

// revMetrics caches one revision's series so the request path does no label lookups.
type revMetrics struct {
	m        *Metrics
	env, app string
	rev      string
	duration prometheus.Observer
	fallback prometheus.Counter
	codes    [900]atomic.Pointer[prometheus.Counter] // status 100..999
}

func newRevMetrics(m *Metrics, env, app, rev string) *revMetrics {
	if m == nil {
		return nil
	}
	return &revMetrics{m: m, env: env, app: app, rev: rev,
		duration: m.duration.WithLabelValues(env, app, rev),
		fallback: m.fallbacks.WithLabelValues(env, app, rev)}
}

// fellBack counts one of the revision's server errors answered by the fallback instead.
func (r *revMetrics) fellBack() {
	if r != nil {
		r.fallback.Inc()
	}
}

func (r *revMetrics) observe(code int, d time.Duration) {
	if r == nil {
		return
	}
	r.duration.Observe(d.Seconds())
	if code < 100 || code > 999 {
		code = 999
	}
	slot := &r.codes[code-100]
	c := slot.Load()
	if c == nil {
		counter := r.m.requests.WithLabelValues(r.env, r.app, r.rev, strconv.Itoa(code))
		c = &counter
		slot.Store(c)
	}
	(*c).Inc()
}

// forget drops the revision's series once the revision is gone for good, so that a
// long-lived server does not export every revision it ever deployed.
func (r *revMetrics) forget() {
	if r == nil {
		return
	}
	l := prometheus.Labels{"env": r.env, "app": r.app, "revision": r.rev}
	r.m.requests.DeletePartialMatch(l)
	r.m.duration.DeletePartialMatch(l)
	r.m.fallbacks.DeletePartialMatch(l)
}
