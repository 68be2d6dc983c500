package e2edeploy

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// The example deployed to production as a canary with --set FAIL=1, under
// load, is rolled back by the default guardrail without anyone asking:
// `gantry rollout status --json` says Degraded with a reason naming
// error_rate, stable keeps serving, and `rollout analysis` explains it.
func TestFailingCanaryRolledBackAutomatically(t *testing.T) {
	s := startServer(t)
	dir, listens := exampleDir(t)
	s.addProject("wasm-service")
	deploy := func(version string, extra ...string) {
		args := append([]string{"deploy", "--env", "production", "--version", version, "--artifact", wasmFile, "--project", "wasm-service"}, extra...)
		s.mustGantry(dir, args...)
	}
	deploy("v1", "--wait")
	url := "http://" + listens["production"] + "/"

	// About 50 requests per second from the test, loopback only.
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	c := &http.Client{Timeout: 10 * time.Second}
	for range 2 {
		wg.Go(func() {
			for ctx.Err() == nil {
				if resp, err := c.Get(url); err == nil {
					resp.Body.Close()
				}
				time.Sleep(40 * time.Millisecond)
			}
		})
	}
	defer wg.Wait()
	defer cancel()

	deploy("v2", "--set", "FAIL=1")
	s.waitStatus(dir, "production", "the automatic rollback", func(st rolloutStatus) bool { return st.Phase == "Degraded" })
	out := s.mustGantry(dir, "rollout", "status", "wasm-service", "--env", "production", "--project", "wasm-service", "--json")
	var st struct {
		Phase       string `json:"phase"`
		AbortReason string `json:"abortReason"`
		Weight      int    `json:"weight"`
		Stable      struct {
			Version string `json:"version"`
		} `json:"stable"`
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatal(err)
	}
	if st.Phase != "Degraded" || !strings.Contains(st.AbortReason, "error_rate") || st.Weight != 0 || st.Stable.Version != "v1" {
		t.Errorf("after the rollback, status --json:\n%s", out)
	}
	if got := versions(t, url, 10); got["v1"] != 10 {
		t.Errorf("after the rollback production answered %v, want only v1", got)
	}
	out = s.mustGantry(dir, "rollout", "analysis", "wasm-service", "--env", "production", "--project", "wasm-service")
	if !strings.Contains(out, "guardrails Failed") || !strings.Contains(out, "error_rate") {
		t.Errorf("rollout analysis does not explain the verdict:\n%s", out)
	}
}
