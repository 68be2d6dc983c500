package strategy

import (
	"testing"
	"time"

	"github.com/gantry-ci/gantry/internal/deploy/spec"
)

// TestFirstDeployment: the first revision skips every step and becomes
// stable once its replicas are ready, whatever the strategy.
func TestFirstDeployment(t *testing.T) {
	for _, s := range []spec.Strategy{rolling("25%", "25%"), canaryStrategy(weight(10), pauseForever()), blueGreen(nil)} {
		t.Run(s.Name(), func(t *testing.T) {
			st, ev := Begin(State{}, 7, t0)
			if ev.Reason != ReasonRolloutStarted || st.StableRevision != 7 || st.CanaryRevision != 0 {
				t.Fatalf("begin: %+v %+v", ev, st)
			}
			p := Params{Replicas: 2, ProgressDeadline: time.Minute}
			d := Next(s, p, st, Observation{Now: t0})
			checkDecision(t, s, p, st, Observation{Now: t0}, d)
			if got := summary(d); got != "Progressing | r7=2 | active=r7 |" {
				t.Fatalf("got %s", got)
			}
			ob := Observation{Now: t0.Add(time.Second), Revisions: map[int64]ReplicaStatus{7: {Running: 2, Ready: 2}}}
			d = Next(s, p, d.State, ob)
			if got := summary(d); got != "Healthy | r7=2 | active=r7 | Available" {
				t.Fatalf("got %s", got)
			}
		})
	}
}

// TestSteadyState: with nothing to roll out, a lost replica is replaced
// (Progressing, then Degraded past the deadline) and requests are ignored
// with an event saying so.
func TestSteadyState(t *testing.T) {
	s := newSim(t, canaryStrategy(weight(10)), 3)
	s.p.ProgressDeadline = time.Minute
	s.expect(s.tick(RequestPromote), "Healthy | r1=3 | active=r1 | RequestIgnored")
	s.set(1, 3, 2)
	s.expect(s.tick(RequestNone), "Progressing | r1=3 | active=r1 |")
	s.advance(2 * time.Minute)
	s.expect(s.tick(RequestNone), "Degraded | r1=3 | active=r1 | ProgressDeadlineExceeded")
	s.set(1, 3, 3)
	s.expect(s.tick(RequestNone), "Healthy | r1=3 | active=r1 | Available")
}

func TestBeginIgnoresNonsense(t *testing.T) {
	st, _ := Begin(State{}, 1, t0)
	for _, rev := range []int64{0, -4, 1} {
		next, ev := Begin(st, rev, t0)
		if ev.Reason != ReasonRequestIgnored || next.StableRevision != 1 || next.CanaryRevision != 0 {
			t.Errorf("Begin(%d) = %+v, %+v", rev, next, ev)
		}
	}
	st, _ = Begin(st, 2, t0)
	if _, ev := Begin(st, 2, t0); ev.Reason != ReasonRequestIgnored {
		t.Errorf("beginning the revision in progress again: %+v", ev)
	}
}

// TestRollingCancelKeepsCapacity: beginning the stable revision again in
// the middle of a rolling update scales the new revision away within
// maxUnavailable instead of dropping its ready replicas.
func TestRollingCancelKeepsCapacity(t *testing.T) {
	s := newSim(t, rolling("25%", "25%"), 4)
	s.begin(2)
	s.tick(RequestNone)
	s.converge()
	s.tick(RequestNone)
	s.converge() // r1 2 ready, r2 2 ready
	s.begin(1)
	s.expect(s.tick(RequestNone), "Progressing | r1=3 r2=1 | active=r1 weights=r1:67,r2:33 |")
	s.converge()
	s.expect(s.tick(RequestNone), "Progressing | r1=4 | active=r1 |")
	s.converge()
	s.expect(s.tick(RequestNone), "Healthy | r1=4 | active=r1 | Available")
}
