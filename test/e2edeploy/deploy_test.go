package e2edeploy

import (
	"encoding/json"
	"strings"
	"syscall"
	"testing"
)

// The example service from `gantry deploy` to staging and production:
// the status contract, GANTRY_VERSION in every answer, --set FAIL=1
// failing every request, a production canary that survives a SIGKILL of
// the server at the same step and weight, undo, and history.
func TestDeployExampleToStagingAndProduction(t *testing.T) {
	s := startServer(t)
	dir, listens := exampleDir(t)
	s.addProject("wasm-service")
	deploy := func(env, version string, extra ...string) string {
		args := append([]string{"deploy", "--env", env, "--version", version, "--artifact", wasmFile, "--project", "wasm-service"}, extra...)
		return s.mustGantry(dir, args...)
	}

	// Staging: the first revision, followed until Healthy.
	out := deploy("staging", "v1", "--wait")
	if !strings.Contains(out, "Healthy") {
		t.Errorf("deploy --wait printed no Healthy:\n%s", out)
	}
	st, raw := s.status(dir, "staging")
	if st.Phase != "Healthy" || st.Stable == nil || st.Stable.Revision != 1 || st.Stable.Version != "v1" ||
		st.Canary != nil || st.Weight != 0 || st.URL != "http://"+listens["staging"] {
		t.Errorf("status --json breaks the contract:\n%s", raw)
	}
	var keys map[string]json.RawMessage
	_ = json.Unmarshal([]byte(raw), &keys)
	for _, k := range []string{"phase", "stable", "canary", "weight", "step", "url"} {
		if _, ok := keys[k]; !ok {
			t.Errorf("status --json has no %q:\n%s", k, raw)
		}
	}
	if got := versions(t, st.URL+"/", 10); got["v1"] != 10 {
		t.Errorf("staging answered %v, want GANTRY_VERSION v1", got)
	}

	// --set FAIL=1: the revision passes its health check but fails every
	// request.
	deploy("staging", "v2", "--set", "FAIL=1", "--wait")
	if got := versions(t, st.URL+"/", 10); got["500"] != 10 {
		t.Errorf("with FAIL=1 staging answered %v, want only 500s", got)
	}
	if code, _, _ := get(st.URL + "/api/users"); code != 500 {
		t.Errorf("GET /api/users with FAIL=1: %d, want 500", code)
	}
	// Undo rolls v1 forward again as revision 3.
	s.mustGantry(dir, "rollout", "undo", "wasm-service", "--env", "staging", "--project", "wasm-service")
	s.mustGantry(dir, "rollout", "watch", "wasm-service", "--env", "staging", "--project", "wasm-service")
	if st, raw := s.status(dir, "staging"); st.Stable.Revision != 3 || st.Stable.Version != "v1" {
		t.Errorf("after undo:\n%s", raw)
	}
	if got := versions(t, st.URL+"/", 10); got["v1"] != 10 {
		t.Errorf("after undo staging answered %v, want v1", got)
	}

	// Production: a canary, paused by hand mid-way, then the server is
	// killed.
	deploy("production", "v1", "--wait")
	deploy("production", "v2")
	s.waitStatus(dir, "production", "the canary taking traffic", func(st rolloutStatus) bool {
		return st.Canary != nil && st.Weight > 0
	})
	s.mustGantry(dir, "rollout", "pause", "wasm-service", "--env", "production", "--project", "wasm-service")
	before := s.waitStatus(dir, "production", "the pause", func(st rolloutStatus) bool { return st.Phase == "Paused" })
	if code, body, _ := get("http://"+listens["production"]+"/", "canary", "true"); code != 200 || !strings.Contains(body, "v2") {
		t.Errorf("the canary header reached %d %q, want v2", code, body)
	}
	s.Stop(syscall.SIGKILL)
	s.Start()
	after := s.waitStatus(dir, "production", "the restored canary", func(st rolloutStatus) bool { return st.Phase != "" })
	if after.Phase != "Paused" || after.Step != before.Step || after.Weight != before.Weight ||
		after.Canary == nil || after.Canary.Revision != before.Canary.Revision {
		t.Errorf("after SIGKILL and restart: %+v, want %+v", after, before)
	}
	// The restored split serves both revisions (the canary's replicas
	// start again first).
	s.waitStatus(dir, "production", "canary replicas back", func(rolloutStatus) bool {
		got := versions(t, after.URL+"/", 20)
		return got["v1"] > 0 && got["v2"] > 0 && got["v1"]+got["v2"] == 20
	})

	// Undo during the canary: all traffic back on v1 at once.
	s.mustGantry(dir, "rollout", "undo", "wasm-service", "--env", "production", "--project", "wasm-service")
	if got := versions(t, after.URL+"/", 20); got["v1"] != 20 {
		t.Errorf("after undo production answered %v, want only v1", got)
	}
	out = s.mustGantry(dir, "rollout", "history", "wasm-service", "--env", "production", "--project", "wasm-service", "--json")
	var hist []struct {
		Revision int64  `json:"revision"`
		Version  string `json:"version"`
		Phase    string `json:"phase"`
	}
	if err := json.Unmarshal([]byte(out), &hist); err != nil || len(hist) != 2 ||
		hist[0].Revision != 1 || hist[0].Version != "v1" || hist[0].Phase != "Healthy" || hist[1].Version != "v2" || hist[1].Phase == "" {
		t.Errorf("history --json: %v\n%s", err, out)
	}
}
