package strategy

import (
	"testing"
	"time"

	"github.com/gantry-ci/gantry/internal/deploy/spec"
)

func blueGreen(mod func(*spec.BlueGreen)) spec.Strategy {
	b := spec.BlueGreen{AutoPromotionEnabled: true, ScaleDownDelaySeconds: 30}
	if mod != nil {
		mod(&b)
	}
	return spec.Strategy{BlueGreen: &b}
}

// TestBlueGreenManualPromotion: a small preview waits for a promote
// request, grows to full size, takes all traffic at once, and the old
// revision stays up for the scale-down delay.
func TestBlueGreenManualPromotion(t *testing.T) {
	s := newSim(t, blueGreen(func(b *spec.BlueGreen) {
		b.AutoPromotionEnabled = false
		b.PreviewReplicaCount = intp(1)
		b.PreviewListen = "127.0.0.1:9082"
	}), 3)
	s.begin(2)
	s.expect(s.tick(RequestNone), "Progressing | r1=3 r2=1 | active=r1 preview=r2 |")
	s.converge()
	s.expect(s.tick(RequestNone), "Paused | r1=3 r2=1 | active=r1 preview=r2 | PreviewReady PauseStarted")
	s.advance(time.Hour)
	d := s.tick(RequestNone)
	s.expect(d, "Paused | r1=3 r2=1 | active=r1 preview=r2 |")
	if d.RequeueAfter != 0 {
		t.Errorf("manual promotion must not time out, requeue %s", d.RequeueAfter)
	}
	s.expect(s.tick(RequestPromote), "Progressing | r1=3 r2=3 | active=r1 preview=r2 | PauseEnded PromotionStarted")
	s.set(2, 3, 2)
	s.expect(s.tick(RequestNone), "Progressing | r1=3 r2=3 | active=r1 preview=r2 |")
	s.converge()
	d = s.tick(RequestNone)
	s.expect(d, "Healthy | r1=3 r2=3 | active=r2 | Promoted")
	if d.RequeueAfter != 30*time.Second || d.State.ActiveRevision != 2 || d.State.ScaleDownRevision != 1 {
		t.Errorf("after promotion: requeue %s active %d scale-down %d", d.RequeueAfter, d.State.ActiveRevision, d.State.ScaleDownRevision)
	}
	s.advance(29 * time.Second)
	s.expect(s.tick(RequestNone), "Healthy | r1=3 r2=3 | active=r2 |")
	s.advance(time.Second)
	d = s.tick(RequestNone)
	s.expect(d, "Healthy | r2=3 | active=r2 |")
	if !hasEvent(d, ReasonScaledDown, "revision 1 scaled down from 3 to 0") {
		t.Errorf("old revision not scaled down: %+v", d.Events)
	}
}

func TestBlueGreenAutoPromotion(t *testing.T) {
	s := newSim(t, blueGreen(nil), 2)
	s.begin(2)
	s.expect(s.tick(RequestNone), "Progressing | r1=2 r2=2 | active=r1 preview=r2 |")
	s.converge()
	s.expect(s.tick(RequestNone), "Healthy | r1=2 r2=2 | active=r2 | PreviewReady PromotionStarted Promoted")
}

func TestBlueGreenAutoPromotionDelay(t *testing.T) {
	s := newSim(t, blueGreen(func(b *spec.BlueGreen) { b.AutoPromotionSeconds = 20; b.ScaleDownDelaySeconds = 0 }), 2)
	s.begin(2)
	s.tick(RequestNone)
	s.converge()
	d := s.tick(RequestNone)
	s.expect(d, "Paused | r1=2 r2=2 | active=r1 preview=r2 | PreviewReady PauseStarted")
	if d.RequeueAfter != 20*time.Second {
		t.Errorf("requeue %s, want 20s", d.RequeueAfter)
	}
	s.advance(20 * time.Second)
	// No scale-down delay: the old revision goes in the same decision.
	s.expect(s.tick(RequestNone), "Healthy | r2=2 | active=r2 | PauseEnded PromotionStarted Promoted")
}

func TestBlueGreenAbort(t *testing.T) {
	s := newSim(t, blueGreen(func(b *spec.BlueGreen) { b.AutoPromotionEnabled = false }), 2)
	s.begin(2)
	s.tick(RequestNone)
	s.converge()
	s.tick(RequestNone)
	s.expect(s.tick(RequestAbort), "Aborted | r1=2 | active=r1 | Aborted")
	s.converge()
	s.expect(s.tick(RequestPromote), "Aborted | r1=2 | active=r1 | RequestIgnored")
	s.expect(s.tick(RequestResume), "Progressing | r1=2 r2=2 | active=r1 preview=r2 | Retried")
}

// TestBlueGreenInstantRollback: within the scale-down delay the replaced
// revision is still running, so rolling back to it is one decision.
func TestBlueGreenInstantRollback(t *testing.T) {
	s := newSim(t, blueGreen(nil), 2)
	s.begin(2)
	s.tick(RequestNone)
	s.converge()
	s.tick(RequestNone)
	s.advance(5 * time.Second)
	s.begin(1)
	d := s.tick(RequestNone)
	s.expect(d, "Healthy | r1=2 r2=2 | active=r1 | PreviewReady PromotionStarted Promoted")
	if d.State.StableRevision != 1 || d.State.ScaleDownRevision != 2 {
		t.Errorf("stable %d scale-down %d", d.State.StableRevision, d.State.ScaleDownRevision)
	}
}

func TestBlueGreenManualPause(t *testing.T) {
	s := newSim(t, blueGreen(nil), 2)
	s.begin(2)
	s.expect(s.tick(RequestPause), "Paused | r1=2 r2=2 | active=r1 preview=r2 | Paused")
	s.converge()
	s.expect(s.tick(RequestNone), "Paused | r1=2 r2=2 | active=r1 preview=r2 |")
	s.expect(s.tick(RequestResume), "Healthy | r1=2 r2=2 | active=r2 | Resumed PreviewReady PromotionStarted Promoted")
}
