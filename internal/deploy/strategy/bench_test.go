package strategy

import (
	"testing"
	"time"
)

// BenchmarkCanaryNext measures one decision of a canary mid-way, the
// controller's steady cost per reconcile.
func BenchmarkCanaryNext(b *testing.B) {
	s := canaryStrategy(weight(10), pause(time.Minute), weight(50), pauseForever())
	st, _ := Begin(State{}, 1, t0)
	st, _ = Begin(st, 2, t0)
	p := Params{Replicas: 10, ProgressDeadline: time.Minute}
	ob := Observation{Now: t0, Revisions: map[int64]ReplicaStatus{1: {10, 10}, 2: {1, 1}}}
	for b.Loop() {
		Next(s, p, st, ob)
	}
}

// BenchmarkRollingNext measures one decision of a rolling update mid-way.
func BenchmarkRollingNext(b *testing.B) {
	s := rolling("25%", "25%")
	st, _ := Begin(State{}, 1, t0)
	st.Replicas = map[int64]int{1: 60}
	st, _ = Begin(st, 2, t0)
	st.Replicas = map[int64]int{1: 50, 2: 20}
	p := Params{Replicas: 60, ProgressDeadline: time.Minute}
	ob := Observation{Now: t0, Revisions: map[int64]ReplicaStatus{1: {50, 50}, 2: {20, 15}}}
	for b.Loop() {
		Next(s, p, st, ob)
	}
}
