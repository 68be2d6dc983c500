package strategy

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gantry-ci/gantry/internal/deploy/spec"
)

var t0 = time.Date(2025, 10, 30, 12, 0, 0, 0, time.UTC)

// sim is a tiny stand-in for the controller and the machine: it keeps the
// state, feeds observations to Next and lets a test say which replicas are
// ready. It only plumbs values; all decisions are the package's.
type sim struct {
	t        *testing.T
	strategy spec.Strategy
	p        Params
	st       State
	now      time.Time
	status   map[int64]ReplicaStatus
	last     Decision
	begun    Event
}

func newSim(t *testing.T, s spec.Strategy, replicas int) *sim {
	t.Helper()
	sm := &sim{t: t, strategy: s, p: Params{Replicas: replicas, ProgressDeadline: 10 * time.Minute},
		now: t0, status: map[int64]ReplicaStatus{}}
	// Revision 1 is deployed and healthy before each walk starts.
	sm.begin(1)
	sm.tick(RequestNone)
	sm.converge()
	if d := sm.tick(RequestNone); d.State.Phase != PhaseHealthy {
		sm.t.Fatalf("revision 1 did not become healthy: %s", summary(d))
	}
	return sm
}

func (s *sim) begin(rev int64) {
	s.st, s.begun = Begin(s.st, rev, s.now)
}

// tick makes one decision with the given request.
func (s *sim) tick(req Request) Decision {
	return s.decide(Observation{Request: req})
}

func (s *sim) decide(ob Observation) Decision {
	s.t.Helper()
	ob.Now = s.now
	ob.Revisions = maps.Clone(s.status)
	d := Next(s.strategy, s.p, s.st, ob)
	checkDecision(s.t, s.strategy, s.p, s.st, ob, d)
	s.st, s.last = d.State, d
	return d
}

// converge makes every desired replica of the last decision ready, and
// stops the rest.
func (s *sim) converge() {
	s.status = map[int64]ReplicaStatus{}
	for rev, n := range s.last.Replicas {
		s.status[rev] = ReplicaStatus{Running: n, Ready: n}
	}
}

// set says exactly what is running and ready for one revision.
func (s *sim) set(rev int64, running, ready int) {
	s.status[rev] = ReplicaStatus{Running: running, Ready: ready}
}

func (s *sim) advance(d time.Duration) { s.now = s.now.Add(d) }

// expect compares a decision's summary with want.
func (s *sim) expect(d Decision, want string) {
	s.t.Helper()
	if got := summary(d); got != want {
		s.t.Errorf("decision at +%s:\n got %s\nwant %s\nmessage: %s", s.now.Sub(t0), got, want, d.State.Message)
	}
}

// summary renders the parts of a decision a user notices, in one line:
// phase, replicas per revision, traffic and event reasons.
func summary(d Decision) string {
	var b strings.Builder
	b.WriteString(string(d.State.Phase))
	b.WriteString(" |")
	for _, rev := range slices.Sorted(maps.Keys(d.Replicas)) {
		fmt.Fprintf(&b, " r%d=%d", rev, d.Replicas[rev])
	}
	fmt.Fprintf(&b, " | active=r%d", d.Traffic.Active)
	if d.Traffic.Canary != 0 {
		fmt.Fprintf(&b, " canary=r%d@%d", d.Traffic.Canary, d.Traffic.CanaryWeight)
	}
	// Weights are shown only when they involve a revision that is neither
	// the active one nor the canary.
	other := false
	for rev := range d.Traffic.Weights {
		other = other || (rev != d.Traffic.Active && rev != d.Traffic.Canary)
	}
	if other {
		b.WriteString(" weights=")
		for i, rev := range slices.Sorted(maps.Keys(d.Traffic.Weights)) {
			if i > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, "r%d:%d", rev, d.Traffic.Weights[rev])
		}
	}
	if h := d.Traffic.Header; h != nil {
		fmt.Fprintf(&b, " header=r%d", h.Revision)
	}
	if d.Traffic.Preview != 0 {
		fmt.Fprintf(&b, " preview=r%d", d.Traffic.Preview)
	}
	b.WriteString(" |")
	for _, e := range d.Events {
		if e.Reason == ReasonScaledUp || e.Reason == ReasonScaledDown {
			continue // visible in the replica counts
		}
		b.WriteString(" " + e.Reason)
	}
	return b.String()
}

// checkDecision asserts what must hold of every decision: no negative
// replicas, weights in range, events with text, a state that survives the
// controller's JSON persistence and decides the same way after it.
func checkDecision(t *testing.T, s spec.Strategy, p Params, st State, ob Observation, d Decision) {
	t.Helper()
	for rev, n := range d.Replicas {
		if n < 0 {
			t.Fatalf("negative replicas for revision %d: %d", rev, n)
		}
	}
	if w := d.Traffic.CanaryWeight; w < 0 || w > 100 {
		t.Fatalf("traffic weight %d out of range", w)
	}
	if w := d.State.CanaryWeight; w < 0 || w > 100 {
		t.Fatalf("state weight %d out of range", w)
	}
	sum := 0
	for rev, w := range d.Traffic.Weights {
		if w <= 0 || w > 100 {
			t.Fatalf("weight of revision %d is %d", rev, w)
		}
		sum += w
	}
	if len(d.Traffic.Weights) > 0 && sum != 100 {
		t.Fatalf("weights %v sum to %d", d.Traffic.Weights, sum)
	}
	if d.RequeueAfter < 0 {
		t.Fatalf("negative requeue %s", d.RequeueAfter)
	}
	for _, e := range d.Events {
		if e.Reason == "" || e.Message == "" {
			t.Fatalf("event without reason or message: %+v", e)
		}
	}
	switch d.State.Phase {
	case "", PhaseProgressing, PhasePaused, PhaseHealthy, PhaseDegraded, PhaseAborted:
	default:
		t.Fatalf("unknown phase %q", d.State.Phase)
	}
	// The controller persists the state as JSON between decisions.
	data, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	var back State
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	want, _ := json.Marshal(d)
	got, _ := json.Marshal(Next(s, p, back, ob))
	if string(got) != string(want) {
		t.Fatalf("decision changed after a JSON round trip of the state:\n%s\n%s", want, got)
	}
}

func intp(n int) *int { return &n }

func dur(d time.Duration) *spec.Duration {
	v := spec.Duration(d)
	return &v
}

func weight(w int) spec.CanaryStep { return spec.CanaryStep{SetWeight: intp(w)} }

func pause(d time.Duration) spec.CanaryStep {
	return spec.CanaryStep{Pause: &spec.Pause{Duration: dur(d)}}
}

func pauseForever() spec.CanaryStep { return spec.CanaryStep{Pause: &spec.Pause{}} }
