package analysis

import (
	"fmt"
	"time"
)

// Run is an analysis run's definition: the metrics of one or more
// templates, measured together and decided together.
type Run struct {
	Metrics []*Metric
}

// NewRun merges templates into one run, as a rollout step naming several
// templates does; metric names must be unique across them because records
// and states are keyed by name.
func NewRun(templates ...*Template) (*Run, error) {
	r := &Run{}
	seen := map[string]string{}
	for _, t := range templates {
		if t == nil {
			continue
		}
		for _, m := range t.Metrics {
			if prev, dup := seen[m.Name]; dup {
				return nil, fmt.Errorf("merge templates: metric %q is in both %q and %q", m.Name, prev, t.Name)
			}
			seen[m.Name] = t.Name
			r.Metrics = append(r.Metrics, m)
		}
	}
	if len(r.Metrics) == 0 {
		return nil, fmt.Errorf("merge templates: no metric to measure")
	}
	return r, nil
}

// RunState is a run's progress, plain data to persist: the overall phase,
// its reason, and each metric's state in Run.Metrics order.
type RunState struct {
	Phase Phase `json:"phase"`
	// Message is the abort reason of a Failed, Error or Inconclusive run,
	// naming the metric, the value and the limit.
	Message   string        `json:"message,omitempty"`
	StartedAt time.Time     `json:"startedAt"`
	Metrics   []MetricState `json:"metrics"`
}

// Start is the state of a run that has measured nothing yet.
func (r *Run) Start(now time.Time) RunState {
	st := RunState{Phase: PhasePending, StartedAt: now, Metrics: make([]MetricState, len(r.Metrics))}
	for i, m := range r.Metrics {
		st.Metrics[i] = m.Start(now)
	}
	return st
}

// matches reports whether st is a state of this run: one metric state per
// metric, in order.
func (r *Run) matches(st RunState) bool {
	if len(st.Metrics) != len(r.Metrics) {
		return false
	}
	for i, m := range r.Metrics {
		if st.Metrics[i].Name != m.Name {
			return false
		}
	}
	return true
}

// index finds a metric by name; -1 when the run has none of that name.
func (r *Run) index(name string) int {
	for i, m := range r.Metrics {
		if m.Name == name {
			return i
		}
	}
	return -1
}

// Next applies one measurement of the named metric (see Metric.Next) and
// decides the run. A completed run changes no more. Next is pure: st is
// not modified.
func (r *Run) Next(st RunState, metric string, now time.Time, ms Measurement, err error) (RunState, Verdict) {
	i := r.index(metric)
	if i < 0 || !r.matches(st) {
		rec := Record{Metric: metric, Time: now, Phase: PhaseError, Message: fmt.Sprintf("run has no metric %q", metric)}
		return st, Verdict{Record: rec, Phase: PhaseError, Reason: rec.Message}
	}
	if st.Phase.Completed() {
		return st, Verdict{Record: r.Metrics[i].Evaluate(now, ms, err), Phase: st.Metrics[i].Phase, Reason: st.Message}
	}
	st.Metrics = append([]MetricState(nil), st.Metrics...)
	var v Verdict
	st.Metrics[i], v = r.Metrics[i].Next(st.Metrics[i], now, ms, err)
	st.Phase, st.Message = r.assess(st)
	return st, v
}

// Terminate stops a run from outside: metrics still running end
// Successful (see Metric.Terminate) and the run is decided.
func (r *Run) Terminate(st RunState) RunState {
	if st.Phase.Completed() || len(st.Metrics) != len(r.Metrics) {
		return st
	}
	st.Metrics = append([]MetricState(nil), st.Metrics...)
	for i, m := range r.Metrics {
		st.Metrics[i] = m.Terminate(st.Metrics[i])
	}
	st.Phase, st.Message = r.assess(st)
	return st
}

// assess decides the run: the first metric (not dry-run) to end other than
// Successful decides at once with the worst phase among such metrics, since
// waiting for the others cannot save the revision; otherwise the run is
// Successful once every deciding metric is. A run of dry-run metrics only
// is Successful once they have all completed.
func (r *Run) assess(st RunState) (Phase, string) {
	var worst *MetricState
	deciding, done, running := 0, 0, false
	for i, m := range r.Metrics {
		ms := &st.Metrics[i]
		if ms.Phase != PhasePending {
			running = true
		}
		if m.DryRun {
			continue
		}
		deciding++
		if !ms.Phase.Completed() {
			continue
		}
		done++
		if ms.Phase != PhaseSuccessful && (worst == nil || ms.Phase.severity() > worst.Phase.severity()) {
			worst = ms
		}
	}
	switch {
	case worst != nil:
		return worst.Phase, worst.Message
	case deciding > 0 && done == deciding:
		return PhaseSuccessful, fmt.Sprintf("all %d %s successful", deciding, plural(deciding, "metric"))
	case deciding == 0 && r.allCompleted(st):
		return PhaseSuccessful, "only dry-run metrics, all completed"
	case running:
		return PhaseRunning, ""
	}
	return PhasePending, ""
}

func (r *Run) allCompleted(st RunState) bool {
	for i := range r.Metrics {
		if !st.Metrics[i].Phase.Completed() {
			return false
		}
	}
	return true
}

// Due returns the metric to measure next and when, for controllers that
// schedule measurements themselves; ok is false when nothing is left.
func (r *Run) Due(st RunState) (metric string, at time.Time, ok bool) {
	if st.Phase.Completed() || len(st.Metrics) != len(r.Metrics) {
		return "", time.Time{}, false
	}
	for i, m := range r.Metrics {
		ms := st.Metrics[i]
		if ms.Phase.Completed() {
			continue
		}
		if !ok || ms.Due.Before(at) {
			metric, at, ok = m.Name, ms.Due, true
		}
	}
	return metric, at, ok
}
