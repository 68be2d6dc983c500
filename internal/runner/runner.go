// Package runner is Gantry's runner agent: it asks a Gantry server for
// jobs (runnerapi is the wire contract), runs each with the local worker
// (shell executor, copy-on-write workspace) on a checkout fetched from the
// server's git mirror, streams the masked log back while the job runs, and
// keeps artifacts and caches on the server. `gantry runner` runs it as a
// process of its own; the server runs the same agent in-process as its
// built-in runner, over loopback HTTP, so there is one path to test.
//
// Its work folder (Config.Dir) holds one git mirror per project (repos/),
// one snapshot per pipeline shared by the pipeline's jobs that run here
// (pipelines/, removed after an hour unused), a local cache store per
// project kept in step with the server's (cache/), and the logs being
// sent (logs/). One runner process uses a folder at a time.
package runner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/gantry-ci/gantry/internal/executor"
	"github.com/gantry-ci/gantry/internal/executor/shell"
	"github.com/gantry-ci/gantry/internal/runnerapi"
)

// Config configures a runner. Server, Token and Dir are required.
type Config struct {
	Server string // the server's base URL
	Token  string // the runner's token
	// Tags and Name are sent when asking for jobs; Name (default: the host
	// name) also heads every job log.
	Tags []string
	Name string
	// Concurrency is how many jobs run at once; default 1.
	Concurrency int
	// Dir is the work folder: mirrors, pipeline snapshots, local caches.
	Dir        string
	Logger     *slog.Logger // default slog.Default()
	HTTPClient *http.Client // default: a plain http.Client
	// PollWait is how long the server may hold a request for a job;
	// default 30 s.
	PollWait time.Duration
	// LeaseEvery is how often a running job's lease is renewed; default
	// runnerapi.LeaseDuration/3. Tests shorten it.
	LeaseEvery time.Duration
	// KeepPipelines is how long a pipeline's snapshot stays after its last
	// job here; default 1 h.
	KeepPipelines time.Duration
}

func (c Config) withDefaults() (Config, error) {
	if c.Server == "" || c.Token == "" {
		return c, errors.New("runner: a server URL and a token are required")
	}
	if c.Dir == "" {
		return c, errors.New("runner: a work folder is required")
	}
	abs, err := filepath.Abs(c.Dir)
	if err != nil {
		return c, fmt.Errorf("runner: work folder: %w", err)
	}
	c.Dir = abs
	if c.Concurrency <= 0 {
		c.Concurrency = 1
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.PollWait <= 0 {
		c.PollWait = 30 * time.Second
	}
	if c.LeaseEvery <= 0 {
		c.LeaseEvery = runnerapi.LeaseDuration / 3
	}
	if c.KeepPipelines <= 0 {
		c.KeepPipelines = time.Hour
	}
	if c.Name == "" {
		c.Name, _ = os.Hostname()
	}
	return c, nil
}

// runner is one Run's shared state.
type runner struct {
	cfg  Config
	c    *Client
	src  *sources
	exec executor.Executor
	host string
}

// Run takes and runs jobs, Concurrency at a time, until ctx ends. Jobs
// still running then are cancelled the way a cancelled pipeline's are
// (after_script runs, on_failure artifacts are saved), reported as
// canceled, and Run returns nil once they are. It returns an error only
// when it cannot start.
func Run(ctx context.Context, cfg Config) error {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return err
	}
	c, err := NewClient(cfg.Server, cfg.Token, cfg.HTTPClient)
	if err != nil {
		return fmt.Errorf("runner: %w", err)
	}
	c.Name, c.Tags = cfg.Name, cfg.Tags
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return fmt.Errorf("runner: create work folder: %w", err)
	}
	unlock, err := lockDir(cfg.Dir)
	if err != nil {
		return err
	}
	defer unlock()
	host, _ := os.Hostname()
	r := &runner{
		cfg:  cfg,
		c:    c,
		src:  newSources(cfg.Dir),
		exec: shell.New(shell.Options{Sections: true, Color: true}),
		host: host,
	}
	if err := r.src.clearStale(); err != nil {
		return fmt.Errorf("runner: %w", err)
	}
	cfg.Logger.Info("runner started", "server", cfg.Server, "name", cfg.Name, "concurrency", cfg.Concurrency, "dir", cfg.Dir)
	var wg sync.WaitGroup
	for range cfg.Concurrency {
		wg.Go(func() { r.loop(ctx) })
	}
	sweepDone := make(chan struct{})
	go func() {
		defer close(sweepDone)
		r.sweepLoop(ctx)
	}()
	wg.Wait()
	<-sweepDone
	cfg.Logger.Info("runner stopped")
	return nil
}

// loop asks for a job and runs it, over and over, backing off while the
// server cannot be reached.
func (r *runner) loop(ctx context.Context) {
	backoff := time.Second
	for ctx.Err() == nil {
		spec, err := r.c.RequestJob(ctx, r.cfg.PollWait)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			r.cfg.Logger.Warn("asking for a job", "err", err, "retry_in", backoff)
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 30*time.Second)
			continue
		}
		backoff = time.Second
		if spec == nil {
			continue
		}
		r.cfg.Logger.Info("job received", "job", spec.ID, "pipeline", spec.PipelineID, "project", spec.Project)
		r.runJob(ctx, spec)
	}
}

// sweepLoop removes pipeline folders unused for KeepPipelines.
func (r *runner) sweepLoop(ctx context.Context) {
	tick := time.NewTicker(min(r.cfg.KeepPipelines/4, 5*time.Minute))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			r.src.sweep(ctx, now, r.cfg.KeepPipelines)
		}
	}
}

// lockDir keeps a second runner process out of dir: both would remove
// each other's pipeline folders.
func lockDir(dir string) (unlock func(), err error) {
	f, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("runner: lock work folder: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("runner: work folder %s is in use by another runner: %w", dir, err)
	}
	return func() { f.Close() }, nil
}
