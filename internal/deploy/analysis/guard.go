package analysis

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/gantry-ci/gantry/internal/deploy/proxy"
)

// Feed is what a guard watches: a revision's figures and a signal after
// each small batch of requests. *proxy.Proxy is one.
type Feed interface {
	Source
	Subscribe() (<-chan struct{}, func())
}

// Guard applies guardrails to one canary revision on every batch of
// requests the proxy finishes, rather than on an interval, and trips once at
// the first breach.
type Guard struct {
	feed   Feed
	canary string
	rules  []Rule // sorted by window, so rules sharing one read it once
	onTrip func(Trip)
	once   sync.Once
}

// Trip is a guardrail's breach: the rule's metric, the canary's value and
// the requests it rests on, and the sentence that explains it.
type Trip struct {
	Reason   string
	Metric   string
	Value    float64
	Requests int64
	// Condition is the rule as written, e.g. "error_rate > 0.05 over 2s".
	Condition string
}

// NewGuard prepares a guard over canary's figures; onTrip is called once,
// with the breach, at the first one (the controller aborts there).
func NewGuard(feed Feed, canary string, rules []Rule, onTrip func(Trip)) (*Guard, error) {
	if feed == nil {
		return nil, errors.New("new guard: no proxy to watch")
	}
	if canary == "" {
		return nil, errors.New("new guard: no canary revision")
	}
	for _, r := range rules {
		if err := r.Validate(); err != nil {
			return nil, fmt.Errorf("new guard: %w", err)
		}
	}
	rs := slices.Clone(rules)
	slices.SortStableFunc(rs, func(a, b Rule) int { return int(a.Window - b.Window) })
	return &Guard{feed: feed, canary: canary, rules: rs, onTrip: onTrip}, nil
}

// Check evaluates every rule once over the current window and returns the
// first breach. Rules with a common window share one read of the figures,
// and nothing is allocated unless a rule trips.
func (g *Guard) Check() (reason string, tripped bool) {
	t, tripped := g.check()
	return t.Reason, tripped
}

func (g *Guard) check() (Trip, bool) {
	var (
		s    proxy.Stats
		read = time.Duration(-1)
	)
	for i := range g.rules {
		r := &g.rules[i]
		if r.Window != read {
			s, read = g.feed.Window(g.canary, r.Window), r.Window
		}
		if s.Requests == 0 || s.Requests < r.MinRequests {
			continue // no data: a guardrail never trips on a handful of requests
		}
		v, _ := builtinValue(s, r.Metric)
		if r.breached(v) {
			return Trip{
				Reason: g.reason(r, v, s), Metric: r.Metric, Value: v, Requests: s.Requests,
				Condition: fmt.Sprintf("%s %s %s over %s", r.Metric, r.Op, formatValue(r.Threshold), r.Window),
			}, true
		}
	}
	return Trip{}, false
}

func (g *Guard) reason(r *Rule, v float64, s proxy.Stats) string {
	return fmt.Sprintf("guardrail %s %s %s over %s: canary %q value %s on %d requests (%d 5xx)",
		r.Metric, r.Op, formatValue(r.Threshold), r.Window, g.canary, formatValue(v), s.Requests, s.Errors5xx)
}

// Run watches until the first breach or until ctx ends. It checks once at
// once (a burst may already be in the window) and then after every batch
// signal. It calls onTrip once, returns the reason and true on a breach,
// and "", false when ctx ended first.
func (g *Guard) Run(ctx context.Context) (string, bool) {
	if len(g.rules) == 0 {
		<-ctx.Done()
		return "", false
	}
	sig, cancel := g.feed.Subscribe()
	defer cancel()
	for {
		if t, tripped := g.check(); tripped {
			g.once.Do(func() {
				if g.onTrip != nil {
					g.onTrip(t)
				}
			})
			return t.Reason, true
		}
		select {
		case <-ctx.Done():
			return "", false
		case <-sig:
		}
	}
}
