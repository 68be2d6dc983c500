package deploy_test

import (
	"context"
	"fmt"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/gantry-ci/gantry/internal/deploy"
)

// A controller killed with SIGKILL mid-canary and started again over the
// same store and data folder restarts the replicas, restores the traffic
// split, stays at the same step and weight, and ends a timed pause when
// it was due from its persisted start, not a full pause after the
// restart.
func TestCrashedControllerResumesCanary(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	addr := freeAddr(t)
	const pause = 5 * time.Second
	spec := processSpec(t, "api", 2, fmt.Sprintf(`  production:
    listen: %s
    strategy:
      canary:
        steps: [{setWeight: 25}, {pause: {duration: %s}}, {setWeight: 50}, {pause: {}}]
`, addr, pause))

	first := startChild(t, dir)
	a := newAPI(t, first.url)
	for _, v := range []string{"v1", "v2"} {
		if code, body := a.deploy("demo", "api", "production", spec, v, ""); code != http.StatusCreated {
			t.Fatalf("deploy %s: %d %s", v, code, body)
		}
	}
	before := a.waitStatus("demo", "api", "production", "the timed pause", func(s *deploy.Status) bool {
		return s.Phase == "Paused" && s.Step == 1 && s.Weight == 25
	})
	pauseStart := eventTime(t, before, "PauseStarted")
	var pids []int
	for _, r := range before.Revisions {
		for _, rep := range r.Replicas {
			pids = append(pids, rep.PID)
		}
	}
	time.Sleep(2 * time.Second)
	first.kill()
	for _, pid := range pids {
		waitGone(t, pid) // the replicas died with their controller
	}

	second := startChild(t, dir)
	restarted := time.Now()
	a = newAPI(t, second.url)
	st := a.status("demo", "api", "production")
	if st == nil || st.Step != 1 || st.Weight != 25 || st.Phase != "Paused" || st.Canary == nil || st.Canary.Revision != 2 {
		t.Fatalf("after the crash the rollout is not where it was: %s", describe(st))
	}
	st = a.waitStatus("demo", "api", "production", "the next step", func(s *deploy.Status) bool { return s.Weight == 50 })
	ended := eventTime(t, st, "PauseEnded")
	if ended.Before(pauseStart.Add(pause)) || !ended.Before(restarted.Add(pause)) {
		t.Errorf("the pause began %s and ended %s after the restart at %s: want it to last %s from its persisted start",
			pauseStart.Format(time.StampMilli), ended.Format(time.StampMilli), restarted.Format(time.StampMilli), pause)
	}
	a.waitStatus("demo", "api", "production", "both revisions ready", func(s *deploy.Status) bool {
		// 50% of 2 replicas is one canary replica.
		return len(s.Revisions) == 2 && s.Revisions[0].Ready == 2 && s.Revisions[1].Ready == 1
	})
	got := sample(t, st.URL, 400, 4)
	if got["v1"] != 200 || got["v2"] != 200 {
		t.Errorf("restored split at 50%% answered %v, want 200 each", got)
	}

	// Crash again at the indefinite pause, and come back in this process.
	second.kill()
	h := &harness{t: t, dir: dir, project: "demo"}
	h.start()
	k := h.key("api", "production")
	st, err := h.c.Status(context.Background(), k)
	if err != nil || st.Step != 3 || st.Weight != 50 || st.Phase != "Paused" {
		t.Fatalf("after the second crash: %v %s", err, describe(st))
	}
	if _, err := h.c.Promote(context.Background(), k, false, "tester"); err != nil {
		t.Fatal(err)
	}
	h.waitHealthy(k, 2)
}

// eventTime is when the status's last event of that reason happened.
func eventTime(t *testing.T, st *deploy.Status, reason string) time.Time {
	t.Helper()
	for i := len(st.Events) - 1; i >= 0; i-- {
		if st.Events[i].Reason == reason {
			return st.Events[i].Time
		}
	}
	t.Fatalf("no %s event in %s", reason, describe(st))
	return time.Time{}
}

// waitGone waits until no process has pid.
func waitGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if syscall.Kill(pid, 0) != nil {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("replica %d outlived its controller", pid)
}
