package strategy

import (
	"testing"
	"time"

	"github.com/gantry-ci/gantry/internal/deploy/spec"
)

func rolling(surge, unavailable string) spec.Strategy {
	s, err1 := spec.ParseIntOrPercent(surge)
	u, err2 := spec.ParseIntOrPercent(unavailable)
	if err1 != nil || err2 != nil {
		panic("bad test fencepost")
	}
	return spec.Strategy{Rolling: &spec.Rolling{MaxSurge: s, MaxUnavailable: u}}
}

func TestFenceposts(t *testing.T) {
	tests := []struct {
		surge, unavailable string
		replicas           int
		wantS, wantU       int
	}{
		{"25%", "25%", 4, 1, 1},
		{"25%", "25%", 1, 1, 0}, // surge rounds up, unavailable down
		{"25%", "25%", 10, 3, 2},
		{"0", "25%", 1, 0, 1}, // both resolve to 0: one may be unavailable
		{"0%", "0%", 5, 0, 1},
		{"2", "1", 5, 2, 1},
		{"0", "100%", 3, 0, 3},
		{"0", "5", 3, 0, 3}, // at most all of them
		{"25%", "25%", 0, 0, 1},
	}
	for _, tt := range tests {
		s, u := Fenceposts(*rolling(tt.surge, tt.unavailable).Rolling, tt.replicas)
		if s != tt.wantS || u != tt.wantU {
			t.Errorf("surge %s unavailable %s of %d = %d, %d; want %d, %d", tt.surge, tt.unavailable, tt.replicas, s, u, tt.wantS, tt.wantU)
		}
	}
}

// TestRollingDefault walks 25%/25% over 4 replicas: one new replica at a
// time, one old one removed as each new one is ready, like the
// v1 v1 v1 v1 → v1 v1 v1 v2 → … picture of the design.
func TestRollingDefault(t *testing.T) {
	s := newSim(t, rolling("25%", "25%"), 4)
	s.begin(2)
	s.expect(s.tick(RequestNone), "Progressing | r1=3 r2=1 | active=r1 canary=r2@0 |")
	s.converge()
	s.expect(s.tick(RequestNone), "Progressing | r1=2 r2=2 | active=r1 canary=r2@33 |")
	s.converge()
	s.expect(s.tick(RequestNone), "Progressing | r1=1 r2=3 | active=r1 canary=r2@67 |")
	s.converge()
	s.expect(s.tick(RequestNone), "Progressing | r2=4 | active=r1 canary=r2@100 |")
	s.converge()
	d := s.tick(RequestNone)
	s.expect(d, "Healthy | r2=4 | active=r2 | Promoted")
	if d.State.StableRevision != 2 || d.State.CanaryRevision != 0 {
		t.Errorf("stable %d canary %d", d.State.StableRevision, d.State.CanaryRevision)
	}
}

// TestRollingOneReplica: 25% surge of one replica rounds up to one, and
// 25% unavailable rounds down to zero, so the old replica stays until the
// new one is ready.
func TestRollingOneReplica(t *testing.T) {
	s := newSim(t, rolling("25%", "25%"), 1)
	s.begin(2)
	s.expect(s.tick(RequestNone), "Progressing | r1=1 r2=1 | active=r1 canary=r2@0 |")
	s.set(2, 1, 0)
	s.expect(s.tick(RequestNone), "Progressing | r1=1 r2=1 | active=r1 canary=r2@0 |")
	s.set(2, 1, 1)
	s.expect(s.tick(RequestNone), "Healthy | r2=1 | active=r2 | Promoted")
}

// TestRollingAllUnavailable: maxUnavailable 100% with no surge stops
// everything first, like Kubernetes' Recreate.
func TestRollingAllUnavailable(t *testing.T) {
	s := newSim(t, rolling("0", "100%"), 3)
	s.begin(2)
	s.expect(s.tick(RequestNone), "Progressing | | active=r1 |")
	s.converge()
	s.expect(s.tick(RequestNone), "Progressing | r2=3 | active=r1 canary=r2@0 |")
	s.converge()
	s.expect(s.tick(RequestNone), "Healthy | r2=3 | active=r2 | Promoted")
}

func TestRollingZeroReplicas(t *testing.T) {
	s := newSim(t, rolling("25%", "25%"), 0)
	s.begin(2)
	s.expect(s.tick(RequestNone), "Healthy | | active=r2 | Promoted")
}

// TestRollingReadinessGate: new replicas that never become ready keep every
// old replica serving; the deadline marks the rollout Degraded; abort rolls
// back without ever dropping below three ready replicas.
func TestRollingReadinessGate(t *testing.T) {
	s := newSim(t, rolling("1", "0"), 3)
	s.p.ProgressDeadline = time.Minute
	s.begin(2)
	s.expect(s.tick(RequestNone), "Progressing | r1=3 r2=1 | active=r1 canary=r2@0 |")
	s.set(2, 1, 0)
	for range 3 {
		s.advance(20 * time.Second)
		s.expect(s.tick(RequestNone), "Progressing | r1=3 r2=1 | active=r1 canary=r2@0 |")
	}
	s.advance(time.Second)
	s.expect(s.tick(RequestNone), "Degraded | r1=3 r2=1 | active=r1 canary=r2@0 | ProgressDeadlineExceeded")
	// resume restarts the clock without changing what is asked for.
	s.expect(s.tick(RequestResume), "Progressing | r1=3 r2=1 | active=r1 canary=r2@0 | Retried")
	s.expect(s.tick(RequestAbort), "Aborted | r1=3 | active=r1 | Aborted RolledBack")
	s.converge()
	s.expect(s.tick(RequestNone), "Aborted | r1=3 | active=r1 |")
}

// TestRollingAbortMidway rolls back from half way: the stable revision
// grows within the surge before the new one shrinks.
func TestRollingAbortMidway(t *testing.T) {
	s := newSim(t, rolling("25%", "25%"), 4)
	s.begin(2)
	s.tick(RequestNone)
	s.converge()
	s.tick(RequestNone)
	s.converge()
	d := s.tick(RequestAbort)
	s.expect(d, "Aborted | r1=3 r2=1 | active=r1 canary=r2@33 | Aborted")
	s.converge()
	s.expect(s.tick(RequestNone), "Aborted | r1=4 | active=r1 |")
	s.converge()
	d = s.tick(RequestNone)
	s.expect(d, "Aborted | r1=4 | active=r1 | RolledBack")
	if d.State.StableRevision != 1 || d.State.CanaryRevision != 2 {
		t.Errorf("after rollback stable %d canary %d (kept for retry)", d.State.StableRevision, d.State.CanaryRevision)
	}
	s.expect(s.tick(RequestResume), "Progressing | r1=3 r2=1 | active=r1 canary=r2@0 | Retried")
}

// TestRollingNewRevisionMidway: a third revision starts while the second is
// half rolled out; the oldest shrinks first and every ready replica keeps
// receiving traffic.
func TestRollingNewRevisionMidway(t *testing.T) {
	s := newSim(t, rolling("25%", "25%"), 4)
	s.begin(2)
	s.tick(RequestNone)
	s.converge()
	s.tick(RequestNone)
	s.converge()
	s.begin(3)
	s.expect(s.tick(RequestNone), "Progressing | r1=1 r2=2 r3=1 | active=r1 canary=r3@0 weights=r1:33,r2:67 |")
	s.converge()
	s.expect(s.tick(RequestNone), "Progressing | r2=2 r3=2 | active=r1 canary=r3@33 weights=r2:67,r3:33 |")
	for range 3 {
		s.converge()
		s.tick(RequestNone)
	}
	s.expect(s.last, "Healthy | r3=4 | active=r3 | Promoted")
}

func TestRollingPauseAndAnalysis(t *testing.T) {
	s := newSim(t, rolling("25%", "25%"), 4)
	s.begin(2)
	s.tick(RequestNone)
	s.converge()
	s.expect(s.tick(RequestPause), "Paused | r1=3 r2=1 | active=r1 canary=r2@25 | Paused")
	s.expect(s.tick(RequestPromote), "Progressing | r1=2 r2=2 | active=r1 canary=r2@33 | Resumed RequestIgnored")
	s.converge()
	s.expect(s.decide(Observation{Analysis: VerdictRunning}), "Progressing | r1=2 r2=2 | active=r1 canary=r2@50 | WaitingForAnalysis")
	s.expect(s.decide(Observation{Analysis: VerdictFailed}), "Aborted | r1=3 r2=1 | active=r1 canary=r2@33 | Aborted")
}
