package analysis

import (
	"fmt"
	"time"
)

// MetricState is one metric's progress, plain data to persist between
// measurements. Counters follow Argo Rollouts: Count counts the measurements
// that were judged (errors are not), ConsecutiveErrors resets on any judged
// measurement.
type MetricState struct {
	Name  string `json:"name"`
	Phase Phase  `json:"phase"`
	// Message says why a completed metric ended.
	Message   string    `json:"message,omitempty"`
	StartedAt time.Time `json:"startedAt"`
	// Due is when the next measurement should be taken; zero once the
	// metric is completed.
	Due               time.Time `json:"due,omitzero"`
	Count             int       `json:"count"`
	Successful        int       `json:"successful"`
	Failed            int       `json:"failed"`
	Inconclusive      int       `json:"inconclusive"`
	Errors            int       `json:"errors"`
	ConsecutiveErrors int       `json:"consecutiveErrors"`
}

// Verdict is what one measurement did: the judged record and the metric's
// phase after it, with the reason when that phase is final.
type Verdict struct {
	Record Record `json:"record"`
	Phase  Phase  `json:"phase"`
	Reason string `json:"reason,omitempty"`
}

// Start is the state of a metric that has not been measured yet: Pending,
// due once InitialDelay has passed.
func (mt *Metric) Start(now time.Time) MetricState {
	return MetricState{Name: mt.Name, Phase: PhasePending, StartedAt: now, Due: now.Add(mt.InitialDelay)}
}

// effectiveCount is how many judged measurements make the metric
// Successful; 0 runs until stopped. As in Argo Rollouts, a metric with
// neither count nor interval is measured once.
func (mt *Metric) effectiveCount() int {
	switch {
	case mt.Count > 0:
		return mt.Count
	case mt.Interval == 0:
		return 1
	}
	return 0
}

// Next is the metric's state machine: it judges the measurement (or the
// error) taken at now, counts it, and decides. The order of the checks is
// Argo Rollouts': failureLimit, then inconclusiveLimit, then
// consecutiveErrorLimit, then count. A completed metric ignores further
// measurements (the record is still judged, for display). Next is pure.
func (mt *Metric) Next(st MetricState, now time.Time, ms Measurement, err error) (MetricState, Verdict) {
	rec := mt.Evaluate(now, ms, err)
	if st.Phase.Completed() {
		return st, Verdict{Record: rec, Phase: st.Phase, Reason: st.Message}
	}
	if st.Name == "" {
		st.Name = mt.Name
	}
	switch rec.Phase {
	case PhaseSuccessful:
		st.Successful++
	case PhaseFailed:
		st.Failed++
	case PhaseInconclusive:
		st.Inconclusive++
	case PhaseError:
		st.Errors++
		st.ConsecutiveErrors++
	}
	if rec.Phase != PhaseError {
		st.Count++
		st.ConsecutiveErrors = 0
	}
	st.Phase, st.Message = mt.assess(st, rec)
	if st.Phase.Completed() {
		st.Due = time.Time{}
	} else {
		wait := mt.Interval
		if rec.Phase == PhaseError && wait == 0 {
			wait = ErrorRetryInterval
		}
		st.Due = now.Add(wait)
	}
	return st, Verdict{Record: rec, Phase: st.Phase, Reason: st.Message}
}

// exceeds reports whether n is past limit; a negative limit has no end.
func exceeds(n, limit int) bool { return limit >= 0 && n > limit }

// assess decides the metric's phase from its counters after rec, and says
// why when it is final.
func (mt *Metric) assess(st MetricState, rec Record) (Phase, string) {
	last := mt.describeLast(rec)
	switch {
	case exceeds(st.Failed, mt.FailureLimit):
		if mt.FailureLimit == 0 {
			return PhaseFailed, fmt.Sprintf("metric %q: %s", mt.Name, last)
		}
		return PhaseFailed, fmt.Sprintf("metric %q: %d failed measurements > failureLimit %d; last: %s",
			mt.Name, st.Failed, mt.FailureLimit, last)
	case exceeds(st.Inconclusive, mt.InconclusiveLimit):
		return PhaseInconclusive, fmt.Sprintf("metric %q: %d inconclusive %s > inconclusiveLimit %d; last: %s",
			mt.Name, st.Inconclusive, plural(st.Inconclusive, "measurement"), mt.InconclusiveLimit, last)
	case exceeds(st.ConsecutiveErrors, mt.ConsecutiveErrorLimit):
		return PhaseError, fmt.Sprintf("metric %q: %d consecutive %s > consecutiveErrorLimit %d; last: %s",
			mt.Name, st.ConsecutiveErrors, plural(st.ConsecutiveErrors, "error"), mt.ConsecutiveErrorLimit, last)
	case mt.effectiveCount() > 0 && st.Count >= mt.effectiveCount():
		return PhaseSuccessful, fmt.Sprintf("metric %q: %d of %d %s taken (%d successful, %d failed, %d inconclusive)",
			mt.Name, st.Count, mt.effectiveCount(), plural(mt.effectiveCount(), "measurement"), st.Successful, st.Failed, st.Inconclusive)
	}
	return PhaseRunning, ""
}

// describeLast says what the last measurement was, for reasons.
func (mt *Metric) describeLast(rec Record) string {
	switch {
	case rec.Phase == PhaseError && rec.Condition != "":
		return rec.Message + " on " + valueText(&rec)
	case rec.Message != "":
		return rec.Message
	}
	return mt.describeValue(&rec) + mt.samplesSuffix(rec)
}

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}

// Terminate ends a metric that is still running as Successful, as Argo
// Rollouts does when a run is stopped from outside (a background analysis
// at the end of a rollout), and says so.
func (mt *Metric) Terminate(st MetricState) MetricState {
	if st.Phase.Completed() {
		return st
	}
	st.Due = time.Time{}
	st.Phase = PhaseSuccessful
	if st.Count == 0 {
		st.Message = fmt.Sprintf("metric %q: run ended before any judged measurement", mt.Name)
	} else {
		st.Message = fmt.Sprintf("metric %q: run ended after %d %s (%d successful, %d failed, %d inconclusive)",
			mt.Name, st.Count, plural(st.Count, "measurement"), st.Successful, st.Failed, st.Inconclusive)
	}
	return st
}
