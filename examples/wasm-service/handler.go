package main

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"
)

// config is what the service reads from its environment. Gantry sets
// GANTRY_VERSION on every replica; FAIL and DELAY_MS let rollout tests
// deploy a deliberately bad or slow revision without building a second
// module.
type config struct {
	Version string
	Fail    bool
	Delay   time.Duration
}

// configFromEnv reads config through getenv so tests need not touch the
// process environment.
func configFromEnv(getenv func(string) string) config {
	c := config{Version: getenv("GANTRY_VERSION"), Fail: getenv("FAIL") == "1"}
	if ms, err := strconv.Atoi(getenv("DELAY_MS")); err == nil && ms > 0 {
		c.Delay = time.Duration(ms) * time.Millisecond
	}
	if c.Version == "" {
		c.Version = "unknown"
	}
	return c
}

// user is one entry of the seed design's user service.
type user struct {
	ID    int    `json:"id"`
	Name  string `json:"name"`
	Email string `json:"email"`
}

var users = []user{
	{ID: 1, Name: "Alice", Email: "alice@example.com"},
	{ID: 2, Name: "Bob", Email: "bob@example.com"},
	{ID: 3, Name: "Carol", Email: "carol@example.com"},
}

// newHandler serves the routes. /healthz ignores FAIL and DELAY_MS: a
// failing or slow revision must still pass its health check, so the
// rollout starts and it is the canary analysis that catches it.
func newHandler(c config) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"service": "wasm-service", "GANTRY_VERSION": c.Version})
	})
	mux.HandleFunc("GET /api/users", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, users)
	})
	mux.HandleFunc("POST /echo", func(w http.ResponseWriter, r *http.Request) {
		body, err := readAll(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", r.Header.Get("Content-Type"))
		w.Header().Set("X-Echo-Length", strconv.Itoa(len(body)))
		w.Header().Set("X-Echo-Query", r.URL.RawQuery)
		if id := r.Header.Get("X-Request-Id"); id != "" {
			w.Header().Set("X-Request-Id", id)
		}
		_, _ = w.Write(body)
	})
	return faults(c, mux)
}

// faults applies DELAY_MS and FAIL to every route but /healthz.
func faults(c config, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			next.ServeHTTP(w, r)
			return
		}
		if c.Delay > 0 {
			select {
			case <-time.After(c.Delay):
			case <-r.Context().Done():
				return
			}
		}
		if c.Fail {
			writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "FAIL=1 is set", "GANTRY_VERSION": c.Version})
			return
		}
		w.Header().Set("X-Gantry-Version", c.Version)
		next.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
