package strategy

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/gantry-ci/gantry/internal/deploy/spec"
)

// world is a randomly misbehaving machine: replicas start and become ready
// late or never, ready ones fail, users send requests at odd moments and
// new revisions arrive mid-rollout.
type world struct {
	t      *testing.T
	rnd    *rand.Rand
	s      spec.Strategy
	p      Params
	st     State
	now    time.Time
	status map[int64]ReplicaStatus
	next   int64
}

func newWorld(t *testing.T, s spec.Strategy, replicas int, seed uint64) *world {
	w := &world{t: t, rnd: rand.New(rand.NewPCG(seed, seed>>7|1)), s: s,
		p:   Params{Replicas: replicas, ProgressDeadline: time.Duration(1+seed%300) * time.Second},
		now: t0, status: map[int64]ReplicaStatus{}, next: 1}
	w.st, _ = Begin(State{}, w.newRevision(), w.now)
	return w
}

func (w *world) newRevision() int64 {
	rev := w.next
	w.next++
	return rev
}

var requests = []Request{RequestPromote, RequestPromoteFull, RequestAbort, RequestPause, RequestResume}
var verdicts = []Verdict{VerdictRunning, VerdictSuccessful, VerdictFailed}

// step decides once and then lets the machine drift towards the decision.
func (w *world) step() (Observation, Decision, State) {
	if w.rnd.IntN(12) == 0 {
		w.st, _ = Begin(w.st, w.newRevision(), w.now)
	}
	if w.rnd.IntN(30) == 0 {
		// An undo: back to some earlier revision.
		w.st, _ = Begin(w.st, 1+w.rnd.Int64N(w.next), w.now)
	}
	ob := Observation{Now: w.now, Revisions: map[int64]ReplicaStatus{}}
	for rev, s := range w.status {
		ob.Revisions[rev] = s
	}
	if w.rnd.IntN(6) == 0 {
		ob.Request = requests[w.rnd.IntN(len(requests))]
	}
	if w.rnd.IntN(8) == 0 {
		ob.Analysis = verdicts[w.rnd.IntN(len(verdicts))]
	}
	prev := w.st
	d := Next(w.s, w.p, w.st, ob)
	checkDecision(w.t, w.s, w.p, prev, ob, d)
	w.st = d.State
	w.drift(d)
	w.now = w.now.Add(time.Duration(w.rnd.IntN(90)) * time.Second)
	return ob, d, prev
}

// drift moves replicas part of the way to the decision; stopped replicas
// are the not-ready ones first, as Decision asks.
func (w *world) drift(d Decision) {
	revs := map[int64]bool{}
	for rev := range d.Replicas {
		revs[rev] = true
	}
	for rev := range w.status {
		revs[rev] = true
	}
	for rev := range revs {
		s, want := w.status[rev], d.Replicas[rev]
		if s.Running > want {
			drop := s.Running - want
			unready := s.Running - s.Ready
			s.Ready -= max(0, drop-unready)
			s.Running = want
		} else if s.Running < want {
			s.Running += w.rnd.IntN(want - s.Running + 1)
		}
		if s.Ready < s.Running {
			s.Ready += w.rnd.IntN(s.Running - s.Ready + 1)
		}
		if s.Ready > 0 && w.rnd.IntN(10) == 0 {
			s.Ready-- // a health check fails
		}
		if s == (ReplicaStatus{}) {
			delete(w.status, rev)
		} else {
			w.status[rev] = s
		}
	}
}

// readyKept counts the ready replicas that a set of desired counts keeps,
// given the controller stops not-ready replicas first.
func readyKept(ob Observation, desired map[int64]int) int {
	n := 0
	for rev, want := range desired {
		n += min(ob.ready(rev), want)
	}
	return n
}

func FuzzRolling(f *testing.F) {
	f.Add(uint8(4), uint8(25), true, uint8(25), true, uint64(1))
	f.Add(uint8(1), uint8(25), true, uint8(0), false, uint64(2))
	f.Add(uint8(3), uint8(0), false, uint8(100), true, uint64(3))
	f.Add(uint8(0), uint8(1), false, uint8(1), false, uint64(4))
	f.Add(uint8(10), uint8(3), false, uint8(0), false, uint64(5))
	f.Add(uint8(7), uint8(200), true, uint8(50), true, uint64(6))
	f.Fuzz(func(t *testing.T, replicas, surge uint8, surgePct bool, unavail uint8, unavailPct bool, seed uint64) {
		cfg := spec.Rolling{
			MaxSurge:       spec.IntOrPercent{Value: int(surge), Percent: surgePct},
			MaxUnavailable: spec.IntOrPercent{Value: int(unavail % 101), Percent: unavailPct},
		}
		if cfg.MaxSurge.IsZero() && cfg.MaxUnavailable.IsZero() {
			cfg.MaxSurge = spec.Int(1) // the spec refuses both zero
		}
		R := int(replicas % 16)
		w := newWorld(t, spec.Strategy{Rolling: &cfg}, R, seed)
		_, unavailable := Fenceposts(cfg, R)
		minAvailable := max(0, R-unavailable)
		for range 60 {
			ob, d, prev := w.step()
			before := readyKept(ob, prev.Replicas)
			after := readyKept(ob, d.Replicas)
			if after < min(before, minAvailable) {
				t.Fatalf("ready capacity dropped from %d to %d (minimum %d): %v -> %v, observed %v\nstate %+v",
					before, after, minAvailable, prev.Replicas, d.Replicas, ob.Revisions, prev)
			}
			surgeMax, _ := Fenceposts(cfg, R)
			total, prevTotal := 0, 0
			for _, n := range d.Replicas {
				total += n
			}
			for _, n := range prev.Replicas {
				prevTotal += n
			}
			if total > max(R+surgeMax, prevTotal) {
				t.Fatalf("asked for %d replicas, more than %d+%d surge: %v", total, R, surgeMax, d.Replicas)
			}
		}
	})
}

func FuzzCanary(f *testing.F) {
	f.Add(uint8(4), []byte{10, 200, 50, 201, 100}, uint64(1))
	f.Add(uint8(1), []byte{0, 255, 0}, uint64(2))
	f.Add(uint8(0), []byte{50}, uint64(3))
	f.Add(uint8(9), []byte{}, uint64(4))
	f.Add(uint8(5), []byte{150, 30, 151, 60, 152, 255}, uint64(5))
	f.Fuzz(func(t *testing.T, replicas uint8, program []byte, seed uint64) {
		// Each byte is a step: 0-100 setWeight, 101-149 a pause of that
		// many seconds beyond 100, 150-199 setCanaryScale, 200+ an
		// indefinite pause.
		var steps []spec.CanaryStep
		for _, b := range program[:min(len(program), 20)] {
			switch {
			case b <= 100:
				steps = append(steps, weight(int(b)))
			case b < 150:
				steps = append(steps, pause(time.Duration(b-101)*time.Second))
			case b < 200:
				sc := &spec.SetCanaryScale{}
				switch b % 3 {
				case 0:
					sc.Replicas = intp(int(b-150) % 7)
				case 1:
					sc.Weight = intp(int(b-150) * 2)
				default:
					sc.MatchTrafficWeight = true
				}
				steps = append(steps, spec.CanaryStep{SetCanaryScale: sc})
			default:
				steps = append(steps, pauseForever())
			}
		}
		R := int(replicas % 16)
		s := canaryStrategy(steps...)
		if seed%2 == 0 {
			s.Canary.CanaryHeader = nil
		}
		w := newWorld(t, s, R, seed)
		for range 80 {
			ob, d, prev := w.step()
			st := d.State
			if st.StableRevision != 0 && d.Replicas[st.StableRevision] != R {
				t.Fatalf("stable revision %d asked for %d replicas, not %d: %v", st.StableRevision, d.Replicas[st.StableRevision], R, d.Replicas)
			}
			if st.Phase == PhaseAborted && (d.Replicas[st.CanaryRevision] != 0 || d.Traffic.CanaryWeight != 0 || d.Traffic.Header != nil) {
				t.Fatalf("aborted canary still runs or gets traffic: %+v", d)
			}
			if h := d.Traffic.Header; h != nil && (h.Revision != st.CanaryRevision || d.Replicas[h.Revision] == 0) {
				t.Fatalf("header routed to revision %d without replicas: %+v", h.Revision, d)
			}
			if st.CanaryWeight > prev.CanaryWeight && st.CanaryRevision != 0 && st.CanaryRevision == prev.CanaryRevision &&
				!hasEvent(d, ReasonCanaryScaleSet, "") {
				// A weight only rises once the canary can carry it (unless a
				// setCanaryScale in the same decision sized it apart).
				if need := canaryReplicas(st.CanaryWeight, st.CanaryScale, R); ob.ready(st.CanaryRevision) < need {
					t.Fatalf("weight raised to %d with %d of %d canary replicas ready", st.CanaryWeight, ob.ready(st.CanaryRevision), need)
				}
			}
		}
	})
}

func FuzzBlueGreen(f *testing.F) {
	f.Add(uint8(3), true, uint16(0), uint16(30), int8(-1), uint64(1))
	f.Add(uint8(2), false, uint16(10), uint16(0), int8(1), uint64(2))
	f.Add(uint8(0), true, uint16(5), uint16(5), int8(0), uint64(3))
	f.Fuzz(func(t *testing.T, replicas uint8, auto bool, autoSeconds, delay uint16, preview int8, seed uint64) {
		R := int(replicas % 16)
		cfg := spec.BlueGreen{AutoPromotionEnabled: auto, AutoPromotionSeconds: int(autoSeconds % 600), ScaleDownDelaySeconds: int(delay % 600)}
		if preview >= 0 {
			cfg.PreviewReplicaCount = intp(min(int(preview), R))
		}
		w := newWorld(t, spec.Strategy{BlueGreen: &cfg}, R, seed)
		for range 80 {
			ob, d, prev := w.step()
			st := d.State
			if d.Traffic.CanaryWeight != 0 || len(d.Traffic.Weights) > 1 {
				t.Fatalf("blue-green split traffic: %+v", d.Traffic)
			}
			if d.Traffic.Active != 0 && d.Traffic.Active != prev.StableRevision && d.Traffic.Active != st.StableRevision {
				t.Fatalf("active revision %d is neither the old nor the new stable one", d.Traffic.Active)
			}
			if d.Traffic.Active != prev.ActiveRevision && prev.ActiveRevision != 0 && st.StableRevision == d.Traffic.Active &&
				prev.CanaryRevision == d.Traffic.Active && ob.ready(d.Traffic.Active) < R {
				t.Fatalf("switched to revision %d with %d of %d replicas ready", d.Traffic.Active, ob.ready(d.Traffic.Active), R)
			}
		}
	})
}
