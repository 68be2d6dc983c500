// Package localtarget runs an app's environments on this machine: each
// revision's replicas are a local.Set (processes or wasm instances on
// loopback ports) and each environment is served by Gantry's weighted
// proxy on its listen address, plus a second proxy on the blue-green
// preview address when the spec has one.
//
// It is the glue between two packages that know nothing of each other:
// the proxy only ever routes to ready replicas (routes are recomputed
// whenever a replica's readiness changes), and a replica being scaled
// away is first taken out of the routes and drained, so a rollout under
// load fails no request. Scaling runs in the background, one goroutine
// per revision, so that the controller's decisions (and a user's undo)
// never wait for a module to compile or a replica to drain.
package localtarget

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gantry-ci/gantry/internal/deploy/local"
	"github.com/gantry-ci/gantry/internal/deploy/proxy"
	"github.com/gantry-ci/gantry/internal/deploy/target"
)

// Options configure the local target.
type Options struct {
	// LogDir receives each replica's output (one file per replica).
	LogDir string
	// WasmCacheDir keeps compiled wasm modules across restarts; "" keeps
	// them in memory only.
	WasmCacheDir string
	// Registerer receives the proxies' http_requests_total and
	// http_request_duration_seconds; nil exports nothing.
	Registerer prometheus.Registerer
	Logger     *slog.Logger
	// Replica tunes replica supervision (backoff, stop grace); its Logger,
	// LogDir, Runtime, OnRestart and Drain are set by the target.
	Replica local.Options
}

// Target is the local target. It satisfies target.Target.
type Target struct {
	opts    Options
	log     *slog.Logger
	metrics *proxy.Metrics

	mu     sync.Mutex
	rt     *local.Runtime // created on the first wasm revision
	closed bool
}

var _ target.Target = (*Target)(nil)

// New prepares a local target; nothing runs until Open.
func New(opts Options) (*Target, error) {
	t := &Target{opts: opts, log: opts.Logger}
	if t.log == nil {
		t.log = slog.New(slog.DiscardHandler)
	}
	if opts.Registerer != nil {
		m, err := proxy.NewMetrics(opts.Registerer)
		if err != nil {
			return nil, fmt.Errorf("local target: %w", err)
		}
		t.metrics = m
	}
	return t, nil
}

// Open binds the environment's listeners and returns it.
func (t *Target) Open(ctx context.Context, o target.EnvOptions) (target.Env, error) {
	t.mu.Lock()
	closed := t.closed
	t.mu.Unlock()
	if closed {
		return nil, fmt.Errorf("open %s/%s: the local target is closed", o.App, o.Env)
	}
	return openEnv(ctx, t, o)
}

// runtime returns the shared wasm runtime, creating it on first use so a
// server that only runs processes never starts wazero.
func (t *Target) runtime(ctx context.Context) (*local.Runtime, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil, fmt.Errorf("the local target is closed")
	}
	if t.rt == nil {
		rt, err := local.NewRuntime(ctx, local.RuntimeOptions{CacheDir: t.opts.WasmCacheDir})
		if err != nil {
			return nil, err
		}
		t.rt = rt
	}
	return t.rt, nil
}

// Close frees the wasm runtime. Environments must be closed first.
func (t *Target) Close(ctx context.Context) error {
	t.mu.Lock()
	rt := t.rt
	t.rt, t.closed = nil, true
	t.mu.Unlock()
	if rt != nil {
		return rt.Close(ctx)
	}
	return nil
}

// logDir is where one environment's replicas write their output.
func (t *Target) logDir(app, env string) string {
	if t.opts.LogDir == "" {
		return ""
	}
	return filepath.Join(t.opts.LogDir, app, env)
}
