package deploy_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gantry-ci/gantry/internal/deploy"
)

// tokenAuth is the server's job in miniature: a bearer token names the
// caller.
func tokenAuth(r *http.Request, _ string, write bool) (deploy.Caller, error) {
	switch r.Header.Get("Authorization") {
	case "Bearer admin":
		return deploy.Caller{Name: "admin", Admin: true}, nil
	case "Bearer job":
		return deploy.Caller{Name: "job 7", JobID: 7}, nil
	case "Bearer played":
		return deploy.Caller{Name: "job 8", JobID: 8, JobPlayedByUser: true}, nil
	case "Bearer reader":
		if write {
			return deploy.Caller{}, fmt.Errorf("read-only token: %w", deploy.ErrForbidden)
		}
		return deploy.Caller{Name: "reader"}, nil
	}
	return deploy.Caller{}, errors.New("a valid token is required")
}

// asToken wraps a client so each request carries a bearer token.
type asToken struct {
	token string
	rt    http.RoundTripper
}

func (a asToken) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+a.token)
	return a.rt.RoundTrip(r)
}

func (a *api) as(token string) *api {
	c := *a
	c.hc = &http.Client{Timeout: a.hc.Timeout, Transport: asToken{token: token, rt: http.DefaultTransport}}
	return &c
}

// The wasm example through the HTTP API: uploaded as the artifact,
// answering with its GANTRY_VERSION, failing every request under
// --set FAIL=1, a production deploy refused to a job nobody approved,
// the status contract, history and undo.
func TestAPIDeploysWasmExample(t *testing.T) {
	t.Parallel()
	module, _ := exampleWasm(t)
	h := newHarness(t)
	srv := httptest.NewServer(h.c.Handler(tokenAuth))
	t.Cleanup(srv.Close)
	base := newAPI(t, srv.URL)
	spec := fmt.Sprintf(`app: wasm-service
runtime: {kind: wasm, module: service.wasm}
# Generous: under the race detector one WAGI request instantiates a Go
# runtime slowly, and a slow probe must not take the replica out.
healthCheck: {path: /healthz, interval: 1s, timeout: 10s}
environments:
  staging: {listen: %q}
  production:
    listen: %q
    strategy: {canary: {steps: [{setWeight: 50}, {pause: {}}]}}
`, freeAddr(t), freeAddr(t))
	job, admin := base.as("job"), base.as("admin")

	if code, body := job.deploy("demo", "wasm-service", "staging", spec, "v1", module); code != http.StatusCreated {
		t.Fatalf("staging deploy: %d %s", code, body)
	}
	st := job.waitStatus("demo", "wasm-service", "staging", "staging Healthy", func(s *deploy.Status) bool { return s.Phase == "Healthy" })
	code, body, err := get(newClient(), st.URL+"/")
	if err != nil || code != 200 || !strings.Contains(body, `"GANTRY_VERSION":"v1"`) {
		t.Fatalf("GET / answered %d %q %v, want GANTRY_VERSION v1", code, body, err)
	}

	// The status contract, read as a client that knows nothing of Go.
	_, raw := job.do(http.MethodGet, "demo/wasm-service/staging/status", "", nil)
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	stable, _ := m["stable"].(map[string]any)
	if m["phase"] != "Healthy" || stable["revision"] != 1.0 || stable["version"] != "v1" || m["canary"] != nil ||
		m["weight"] != 0.0 || m["step"] != 0.0 || m["url"] != st.URL || !strings.HasPrefix(st.URL, "http://127.0.0.1:") {
		t.Errorf("status JSON breaks the contract: %s", raw)
	}

	if code, body := job.deploy("demo", "wasm-service", "staging", spec, "v2", module, "FAIL=1"); code != http.StatusCreated {
		t.Fatalf("staging deploy with FAIL=1: %d %s", code, body)
	}
	job.waitStatus("demo", "wasm-service", "staging", "v2 Healthy", func(s *deploy.Status) bool {
		return s.Phase == "Healthy" && s.Stable.Revision == 2 && len(s.Revisions) == 1
	})
	for _, path := range []string{"/", "/api/users"} {
		if code, body, _ := get(newClient(), st.URL+path); code != 500 || !strings.Contains(body, "v2") {
			t.Errorf("GET %s under FAIL=1 answered %d %q, want 500", path, code, body)
		}
	}

	if code, body := job.deploy("demo", "wasm-service", "production", spec, "v1", module); code != http.StatusForbidden || !strings.Contains(string(body), "production") {
		t.Errorf("production deploy by an unapproved job: %d %s, want 403", code, body)
	}
	if code, body := base.as("played").deploy("demo", "wasm-service", "production", spec, "v1", module); code != http.StatusCreated {
		t.Fatalf("production deploy by a played manual job: %d %s", code, body)
	}
	admin.waitStatus("demo", "wasm-service", "production", "production Healthy", func(s *deploy.Status) bool { return s.Phase == "Healthy" })
	if code, body := admin.deploy("demo", "wasm-service", "production", spec, "v2", module, "FAIL=1"); code != http.StatusCreated {
		t.Fatalf("production canary: %d %s", code, body)
	}
	prod := admin.waitStatus("demo", "wasm-service", "production", "canary at 50%", func(s *deploy.Status) bool {
		return s.Phase == "Paused" && s.Weight == 50
	})
	if code, _, _ := get(newClient(), prod.URL+"/", "canary", "true"); code != 500 {
		t.Errorf("the FAIL=1 canary through the canary header answered %d, want 500", code)
	}
	if code, body := base.as("reader").action("demo", "wasm-service", "production", "undo"); code != http.StatusForbidden {
		t.Errorf("undo with a read-only token: %d %s, want 403", code, body)
	}
	for _, action := range []string{"promote", "undo"} {
		if code, body := job.action("demo", "wasm-service", "production", action); code != http.StatusForbidden || !strings.Contains(string(body), "production") {
			t.Errorf("%s of production by an unapproved job: %d %s, want 403", action, code, body)
		}
	}
	if code, body := admin.action("demo", "wasm-service", "production", "undo"); code != http.StatusOK {
		t.Fatalf("undo: %d %s", code, body)
	}
	if got := sample(t, prod.URL+"/", 20, 2); got["v1"] != 20 {
		t.Errorf("after undo production answered %v, want only v1", got)
	}
	_, raw = admin.do(http.MethodGet, "demo/wasm-service/production/history", "", nil)
	var hist []map[string]any
	if err := json.Unmarshal(raw, &hist); err != nil {
		t.Fatal(err)
	}
	if len(hist) != 2 || hist[0]["revision"] != 1.0 || hist[0]["version"] != "v1" || hist[0]["phase"] != "Healthy" ||
		hist[1]["phase"] != deploy.RevisionAbandoned {
		t.Errorf("history JSON: %s", raw)
	}
}

// Bad specs and requests are refused with reasons; spec errors point at
// the line and column.
func TestAPIRefusesBadDeploys(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	srv := httptest.NewServer(h.c.Handler(tokenAuth))
	t.Cleanup(srv.Close)
	a := newAPI(t, srv.URL).as("admin")
	good := processSpec(t, "api", 1, fmt.Sprintf("  staging: {listen: %q}\n", freeAddr(t)))
	for _, tc := range []struct {
		name, app, env, spec, version string
		status                        int
		want                          string
		line                          float64
	}{
		{"unknown key", "api", "staging", "app: api\nruntime: {command: [x]}\nreplica: 2\nenvironments: {staging: {listen: 127.0.0.1:1}}\n", "v1", 400, `gantry.deploy.yaml:3:1: has unknown key \"replica\" (did you mean \"replicas\"?)`, 3},
		{"syntax", "api", "staging", "app: api\nenvironments: [\n", "v1", 400, "gantry.deploy.yaml:", 2},
		{"unknown env", "api", "qa", good, "v1", 400, `environment \"qa\" is not defined (it defines: staging)`, 0},
		{"app mismatch", "other", "staging", good, "v1", 400, `names the app \"api\"`, 0},
		{"no version", "api", "staging", good, "", 400, "no version label", 0},
		{"wasm without artifact", "w", "staging", "app: w\nruntime: {module: w.wasm}\nenvironments: {staging: {listen: 127.0.0.1:1}}\n", "v1", 400, "give --artifact", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := a.deploy("demo", tc.app, tc.env, tc.spec, tc.version, "")
			if code != tc.status || !strings.Contains(string(body), tc.want) {
				t.Fatalf("got %d %s, want %d containing %q", code, body, tc.status, tc.want)
			}
			var e struct {
				Errors []struct {
					Line float64 `json:"line"`
				} `json:"errors"`
			}
			_ = json.Unmarshal(body, &e)
			if tc.line > 0 && (len(e.Errors) == 0 || e.Errors[0].Line < tc.line-0.5) {
				t.Errorf("errors carry no line %v: %s", tc.line, body)
			}
		})
	}
	if code, body := a.action("demo", "nope", "staging", "promote"); code != http.StatusNotFound {
		t.Errorf("promote of an unknown rollout: %d %s, want 404", code, body)
	}
	if code, _ := newAPI(t, srv.URL).deploy("demo", "api", "staging", good, "v1", ""); code != http.StatusUnauthorized {
		t.Errorf("deploy without a token: %d, want 401", code)
	}
}
