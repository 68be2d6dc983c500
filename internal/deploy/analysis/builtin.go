package analysis

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/gantry-ci/gantry/internal/deploy/proxy"
)

// Source is where builtin metrics and guardrails read a revision's figures
// over the last d; *proxy.Proxy is one.
type Source interface {
	Window(revision string, d time.Duration) proxy.Stats
}

// Builtin measures the proxy's own per-revision figures: no Prometheus
// needed, and the figures are as fresh as the last request.
type Builtin struct {
	Source Source
}

// Measure reads the metric's figure for the canary, or the canary's figure
// divided by the stable revision's. Without requests there is no data.
func (b Builtin) Measure(ctx context.Context, m *Metric, args Args) (Measurement, error) {
	spec := m.Provider.Builtin
	if spec == nil {
		return Measurement{}, fmt.Errorf("metric %q: not a builtin metric", m.Name)
	}
	if b.Source == nil {
		return Measurement{}, errors.New("builtin metrics need the proxy's figures, and none were given")
	}
	if args.Canary == "" {
		return Measurement{}, errors.New("builtin metric: no canary revision to measure")
	}
	if err := ctx.Err(); err != nil {
		return Measurement{}, err
	}
	window := spec.Window
	if window <= 0 {
		window = DefaultBuiltinWindow
	}
	canary := b.Source.Window(args.Canary, window)
	query := describeBuiltin(spec.Metric, args.Canary, window)
	if spec.Compare != CompareCanaryVsStable {
		v, ok := builtinValue(canary, spec.Metric)
		if !ok {
			return Measurement{}, fmt.Errorf("unknown builtin metric %q", spec.Metric)
		}
		return Measurement{
			Value: v, Samples: canary.Requests, NoData: canary.Requests == 0,
			Query: query, Raw: describeStats(canary),
		}, nil
	}
	if args.Stable == "" {
		return Measurement{}, errors.New("builtin metric compares with the stable revision, but there is none")
	}
	stable := b.Source.Window(args.Stable, window)
	cv, ok := builtinValue(canary, spec.Metric)
	if !ok {
		return Measurement{}, fmt.Errorf("unknown builtin metric %q", spec.Metric)
	}
	sv, _ := builtinValue(stable, spec.Metric)
	return Measurement{
		Value:   ratio(cv, sv),
		Samples: min(canary.Requests, stable.Requests),
		NoData:  canary.Requests == 0 || stable.Requests == 0,
		Query:   query + " / " + describeBuiltin(spec.Metric, args.Stable, window),
		Raw:     describeStats(canary) + "; " + describeStats(stable),
	}, nil
}

// ratio is canary/stable where equal figures are 1 even when both are 0
// (no errors on either side), and a canary figure over a zero stable one is
// +Inf, which a condition sees as worse than any finite limit.
func ratio(c, s float64) float64 {
	switch {
	case c == s:
		return 1
	case s == 0:
		return math.Inf(1)
	}
	return c / s
}

// builtinValue reads one figure; latencies in seconds.
func builtinValue(s proxy.Stats, metric string) (float64, bool) {
	switch metric {
	case BuiltinErrorRate:
		return s.ErrorRate(), true
	case BuiltinRequestRate:
		return s.RequestRate(), true
	case BuiltinLatencyP50:
		return s.Quantile(0.50).Seconds(), true
	case BuiltinLatencyP95:
		return s.Quantile(0.95).Seconds(), true
	case BuiltinLatencyP99:
		return s.Quantile(0.99).Seconds(), true
	}
	return 0, false
}

// describeBuiltin writes the figure as a PromQL-like query for records.
func describeBuiltin(metric, revision string, window time.Duration) string {
	return fmt.Sprintf("%s{revision=%q}[%s]", metric, revision, window)
}

func describeStats(s proxy.Stats) string {
	return fmt.Sprintf("%s: %d requests, %d 5xx over %s", s.Revision, s.Requests, s.Errors5xx, s.Span.Round(time.Millisecond))
}
