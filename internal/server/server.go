// Package server is `gantry server`: it keeps projects, plans pipelines
// from webhooks, polling, schedules and API calls through the same
// internal/plan as the CLI, coordinates them with internal/engine, and
// hands their jobs to runners through a durable queue in the store. It
// serves the JSON API, Server-Sent Events, webhooks, git clones for
// runners and Prometheus metrics.
//
// Durability comes from replay: a pipeline's state is its job rows. The
// coordinator runs the engine over the plan again whenever it takes a
// pipeline over (at start, after another server died, after a manual job
// was played or a job retried); jobs that already ended return their
// stored outcome at once, and only the rest go to the queue.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/gantry-ci/gantry/internal/blob"
	"github.com/gantry-ci/gantry/internal/deploy"
	"github.com/gantry-ci/gantry/internal/engine"
	"github.com/gantry-ci/gantry/internal/notify"
	"github.com/gantry-ci/gantry/internal/secret"
	"github.com/gantry-ci/gantry/internal/store"
	"github.com/gantry-ci/gantry/internal/store/postgres"
	"github.com/gantry-ci/gantry/internal/store/sqlite"
)

// Config is how `gantry server` is started.
type Config struct {
	Data        string // state folder: database, blobs, mirrors, keys
	Listen      string // default 127.0.0.1:8080
	ExternalURL string // how jobs and forges reach the server; default from Listen
	DB          string // "" for SQLite in Data, or postgres://…
	// Runners is how many jobs the built-in shell runner runs at once; 0
	// means the number of cores, negative none.
	Runners int
	// GCInterval is how often expired artifacts are deleted; default 10m.
	GCInterval time.Duration
	Logger     *slog.Logger
	// AdminTokenOut receives the admin token the first start creates.
	AdminTokenOut func(token string)
}

// Server is a running gantry server.
type Server struct {
	cfg      Config
	log      *slog.Logger
	store    store.Store
	blobs    blob.Store
	box      *secret.Box
	owner    string // this process, for pipeline coordination leases
	wake     *hub
	mirror   *mirrors
	coord    *coordinator
	met      *metrics
	notifier *notify.Notifier
	deploy   *deploy.Controller
	http     *http.Server
	ln       net.Listener
	url      string

	logMu sync.Mutex // serialises log appends: the offset check and the append are one step

	// background loops started by Run, waited for on shutdown
	loops sync.WaitGroup
}

// New opens the state in cfg.Data (creating it on first start) and
// prepares the server; Run serves it.
func New(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.Data == "" {
		cfg.Data = ".gantry-server"
	}
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:8080"
	}
	if cfg.Runners == 0 {
		cfg.Runners = runtime.NumCPU()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.GCInterval <= 0 {
		cfg.GCInterval = 10 * time.Minute
	}
	if err := os.MkdirAll(cfg.Data, 0o700); err != nil {
		return nil, fmt.Errorf("create data folder: %w", err)
	}
	box, err := secret.LoadOrCreateKey(filepath.Join(cfg.Data, "secret.key"))
	if err != nil {
		return nil, fmt.Errorf("load the encryption key: %w", err)
	}
	st, err := openStore(ctx, cfg)
	if err != nil {
		return nil, err
	}
	blobs, err := blob.NewFS(filepath.Join(cfg.Data, "blobs"))
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("open blob store: %w", err)
	}
	host, _ := os.Hostname()
	s := &Server{
		cfg:   cfg,
		log:   cfg.Logger,
		store: st,
		blobs: blobs,
		box:   box,
		owner: fmt.Sprintf("%s/%d/%d", host, os.Getpid(), time.Now().UnixNano()),
		wake:  newHub(),
	}
	s.mirror = newMirrors(filepath.Join(cfg.Data, "repos"))
	s.met = newMetrics(s)
	s.notifier = s.newNotifier()
	s.coord = newCoordinator(s)
	if s.deploy, err = s.newDeployController(); err != nil {
		st.Close()
		return nil, fmt.Errorf("start the rollout controller: %w", err)
	}
	if err := s.ensureAdminToken(ctx); err != nil {
		st.Close()
		return nil, err
	}
	return s, nil
}

func openStore(ctx context.Context, cfg Config) (store.Store, error) {
	if isPostgres(cfg.DB) {
		st, err := postgres.Open(ctx, cfg.DB)
		if err != nil {
			return nil, fmt.Errorf("open PostgreSQL: %w", err)
		}
		return st, nil
	}
	path := cfg.DB
	if path == "" {
		path = filepath.Join(cfg.Data, "gantry.db")
	}
	path = strings.TrimPrefix(path, "sqlite://")
	st, err := sqlite.Open(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("open SQLite %s: %w", path, err)
	}
	return st, nil
}

// isPostgres tells a PostgreSQL connection string — a URL or libpq's
// key=value form — from a SQLite path.
func isPostgres(db string) bool {
	if strings.HasPrefix(db, "postgres://") || strings.HasPrefix(db, "postgresql://") {
		return true
	}
	for _, f := range strings.Fields(db) {
		if k, _, ok := strings.Cut(f, "="); ok && (k == "host" || k == "dbname" || k == "user") {
			return true
		}
	}
	return false
}

// ensureAdminToken creates the first admin token, prints it once and
// keeps it in <data>/admin-token (0600) for the CLI on this machine.
func (s *Server) ensureAdminToken(ctx context.Context) error {
	toks, err := s.store.ListTokens(ctx)
	if err != nil {
		return fmt.Errorf("list tokens: %w", err)
	}
	for _, t := range toks {
		if t.Kind == store.TokenAdmin {
			return nil
		}
	}
	tok, err := secret.NewToken("admin")
	if err != nil {
		return err
	}
	if err := s.store.CreateToken(ctx, &store.Token{Hash: secret.HashToken(tok), Kind: store.TokenAdmin, Name: "admin"}); err != nil {
		return fmt.Errorf("create admin token: %w", err)
	}
	if err := os.WriteFile(filepath.Join(s.cfg.Data, "admin-token"), []byte(tok+"\n"), 0o600); err != nil {
		return fmt.Errorf("write admin token: %w", err)
	}
	if s.cfg.AdminTokenOut != nil {
		s.cfg.AdminTokenOut(tok)
	}
	return nil
}

// URL is where the server is reached (ExternalURL or the listen address).
func (s *Server) URL() string { return s.url }

// Listen opens the listening socket; Run serves on it. Split so a caller
// listening on port 0 learns the address before serving.
func (s *Server) Listen() error {
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", s.cfg.Listen, err)
	}
	s.ln = ln
	s.url = strings.TrimSuffix(s.cfg.ExternalURL, "/")
	if s.url == "" {
		s.url = "http://" + ln.Addr().String()
	}
	return nil
}

// Run serves until ctx ends, then shuts down gracefully: the coordinator
// stops taking work, the built-in runner cancels its jobs (recorded as
// canceled), then the HTTP server and the store close.
func (s *Server) Run(ctx context.Context) error {
	if s.ln == nil {
		if err := s.Listen(); err != nil {
			return err
		}
	}
	// Requests live in a context the shutdown cancels, so open event and
	// log streams end instead of holding Shutdown for its whole timeout.
	reqCtx, endRequests := context.WithCancel(context.WithoutCancel(ctx))
	defer endRequests()
	s.http = &http.Server{
		Handler:           s.routes(),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return reqCtx },
	}
	if err := s.deploy.Start(ctx); err != nil {
		return fmt.Errorf("restore rollouts: %w", err)
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- s.http.Serve(s.ln) }()

	work, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	s.loops.Go(func() { s.coord.run(work) })
	s.loops.Go(func() { s.triggers(work) })
	runnersDone := s.startBuiltinRunners(work)
	s.log.Info("gantry server ready", "url", s.url, "data", s.cfg.Data, "runners", s.cfg.Runners)

	var err error
	select {
	case <-ctx.Done():
	case err = <-serveErr:
	}
	s.log.Info("shutting down")
	s.coord.stopping()
	stopWork()
	<-runnersDone
	s.loops.Wait()
	s.coord.cancelOwned(context.Background())
	endRequests()
	shutCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = s.http.Shutdown(shutCtx)
	_ = s.notifier.Close(shutCtx)
	if err := s.deploy.Close(shutCtx); err != nil {
		s.log.Warn("stop rollouts", "err", err)
	}
	if cerr := s.store.Close(); err == nil {
		err = cerr
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// jobStatus maps the engine's statuses to the store's.
func jobStatus(st engine.Status) string {
	if st == engine.StatusBlocked {
		return store.StatusManual
	}
	return string(st)
}
