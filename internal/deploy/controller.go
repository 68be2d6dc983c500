package deploy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gantry-ci/gantry/internal/deploy/localtarget"
	"github.com/gantry-ci/gantry/internal/deploy/target"
	"github.com/gantry-ci/gantry/internal/store"
)

// Config is what a controller needs from the server.
type Config struct {
	// Records keeps every rollout's state; nothing else is persisted
	// (artifacts and replica logs are files under DataDir).
	Records store.Records
	// DataDir holds artifacts, replica logs and the wasm compilation cache.
	DataDir string
	// Registerer receives deployment_total, deployment_successful_total,
	// rollbacks_total, replica_restarts_total and the proxies' request
	// metrics; nil exports nothing.
	Registerer prometheus.Registerer
	// Emit appends an event to the server's event log (the stream the
	// pipelines' events are in); nil drops them.
	Emit func(ctx context.Context, projectID int64, typ string, data any)
	// Logger receives what goes wrong in the background; nil discards.
	Logger *slog.Logger
	// Target runs the replicas; nil runs them on this machine
	// (localtarget) with the options below.
	Target target.Target
	// WasmCacheDir overrides DataDir/wasm-cache for compiled modules.
	WasmCacheDir string
	// Notify is told when a rollout pauses, is promoted, is aborted or is
	// rolled back (undo or an automatic abort), with kind one of
	// internal/notify's Kind constants; nil tells no one. It is called
	// from the rollout's loop and should not block for long.
	Notify func(ctx context.Context, projectID int64, kind string, e NotifyInfo)
}

// Controller runs one durable state machine per app and environment.
type Controller struct {
	cfg       Config
	log       *slog.Logger
	target    target.Target
	ownTarget bool
	met       *metrics
	arts      *artifacts

	mu       sync.Mutex
	ctx      context.Context // lives from Start to Close; loops run in it
	cancel   context.CancelFunc
	rollouts map[Key]*rollout
	started  bool
	closed   bool
	wg       sync.WaitGroup
}

// New prepares a controller; Start restores the persisted rollouts.
func New(cfg Config) (*Controller, error) {
	if cfg.Records == nil {
		return nil, errors.New("deploy controller: Records is required")
	}
	if cfg.DataDir == "" {
		return nil, errors.New("deploy controller: DataDir is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.WasmCacheDir == "" {
		cfg.WasmCacheDir = filepath.Join(cfg.DataDir, "wasm-cache")
	}
	met, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	arts, err := newArtifacts(filepath.Join(cfg.DataDir, "artifacts"))
	if err != nil {
		return nil, err
	}
	c := &Controller{cfg: cfg, log: cfg.Logger, met: met, arts: arts, rollouts: map[Key]*rollout{}, target: cfg.Target}
	if c.target == nil {
		t, err := localtarget.New(localtarget.Options{
			LogDir:       filepath.Join(cfg.DataDir, "logs"),
			WasmCacheDir: cfg.WasmCacheDir,
			Registerer:   cfg.Registerer,
			Logger:       cfg.Logger,
		})
		if err != nil {
			return nil, err
		}
		c.target, c.ownTarget = t, true
	}
	return c, nil
}

// Start restores every persisted rollout: the replicas its last decision
// wanted are started again, its last traffic split is applied (to the
// replicas as they become ready), and a rollout in progress continues at
// the same step and weight, with pause timers measured from when the
// pause began. The loops run until ctx ends or Close. It fails only when
// the records cannot be listed; a rollout that cannot be restored is
// logged and left out.
func (c *Controller) Start(ctx context.Context) error {
	c.mu.Lock()
	if c.started || c.closed {
		c.mu.Unlock()
		return errors.New("deploy controller: Start called twice or after Close")
	}
	c.started = true
	c.ctx, c.cancel = context.WithCancel(context.WithoutCancel(ctx))
	c.mu.Unlock()
	go func() {
		select {
		case <-ctx.Done():
			c.stopLoops()
		case <-c.ctx.Done():
		}
	}()

	recs, err := c.cfg.Records.ListRecords(ctx, kindRollout, "")
	if err != nil {
		return fmt.Errorf("restore rollouts: %w", err)
	}
	for _, r := range recs {
		// One unreadable record must not keep every other app down.
		if err := c.restore(r); err != nil {
			c.log.Error("restore rollout", "key", r.Key, "err", err)
		}
	}
	return nil
}

// restore brings back one persisted rollout.
func (c *Controller) restore(r *store.Record) error {
	k, err := parseKey(r.Key)
	if err != nil {
		return fmt.Errorf("rollout record %q: %w", r.Key, err)
	}
	var rec rolloutRecord
	if err := json.Unmarshal(r.Data, &rec); err != nil {
		return fmt.Errorf("decode rollout %s: %w", k, err)
	}
	ro := newRollout(c, k, &rec, r.Version)
	if err := ro.loadRevisions(c.ctx); err != nil {
		return err
	}
	if err := ro.an.load(c.ctx); err != nil {
		// The rollout runs on; its analysis starts afresh.
		c.log.Error("restore analysis", "rollout", k, "err", err)
	}
	c.mu.Lock()
	c.rollouts[k] = ro
	c.mu.Unlock()
	ro.reopen() // binds the listeners and re-applies the last decision
	c.wg.Go(ro.run)
	return nil
}

// stopLoops ends every rollout loop; replicas keep running.
func (c *Controller) stopLoops() {
	c.mu.Lock()
	cancel := c.cancel
	c.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	c.wg.Wait()
}

// Close stops the loops, then every replica and listener.
func (c *Controller) Close(ctx context.Context) error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.mu.Unlock()
	c.stopLoops()
	c.mu.Lock()
	ros := make([]*rollout, 0, len(c.rollouts))
	for _, ro := range c.rollouts {
		ros = append(ros, ro)
	}
	c.mu.Unlock()
	var errs []error
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, ro := range ros {
		wg.Go(func() {
			if err := ro.close(ctx); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if c.ownTarget {
		errs = append(errs, c.target.Close(ctx))
	}
	return errors.Join(errs...)
}

// lookup returns the running rollout of k.
func (c *Controller) lookup(k Key) (*rollout, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.started || c.closed {
		return nil, ErrClosed
	}
	ro := c.rollouts[k]
	if ro == nil {
		return nil, notFound("no rollout of %s in %s (project %s)", k.App, k.Env, k.Project)
	}
	return ro, nil
}

// emit hands an event to the server's log.
func (c *Controller) emit(projectID int64, data any) {
	if c.cfg.Emit == nil {
		return
	}
	c.cfg.Emit(c.ctx, projectID, EventType, data)
}

// metrics are the seed design's deployment figures.
type metrics struct {
	deployments *prometheus.CounterVec
	successful  *prometheus.CounterVec
	rollbacks   *prometheus.CounterVec
	restarts    *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	labels := []string{"env", "app"}
	m := &metrics{
		deployments: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "deployment_total", Help: "Revisions whose rollout started (deploys and undos that roll a revision forward).",
		}, labels),
		successful: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "deployment_successful_total", Help: "Revisions that became stable and reached Healthy.",
		}, labels),
		rollbacks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rollbacks_total", Help: "Times traffic was returned to an older revision: undo, and aborted rollouts.",
		}, labels),
		restarts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "replica_restarts_total", Help: "Replicas restarted after they crashed or failed their health check.",
		}, labels),
	}
	if reg == nil {
		return m, nil
	}
	for _, col := range []prometheus.Collector{m.deployments, m.successful, m.rollbacks, m.restarts} {
		if err := reg.Register(col); err != nil {
			return nil, fmt.Errorf("register deploy metrics: %w", err)
		}
	}
	return m, nil
}
