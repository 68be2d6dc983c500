package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestRoutes(t *testing.T) {
	tests := []struct {
		name       string
		env        map[string]string
		method     string
		path       string
		body       string
		wantStatus int
		wantBody   string // substring
		wantType   string
	}{
		{"root shows version", map[string]string{"GANTRY_VERSION": "v1.2.0"}, "GET", "/", "", 200, `"GANTRY_VERSION":"v1.2.0"`, "application/json"},
		{"root without version", nil, "GET", "/", "", 200, `"GANTRY_VERSION":"unknown"`, "application/json"},
		{"healthz", nil, "GET", "/healthz", "", 200, "ok", "text/plain; charset=utf-8"},
		{"users", nil, "GET", "/api/users", "", 200, `"name":"Alice"`, "application/json"},
		{"echo", nil, "POST", "/echo", "ping", 200, "ping", "text/plain"},
		{"unknown path", nil, "GET", "/nope", "", 404, "not found", ""},
		{"wrong method", nil, "DELETE", "/api/users", "", 405, "", ""},
		{"FAIL fails root", map[string]string{"FAIL": "1", "GANTRY_VERSION": "v2"}, "GET", "/", "", 500, `"GANTRY_VERSION":"v2"`, "application/json"},
		{"FAIL fails users", map[string]string{"FAIL": "1"}, "GET", "/api/users", "", 500, "FAIL=1", "application/json"},
		{"FAIL keeps healthz", map[string]string{"FAIL": "1"}, "GET", "/healthz", "", 200, "ok", ""},
		{"FAIL=0 is off", map[string]string{"FAIL": "0"}, "GET", "/", "", 200, "wasm-service", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHandler(configFromEnv(env(tt.env)))
			req := httptest.NewRequest(tt.method, tt.path, strings.NewReader(tt.body))
			if tt.body != "" {
				req.Header.Set("Content-Type", "text/plain")
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.wantStatus {
				t.Fatalf("status = %d, want %d; body %q", rec.Code, tt.wantStatus, rec.Body)
			}
			if !strings.Contains(rec.Body.String(), tt.wantBody) {
				t.Errorf("body %q does not contain %q", rec.Body, tt.wantBody)
			}
			if tt.wantType != "" && rec.Header().Get("Content-Type") != tt.wantType {
				t.Errorf("Content-Type = %q, want %q", rec.Header().Get("Content-Type"), tt.wantType)
			}
		})
	}
}

func TestUsersIsAJSONList(t *testing.T) {
	rec := httptest.NewRecorder()
	newHandler(configFromEnv(env(nil))).ServeHTTP(rec, httptest.NewRequest("GET", "/api/users", nil))
	var got []user
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatalf("decode %q: %v", rec.Body, err)
	}
	if len(got) != 3 || got[0].Name != "Alice" || got[2].Email != "carol@example.com" {
		t.Errorf("users = %+v", got)
	}
}

func TestDelayAppliesToAllButHealthz(t *testing.T) {
	h := newHandler(configFromEnv(env(map[string]string{"DELAY_MS": "150"})))
	srv := httptest.NewServer(h)
	defer srv.Close()
	for _, tt := range []struct {
		path    string
		delayed bool
	}{{"/", true}, {"/healthz", false}} {
		start := time.Now()
		resp, err := http.Get(srv.URL + tt.path)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		took := time.Since(start)
		if tt.delayed && took < 150*time.Millisecond {
			t.Errorf("GET %s took %s, want at least the 150ms delay", tt.path, took)
		}
		if resp.StatusCode != 200 {
			t.Errorf("GET %s = %d", tt.path, resp.StatusCode)
		}
	}
}

func TestConfigFromEnv(t *testing.T) {
	tests := []struct {
		env  map[string]string
		want config
	}{
		{nil, config{Version: "unknown"}},
		{map[string]string{"GANTRY_VERSION": "abc", "FAIL": "1", "DELAY_MS": "25"}, config{Version: "abc", Fail: true, Delay: 25 * time.Millisecond}},
		{map[string]string{"DELAY_MS": "-5"}, config{Version: "unknown"}},
		{map[string]string{"DELAY_MS": "soon", "FAIL": "yes"}, config{Version: "unknown"}},
	}
	for _, tt := range tests {
		if got := configFromEnv(env(tt.env)); got != tt.want {
			t.Errorf("configFromEnv(%v) = %+v, want %+v", tt.env, got, tt.want)
		}
	}
}
