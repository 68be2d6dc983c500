package strategy

import (
	"strings"
	"testing"
	"time"

	"github.com/gantry-ci/gantry/internal/deploy/spec"
)

func canaryStrategy(steps ...spec.CanaryStep) spec.Strategy {
	h := spec.DefaultCanaryHeader()
	return spec.Strategy{Canary: &spec.Canary{CanaryHeader: &h, Steps: steps}}
}

// TestCanaryDesignExample walks the production canary of the design
// document (setWeight 10, pause 30s, setCanaryScale 1, setWeight 50,
// indefinite pause) from start to promotion.
func TestCanaryDesignExample(t *testing.T) {
	s := newSim(t, canaryStrategy(
		weight(10), pause(30*time.Second),
		spec.CanaryStep{SetCanaryScale: &spec.SetCanaryScale{Replicas: intp(1)}},
		weight(50), pauseForever()), 4)
	s.begin(2)
	if s.begun.Reason != ReasonRolloutStarted {
		t.Fatalf("begin: %+v", s.begun)
	}
	// 10% of 4 rounds up to one canary replica; the weight waits for it.
	s.expect(s.tick(RequestNone), "Progressing | r1=4 r2=1 | active=r1 canary=r2@0 header=r2 | StepReached")
	s.converge()
	d := s.tick(RequestNone)
	s.expect(d, "Paused | r1=4 r2=1 | active=r1 canary=r2@10 header=r2 | WeightSet StepReached PauseStarted")
	if d.RequeueAfter != 30*time.Second {
		t.Errorf("requeue after %s, want the 30s pause", d.RequeueAfter)
	}
	s.advance(10 * time.Second)
	d = s.tick(RequestNone)
	s.expect(d, "Paused | r1=4 r2=1 | active=r1 canary=r2@10 header=r2 |")
	if d.RequeueAfter != 20*time.Second {
		t.Errorf("requeue after %s, want the remaining 20s", d.RequeueAfter)
	}
	s.advance(20 * time.Second)
	// The pause ends; setCanaryScale 1 is met already, and setWeight 50 is
	// carried by that one replica, so three steps complete at once.
	s.expect(s.tick(RequestNone), "Paused | r1=4 r2=1 | active=r1 canary=r2@50 header=r2 | PauseEnded StepReached CanaryScaleSet StepReached WeightSet StepReached PauseStarted")
	s.advance(time.Hour)
	d = s.tick(RequestNone)
	s.expect(d, "Paused | r1=4 r2=1 | active=r1 canary=r2@50 header=r2 |")
	if d.RequeueAfter != 0 || d.State.Phase != PhasePaused {
		t.Errorf("an indefinite pause must not time out: %+v", d)
	}
	// promote skips the pause; the canary grows to full size first.
	s.expect(s.tick(RequestPromote), "Progressing | r1=4 r2=4 | active=r1 canary=r2@50 header=r2 | StepSkipped")
	s.set(2, 4, 3)
	s.expect(s.tick(RequestNone), "Progressing | r1=4 r2=4 | active=r1 canary=r2@50 header=r2 |")
	s.converge()
	d = s.tick(RequestNone)
	s.expect(d, "Healthy | r2=4 | active=r2 | Promoted")
	if d.State.StableRevision != 2 || d.State.CanaryRevision != 0 {
		t.Errorf("after promotion stable=%d canary=%d", d.State.StableRevision, d.State.CanaryRevision)
	}
	if !hasEvent(d, ReasonScaledDown, "revision 1 scaled down from 4 to 0") {
		t.Errorf("old stable not scaled down: %+v", d.Events)
	}
}

func TestCanaryAbortMidPause(t *testing.T) {
	s := newSim(t, canaryStrategy(weight(25), pause(time.Minute), weight(75)), 4)
	s.begin(2)
	s.tick(RequestNone)
	s.converge()
	s.expect(s.tick(RequestNone), "Paused | r1=4 r2=1 | active=r1 canary=r2@25 header=r2 | WeightSet StepReached PauseStarted")
	s.advance(30 * time.Second)
	d := s.tick(RequestAbort)
	s.expect(d, "Aborted | r1=4 | active=r1 | Aborted")
	if d.State.AbortReason != "aborted by request" || d.RequeueAfter != 0 {
		t.Errorf("abort: reason %q requeue %s", d.State.AbortReason, d.RequeueAfter)
	}
	// The pause's end passes without effect: the rollout stays aborted.
	s.advance(time.Minute)
	s.expect(s.tick(RequestPromote), "Aborted | r1=4 | active=r1 | RequestIgnored")
	// resume retries from the first step, once the canary has stopped.
	s.converge()
	s.expect(s.tick(RequestResume), "Progressing | r1=4 r2=1 | active=r1 canary=r2@0 header=r2 | Retried StepReached")
}

func TestCanaryPromoteFull(t *testing.T) {
	s := newSim(t, canaryStrategy(weight(20), pauseForever(), weight(60), pauseForever()), 5)
	s.begin(2)
	s.tick(RequestNone)
	s.converge()
	s.expect(s.tick(RequestNone), "Paused | r1=5 r2=1 | active=r1 canary=r2@20 header=r2 | WeightSet StepReached PauseStarted")
	s.expect(s.tick(RequestPromoteFull), "Progressing | r1=5 r2=5 | active=r1 canary=r2@20 header=r2 | StepSkipped")
	s.converge()
	s.expect(s.tick(RequestNone), "Healthy | r2=5 | active=r2 | Promoted")
}

// TestCanaryZeroWeightAndZeroPause: weight 0 runs no canary replica and
// sends it no header traffic; a zero pause does not stop the walk.
func TestCanaryZeroWeightAndZeroPause(t *testing.T) {
	s := newSim(t, canaryStrategy(weight(0), pause(0), weight(30)), 3)
	s.begin(2)
	s.expect(s.tick(RequestNone), "Progressing | r1=3 r2=1 | active=r1 canary=r2@0 header=r2 | StepReached StepReached PauseStarted PauseEnded StepReached")
	s.converge()
	s.expect(s.tick(RequestNone), "Progressing | r1=3 r2=3 | active=r1 canary=r2@30 header=r2 | WeightSet")
	s.converge()
	s.expect(s.tick(RequestNone), "Healthy | r2=3 | active=r2 | Promoted")
}

func TestCanaryWeightZeroOnly(t *testing.T) {
	s := newSim(t, canaryStrategy(weight(0), pauseForever()), 3)
	s.begin(2)
	d := s.tick(RequestNone)
	s.expect(d, "Paused | r1=3 | active=r1 canary=r2@0 | StepReached StepReached PauseStarted")
	if d.Traffic.Header != nil {
		t.Errorf("header routed to a canary with no replicas")
	}
}

// TestCanaryScaleOverride: setCanaryScale sizes the canary apart from its
// weight until matchTrafficWeight; weights then size it again.
func TestCanaryScaleOverride(t *testing.T) {
	s := newSim(t, canaryStrategy(
		spec.CanaryStep{SetCanaryScale: &spec.SetCanaryScale{Weight: intp(50)}},
		weight(10), pauseForever(),
		spec.CanaryStep{SetCanaryScale: &spec.SetCanaryScale{MatchTrafficWeight: true}},
		pauseForever()), 10)
	s.begin(2)
	s.expect(s.tick(RequestNone), "Progressing | r1=10 r2=5 | active=r1 canary=r2@0 header=r2 | StepReached CanaryScaleSet")
	s.converge()
	s.expect(s.tick(RequestNone), "Paused | r1=10 r2=5 | active=r1 canary=r2@10 header=r2 | StepReached WeightSet StepReached PauseStarted")
	s.expect(s.tick(RequestPromote), "Paused | r1=10 r2=1 | active=r1 canary=r2@10 header=r2 | StepSkipped StepReached CanaryScaleSet StepReached PauseStarted")
}

func TestCanaryHeaderOff(t *testing.T) {
	s := newSim(t, spec.Strategy{Canary: &spec.Canary{Steps: []spec.CanaryStep{weight(50), pauseForever()}}}, 2)
	s.begin(2)
	s.tick(RequestNone)
	s.converge()
	s.expect(s.tick(RequestNone), "Paused | r1=2 r2=1 | active=r1 canary=r2@50 | WeightSet StepReached PauseStarted")
}

func TestCanaryNoSteps(t *testing.T) {
	s := newSim(t, canaryStrategy(), 2)
	s.begin(2)
	s.expect(s.tick(RequestNone), "Progressing | r1=2 r2=2 | active=r1 canary=r2@0 header=r2 |")
	s.converge()
	s.expect(s.tick(RequestNone), "Healthy | r2=2 | active=r2 | Promoted")
}

func TestCanaryZeroReplicas(t *testing.T) {
	s := newSim(t, canaryStrategy(weight(50), pause(time.Second)), 0)
	s.begin(2)
	s.expect(s.tick(RequestNone), "Paused | | active=r1 canary=r2@50 | StepReached WeightSet StepReached PauseStarted")
	s.advance(time.Second)
	s.expect(s.tick(RequestNone), "Healthy | | active=r2 | PauseEnded Promoted")
}

// TestCanaryPauseAndResume: a user's pause holds even an expired timed
// pause; resume lets it end.
func TestCanaryPauseAndResume(t *testing.T) {
	s := newSim(t, canaryStrategy(weight(50), pause(time.Minute), weight(100)), 2)
	s.begin(2)
	s.tick(RequestNone)
	s.converge()
	s.tick(RequestNone)
	s.expect(s.tick(RequestPause), "Paused | r1=2 r2=1 | active=r1 canary=r2@50 header=r2 | Paused")
	s.advance(2 * time.Minute)
	s.expect(s.tick(RequestNone), "Paused | r1=2 r2=1 | active=r1 canary=r2@50 header=r2 |")
	s.expect(s.tick(RequestResume), "Progressing | r1=2 r2=2 | active=r1 canary=r2@50 header=r2 | Resumed PauseEnded StepReached")
}

// TestCanaryAnalysis: a running analysis holds the step, a failed one
// aborts.
func TestCanaryAnalysis(t *testing.T) {
	s := newSim(t, canaryStrategy(weight(50), pause(time.Second), weight(100)), 2)
	s.begin(2)
	s.tick(RequestNone)
	s.converge()
	s.expect(s.decide(Observation{Analysis: VerdictRunning}), "Progressing | r1=2 r2=1 | active=r1 canary=r2@50 header=r2 | WeightSet WaitingForAnalysis")
	s.expect(s.decide(Observation{Analysis: VerdictRunning}), "Progressing | r1=2 r2=1 | active=r1 canary=r2@50 header=r2 |")
	s.expect(s.decide(Observation{Analysis: VerdictSuccessful}), "Paused | r1=2 r2=1 | active=r1 canary=r2@50 header=r2 | StepReached PauseStarted")
	d := s.decide(Observation{Analysis: VerdictFailed})
	s.expect(d, "Aborted | r1=2 | active=r1 | Aborted")
	if d.State.AbortReason != "analysis failed" {
		t.Errorf("abort reason %q", d.State.AbortReason)
	}
}

// TestCanaryProgressDeadline: a canary whose replicas never become ready
// turns Degraded after the deadline, and recovers when they do.
func TestCanaryProgressDeadline(t *testing.T) {
	s := newSim(t, canaryStrategy(weight(50)), 2)
	s.p.ProgressDeadline = 2 * time.Minute
	s.begin(2)
	d := s.tick(RequestNone)
	s.expect(d, "Progressing | r1=2 r2=1 | active=r1 canary=r2@0 header=r2 | StepReached")
	if d.RequeueAfter <= 2*time.Minute || d.RequeueAfter > 2*time.Minute+time.Second {
		t.Errorf("requeue %s, want just after the deadline", d.RequeueAfter)
	}
	s.set(2, 1, 0) // started, never ready
	s.advance(time.Minute)
	s.expect(s.tick(RequestNone), "Progressing | r1=2 r2=1 | active=r1 canary=r2@0 header=r2 |")
	s.advance(61 * time.Second)
	d = s.tick(RequestNone)
	s.expect(d, "Degraded | r1=2 r2=1 | active=r1 canary=r2@0 header=r2 | ProgressDeadlineExceeded")
	if !strings.Contains(d.State.Message, "no progress for more than 2m0s") {
		t.Errorf("message %q", d.State.Message)
	}
	s.advance(time.Hour)
	s.expect(s.tick(RequestNone), "Degraded | r1=2 r2=1 | active=r1 canary=r2@0 header=r2 |")
	s.set(2, 1, 1)
	s.expect(s.tick(RequestNone), "Progressing | r1=2 r2=2 | active=r1 canary=r2@50 header=r2 | WeightSet ProgressResumed")
}

// TestCanaryNewRevisionMidRollout: a third revision replaces the canary in
// progress; the abandoned one is scaled away, the stable one untouched.
func TestCanaryNewRevisionMidRollout(t *testing.T) {
	s := newSim(t, canaryStrategy(weight(50), pauseForever()), 2)
	s.begin(2)
	s.tick(RequestNone)
	s.converge()
	s.tick(RequestNone)
	s.begin(3)
	s.expect(s.tick(RequestNone), "Progressing | r1=2 r3=1 | active=r1 canary=r3@0 header=r3 | StepReached")
	// Beginning the stable revision again cancels the rollout.
	s.begin(1)
	if s.begun.Reason != ReasonAbandoned {
		t.Errorf("begin stable: %+v", s.begun)
	}
	s.converge()
	s.expect(s.tick(RequestNone), "Healthy | r1=2 | active=r1 | Available")
}

func hasEvent(d Decision, reason, text string) bool {
	for _, e := range d.Events {
		if e.Reason == reason && strings.Contains(e.Message, text) {
			return true
		}
	}
	return false
}
