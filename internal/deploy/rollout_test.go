package deploy_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/gantry-ci/gantry/internal/deploy"
)

// A rolling update under steady load: every request succeeds, and once
// Healthy only the new version answers.
func TestRollingUpdateFailsNoRequest(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	addr := freeAddr(t)
	spec := processSpec(t, "api", 3, fmt.Sprintf(`  staging:
    listen: %s
    strategy: {rolling: {maxSurge: 1, maxUnavailable: 0}}
`, addr))
	k := h.key("api", "staging")
	rev := h.deploy(spec, "staging", "v1", nil)
	if rev.Revision != 1 {
		t.Fatalf("first revision is %d, want 1", rev.Revision)
	}
	st := h.waitHealthy(k, 1)
	if st.URL != "http://"+addr {
		t.Errorf("url = %q, want http://%s", st.URL, addr)
	}
	l := startLoad(t, st.URL, 3)
	time.Sleep(200 * time.Millisecond)
	h.deploy(spec, "staging", "v2", nil)
	h.waitHealthy(k, 2)
	waitOnlyRevisions(t, h, k, 2)
	l.check(t)
	if got := sample(t, st.URL, 30, 2); got["v2"] != 30 {
		t.Errorf("after the update answers were %v, want only v2", got)
	}
}

// Blue-green: the new revision answers on the preview address only until
// promoted, then takes all traffic at once; the old one stays warm, so
// undo switches back without starting anything.
func TestBlueGreenPromoteAndInstantUndo(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	addr, preview := freeAddr(t), freeAddr(t)
	spec := processSpec(t, "shop", 2, fmt.Sprintf(`  production:
    listen: %s
    strategy:
      blueGreen: {previewListen: %q, autoPromotionEnabled: false, scaleDownDelaySeconds: 60}
`, addr, preview))
	k := h.key("shop", "production")
	h.deploy(spec, "production", "blue", nil)
	st := h.waitHealthy(k, 1)
	l := startLoad(t, st.URL, 3)

	h.deploy(spec, "production", "green", nil)
	st = h.waitStatus(k, "preview ready and paused", func(s *deploy.Status) bool { return s.Phase == "Paused" })
	if st.PreviewURL != "http://"+preview {
		t.Errorf("previewUrl = %q, want http://%s", st.PreviewURL, preview)
	}
	if got := sample(t, st.PreviewURL, 20, 2); got["green"] != 20 {
		t.Errorf("preview answered %v, want only green", got)
	}
	if got := sample(t, st.URL, 40, 2); got["blue"] != 40 {
		t.Errorf("before promotion the main address answered %v, want only blue", got)
	}
	// Paused means paused: nothing moves without a promote.
	time.Sleep(500 * time.Millisecond)
	if st, _ := h.c.Status(context.Background(), k); st.Phase != "Paused" || st.Stable.Revision != 1 {
		t.Fatalf("rollout moved without promote: %s", describe(st))
	}
	if _, err := h.c.Promote(context.Background(), k, false, "tester"); err != nil {
		t.Fatal(err)
	}
	h.waitHealthy(k, 2)
	if got := sample(t, st.URL, 40, 2); got["green"] != 40 {
		t.Errorf("after promotion the main address answered %v, want only green", got)
	}

	// Undo within the scale-down delay: traffic is back on blue as soon
	// as Undo returns, and no revision is created.
	st, err := h.c.Undo(context.Background(), k, 0, "tester")
	if err != nil {
		t.Fatal(err)
	}
	if st.Stable.Revision != 1 || st.Canary != nil {
		t.Fatalf("undo did not switch back to revision 1: %s", describe(st))
	}
	if got := sample(t, st.URL, 40, 2); got["blue"] != 40 {
		t.Errorf("right after undo the main address answered %v, want only blue", got)
	}
	hist, _ := h.c.History(context.Background(), k)
	if len(hist) != 2 {
		t.Errorf("undo within the delay created a revision: history %+v", hist)
	}
	l.check(t)
}

// waitOnlyRevisions waits until only the given revisions run replicas.
func waitOnlyRevisions(t *testing.T, h *harness, k deploy.Key, revs ...int64) {
	t.Helper()
	h.waitStatus(k, fmt.Sprintf("only revisions %v running", revs), func(s *deploy.Status) bool {
		if len(s.Revisions) != len(revs) {
			return false
		}
		for i, r := range s.Revisions {
			if r.Revision != revs[i] {
				return false
			}
		}
		return true
	})
}
