// Package ui is the web interface of `gantry server`: pages rendered on
// the server with html/template from files embedded in the binary, and a
// little hand-written JavaScript for what must be live (job logs and
// statuses through Server-Sent Events) and for confirmations. Nothing is
// fetched from elsewhere at run time and every page reads without
// JavaScript, only without live updates.
//
// People sign in with an API token. The session is a cookie the server
// seals with its own key, holding the token's hash and an expiry: no
// session table, sessions survive restarts, and deleting the token ends
// them. Every form carries a token derived from the session cookie, so a
// cross-site form cannot act for the user.
//
// Paths follow GitLab's, so that CI_JOB_URL and CI_PIPELINE_URL land on
// the right page: /PROJECT/-/pipelines/ID, /PROJECT/-/jobs/ID.
package ui

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gantry-ci/gantry/internal/store"
)

//go:embed templates static
var files embed.FS

// Config is what New needs.
type Config struct {
	Store   Store
	Backend Backend
	// Secure forces Secure cookies (the server is reached over HTTPS
	// behind a proxy); they are Secure anyway on TLS requests.
	Secure bool
	Logger *slog.Logger
	// SessionTTL is how long a sign-in lasts; default 12 hours.
	SessionTTL time.Duration
}

// Handler serves the pages.
type Handler struct {
	st     Store
	be     Backend
	log    *slog.Logger
	secure bool
	ttl    time.Duration
	pages  map[string]*template.Template
	static map[string]staticFile
	mux    *http.ServeMux
}

type staticFile struct {
	data    []byte
	version string
	ctype   string
}

// New prepares the pages; templates that do not parse are an error here,
// not at the first request.
func New(cfg Config) (*Handler, error) {
	if cfg.Store == nil || cfg.Backend == nil {
		return nil, errors.New("new ui: a store and a backend are required")
	}
	h := &Handler{st: cfg.Store, be: cfg.Backend, log: cfg.Logger, secure: cfg.Secure, ttl: cfg.SessionTTL}
	if h.log == nil {
		h.log = slog.Default()
	}
	if h.ttl <= 0 {
		h.ttl = 12 * time.Hour
	}
	if err := h.loadStatic(); err != nil {
		return nil, err
	}
	if err := h.loadTemplates(); err != nil {
		return nil, err
	}
	h.routes()
	return h, nil
}

// ServeHTTP adds the headers every answer carries and dispatches.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "+
		"connect-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Referrer-Policy", "same-origin")
	h.mux.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), startKey{}, time.Now())))
}

// startKey marks when a request arrived, for its Server-Timing.
type startKey struct{}

func since(r *http.Request) time.Duration {
	if t, ok := r.Context().Value(startKey{}).(time.Time); ok {
		return time.Since(t)
	}
	return 0
}

func (h *Handler) routes() {
	m := http.NewServeMux()
	m.HandleFunc("GET /{$}", h.page(h.projectsPage))
	m.HandleFunc("GET /login", h.loginPage)
	m.HandleFunc("POST /login", h.login)
	m.HandleFunc("POST /logout", h.action(h.logout))
	m.HandleFunc("GET /-/static/{file}", h.serveStatic)
	m.HandleFunc("GET /-/runners", h.page(h.runnersPage))
	m.HandleFunc("GET /-/events", h.stream(h.events))
	m.HandleFunc("GET /{project}", h.page(h.projectRedirect))
	m.HandleFunc("GET /{project}/-/pipelines", h.page(h.pipelinesPage))
	m.HandleFunc("POST /{project}/-/pipelines", h.action(h.runPipeline))
	m.HandleFunc("GET /{project}/-/pipelines/{id}", h.page(h.pipelinePage))
	m.HandleFunc("POST /{project}/-/pipelines/{id}/{action}", h.action(h.pipelineAction))
	m.HandleFunc("GET /{project}/-/jobs/{id}", h.page(h.jobPage))
	m.HandleFunc("GET /{project}/-/jobs/{id}/raw", h.stream(h.rawLog))
	m.HandleFunc("GET /{project}/-/jobs/{id}/log/stream", h.stream(h.logStream))
	m.HandleFunc("GET /{project}/-/jobs/{id}/artifacts", h.page(h.artifactsPage))
	m.HandleFunc("GET /{project}/-/jobs/{id}/artifacts/download", h.stream(h.artifactsDownload))
	m.HandleFunc("POST /{project}/-/jobs/{id}/{action}", h.action(h.jobAction))
	m.HandleFunc("GET /{project}/-/environments", h.page(h.environmentsPage))
	m.HandleFunc("POST /{project}/-/environments/rollback", h.action(h.rollback))
	m.HandleFunc("GET /{project}/-/settings", h.page(h.settingsPage))
	m.HandleFunc("POST /{project}/-/settings/variables", h.action(h.setVariable))
	m.HandleFunc("POST /{project}/-/settings/variables/delete", h.action(h.deleteVariable))
	m.HandleFunc("POST /{project}/-/settings/schedules", h.action(h.createSchedule))
	m.HandleFunc("POST /{project}/-/settings/schedules/{id}/delete", h.action(h.deleteSchedule))
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		h.fail(w, r, nil, &StatusError{Status: http.StatusNotFound, Err: errors.New("no such page")})
	})
	h.mux = m
}

// StatusError is an error with the status its page answers; the backend
// returns them for refusals (409: the job is not waiting to be played).
type StatusError struct {
	Status int
	Err    error
}

func (e *StatusError) Error() string { return e.Err.Error() }
func (e *StatusError) Unwrap() error { return e.Err }

func notFound(format string, args ...any) error {
	return &StatusError{Status: http.StatusNotFound, Err: fmt.Errorf(format, args...)}
}

func badRequest(format string, args ...any) error {
	return &StatusError{Status: http.StatusBadRequest, Err: fmt.Errorf(format, args...)}
}

// statusOf is the HTTP status an error answers.
func statusOf(err error) int {
	var se *StatusError
	switch {
	case errors.As(err, &se):
		return se.Status
	case errors.Is(err, store.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, store.ErrConflict), errors.Is(err, store.ErrLeaseLost):
		return http.StatusConflict
	case errors.Is(err, context.Canceled):
		return 499
	}
	return http.StatusInternalServerError
}

func (h *Handler) loadStatic() error {
	h.static = map[string]staticFile{}
	entries, err := fs.ReadDir(files, "static")
	if err != nil {
		return fmt.Errorf("read embedded static files: %w", err)
	}
	for _, e := range entries {
		data, err := files.ReadFile("static/" + e.Name())
		if err != nil {
			return fmt.Errorf("read embedded %s: %w", e.Name(), err)
		}
		sum := sha256.Sum256(data)
		ctype := "application/octet-stream"
		switch {
		case strings.HasSuffix(e.Name(), ".css"):
			ctype = "text/css; charset=utf-8"
		case strings.HasSuffix(e.Name(), ".js"):
			ctype = "text/javascript; charset=utf-8"
		case strings.HasSuffix(e.Name(), ".svg"):
			ctype = "image/svg+xml"
		}
		h.static[e.Name()] = staticFile{data: data, version: hex.EncodeToString(sum[:6]), ctype: ctype}
	}
	return nil
}

// staticURL names a static file with its content hash, so it can be
// cached for good and still change with a new binary.
func (h *Handler) staticURL(name string) string {
	return "/-/static/" + name + "?v=" + h.static[name].version
}

func (h *Handler) serveStatic(w http.ResponseWriter, r *http.Request) {
	f, ok := h.static[r.PathValue("file")]
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", f.ctype)
	if r.URL.Query().Get("v") == f.version {
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		w.Header().Set("Cache-Control", "no-cache")
	}
	w.Header().Set("ETag", `"`+f.version+`"`)
	if r.Header.Get("If-None-Match") == `"`+f.version+`"` {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	_, _ = w.Write(f.data)
}

// pathID reads a numeric path segment.
func pathID(r *http.Request, name string) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue(name), 10, 64)
	if err != nil || id <= 0 {
		return 0, notFound("%s %q is not a number", name, r.PathValue(name))
	}
	return id, nil
}
