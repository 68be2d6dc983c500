package deploy_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gantry-ci/gantry/internal/deploy"
)

func canarySpec(t testing.TB, app, addr string) string {
	return processSpec(t, app, 2, fmt.Sprintf(`  production:
    listen: %s
    strategy:
      canary:
        canaryHeader: {name: canary, value: "true"}
        steps:
          - setWeight: 20
          - pause: {}
          - setWeight: 50
          - pause: {duration: 300ms}
`, addr))
}

// A canary walks its steps under load: the weight is exact to ±1% over
// 10,000 requests, the canary header reaches the canary at any weight,
// an indefinite pause holds until promote, and the rollout completes
// without a failed request.
func TestCanaryStepsWeightsAndHeader(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	k := h.key("api", "production")
	spec := canarySpec(t, "api", freeAddr(t))
	h.deploy(spec, "production", "v1", nil)
	st := h.waitHealthy(k, 1)
	l := startLoad(t, st.URL, 2)

	h.deploy(spec, "production", "v2", nil)
	st = h.waitStatus(k, "paused at 20%", func(s *deploy.Status) bool { return s.Phase == "Paused" && s.Weight == 20 })
	if st.Step != 1 || st.Steps != 4 || st.Canary == nil || st.Canary.Version != "v2" || st.Stable.Version != "v1" {
		t.Fatalf("paused status is wrong: %s", describe(st))
	}
	l.stop() // the weight sample must be the only traffic
	got := sample(t, st.URL, 10000, 8)
	if share := float64(got["v2"]) / 10000; share < 0.19 || share > 0.21 {
		t.Errorf("canary got %.2f%% of 10000 requests (%v), want 20%% ± 1%%", share*100, got)
	}
	if got := sample(t, st.URL, 50, 2, "canary", "true"); got["v2"] != 50 {
		t.Errorf("requests with the canary header reached %v, want only v2", got)
	}
	l = startLoad(t, st.URL, 2)

	time.Sleep(500 * time.Millisecond)
	if st, _ := h.c.Status(context.Background(), k); st.Phase != "Paused" || st.Step != 1 {
		t.Fatalf("an indefinite pause ended without promote: %s", describe(st))
	}
	if _, err := h.c.Promote(context.Background(), k, false, "tester"); err != nil {
		t.Fatal(err)
	}
	h.waitHealthy(k, 2)
	l.check(t)
	if got := sample(t, st.URL, 40, 2); got["v2"] != 40 {
		t.Errorf("after promotion answers were %v, want only v2", got)
	}
	if n := h.metric("deployment_successful_total", "production", "api"); n != 2 {
		t.Errorf("deployment_successful_total = %v, want 2", n)
	}
	// Promote with nothing to promote is refused, not silently ignored.
	if _, err := h.c.Promote(context.Background(), k, false, "tester"); !errors.Is(err, deploy.ErrConflict) {
		t.Errorf("promote of a healthy rollout: err = %v, want ErrConflict", err)
	}
}

// Abort sends every request back to the stable revision at once; retry
// rolls the canary out again from the first step.
func TestCanaryAbortAndRetry(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	k := h.key("api", "production")
	spec := canarySpec(t, "api", freeAddr(t))
	h.deploy(spec, "production", "v1", nil)
	st := h.waitHealthy(k, 1)
	h.deploy(spec, "production", "v2", map[string]string{"FAIL": "1"})
	h.waitStatus(k, "paused at 20%", func(s *deploy.Status) bool { return s.Phase == "Paused" && s.Weight == 20 })
	code, body, err := get(newClient(), st.URL, "canary", "true")
	if err != nil || code != 500 || !strings.Contains(body, "version=v2") {
		t.Fatalf("--set FAIL=1 canary answered %d %q %v, want 500 from v2", code, body, err)
	}

	st, err = h.c.Abort(context.Background(), k, "tester")
	if err != nil {
		t.Fatal(err)
	}
	if st.Phase != "Aborted" || st.Weight != 0 {
		t.Fatalf("after abort: %s", describe(st))
	}
	// The traffic split changed before Abort returned: no request, with
	// or without the header, reaches the canary any more.
	if got := sample(t, st.URL, 100, 4); got["v1"] != 100 {
		t.Errorf("after abort answers were %v, want only v1", got)
	}
	waitOnlyRevisions(t, h, k, 1)
	if got := sample(t, st.URL, 20, 2, "canary", "true"); got["v1"] != 20 {
		t.Errorf("after abort header requests reached %v, want only v1", got)
	}
	if n := h.metric("rollbacks_total", "production", "api"); n != 1 {
		t.Errorf("rollbacks_total = %v, want 1", n)
	}
	hist, _ := h.c.History(context.Background(), k)
	if len(hist) != 2 || hist[1].Phase != "Aborted" {
		t.Errorf("history after abort: %+v", hist)
	}

	st, err = h.c.Retry(context.Background(), k, "tester")
	if err != nil {
		t.Fatal(err)
	}
	h.waitStatus(k, "retried canary paused at 20%", func(s *deploy.Status) bool {
		return s.Phase == "Paused" && s.Weight == 20 && s.Canary != nil && s.Canary.Revision == 2
	})
	// promote --full skips the remaining steps.
	if _, err := h.c.Promote(context.Background(), k, true, "tester"); err != nil {
		t.Fatal(err)
	}
	h.waitHealthy(k, 2)
}

// Pause holds a rollout at its step; promote resumes it.
func TestPauseRequestHoldsRollout(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	k := h.key("api", "staging")
	spec := processSpec(t, "api", 1, fmt.Sprintf(`  staging:
    listen: %s
    strategy:
      canary:
        steps: [{setWeight: 30}, {pause: {duration: 1s}}, {setWeight: 60}, {pause: {duration: 1s}}]
`, freeAddr(t)))
	h.deploy(spec, "staging", "v1", nil)
	h.waitHealthy(k, 1)
	h.deploy(spec, "staging", "v2", nil)
	h.waitStatus(k, "weight 30", func(s *deploy.Status) bool { return s.Weight == 30 })
	if _, err := h.c.Pause(context.Background(), k, "tester"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond) // longer than the timed pause
	st, _ := h.c.Status(context.Background(), k)
	if st.Phase != "Paused" || st.Weight != 30 {
		t.Fatalf("a paused rollout moved: %s", describe(st))
	}
	if _, err := h.c.Promote(context.Background(), k, false, "tester"); err != nil {
		t.Fatal(err)
	}
	h.waitHealthy(k, 2)
}
