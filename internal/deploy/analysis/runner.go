package analysis

import (
	"context"
	"errors"
	"sync"
	"time"
)

// Provider takes one measurement of a metric. Implementations resolve the
// metric's {{…}} placeholders from args, honour ctx, and return an error
// only when they could not measure: a measurement that found nothing is
// Measurement{NoData: true}, not an error.
type Provider interface {
	Measure(ctx context.Context, m *Metric, args Args) (Measurement, error)
}

// Runner drives a Run: each metric is measured by Provider when it is due,
// in its own goroutine so that a slow web check does not delay a builtin
// metric, while judging stays serial so Report sees one state at a time.
type Runner struct {
	Run      *Run
	Provider Provider
	Args     Args
	// Report is called after every measurement with its verdict and the
	// run's state after it, from one goroutine at a time. The controller
	// stores v.Record and shows st.Phase; it may persist st to resume.
	Report func(v Verdict, st RunState)
	// Now is the clock, time.Now when nil.
	Now func() time.Time
}

type measured struct {
	metric string
	at     time.Time
	ms     Measurement
	err    error
}

// Execute runs from st (the zero RunState starts afresh) until the run is
// decided or ctx ends, and returns the last state; when ctx ended first it
// also returns ctx's error, and the state may still be Running (call
// Run.Terminate for Argo's end-of-rollout semantics).
func (r *Runner) Execute(ctx context.Context, st RunState) (RunState, error) {
	if r.Run == nil || r.Provider == nil {
		return st, errors.New("run analysis: the runner needs a Run and a Provider")
	}
	now := r.Now
	if now == nil {
		now = time.Now
	}
	if len(st.Metrics) == 0 {
		st = r.Run.Start(now())
	}
	if !r.Run.matches(st) {
		return st, errors.New("run analysis: the saved state is for other metrics (did the templates change?)")
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()

	results := make(chan measured)
	schedule := func(m *Metric, due time.Time) {
		wg.Go(func() {
			if d := due.Sub(now()); d > 0 {
				t := time.NewTimer(d)
				defer t.Stop()
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
			}
			ms, err := r.Provider.Measure(ctx, m, r.Args)
			select {
			case results <- measured{metric: m.Name, at: now(), ms: ms, err: err}:
			case <-ctx.Done():
			}
		})
	}
	if st.Phase.Completed() {
		return st, nil
	}
	for i, m := range r.Run.Metrics {
		if !st.Metrics[i].Phase.Completed() {
			schedule(m, st.Metrics[i].Due)
		}
	}
	for {
		select {
		case <-ctx.Done():
			return st, ctx.Err()
		case res := <-results:
			if ctx.Err() != nil {
				// A measurement cut short by ctx is not the provider's error.
				return st, ctx.Err()
			}
			var v Verdict
			st, v = r.Run.Next(st, res.metric, res.at, res.ms, res.err)
			if r.Report != nil {
				r.Report(v, st)
			}
			if st.Phase.Completed() {
				return st, nil
			}
			if i := r.Run.index(res.metric); i >= 0 && !st.Metrics[i].Phase.Completed() {
				schedule(r.Run.Metrics[i], st.Metrics[i].Due)
			}
		}
	}
}
