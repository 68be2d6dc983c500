package notify

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"
)

// fakeClock advances only when slept on, and remembers every wait, so
// tests check backoff and Retry-After without spending the time.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	sleeps []time.Duration
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sleeps = append(c.sleeps, d)
	c.now = c.now.Add(d)
	return ctx.Err()
}

func (c *fakeClock) Sleeps() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.sleeps)
}

// recorder is an Options.Record that keeps every delivery record, as the
// server's store would.
type recorder struct {
	mu   sync.Mutex
	recs []Delivery
}

func (r *recorder) Record(_ context.Context, d Delivery) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.recs = append(r.recs, d)
	return nil
}

func (r *recorder) All() []Delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.recs)
}

// Final returns the last record of each delivery ID.
func (r *recorder) Final() map[string]Delivery {
	out := map[string]Delivery{}
	for _, d := range r.All() {
		if d.Status != StatusRetrying {
			out[d.ID] = d
		}
	}
	return out
}

// statuses lists "status/attempt" per record, for compact assertions.
func statuses(recs []Delivery) []string {
	var s []string
	for _, d := range recs {
		s = append(s, fmt.Sprintf("%s/%d", d.Status, d.Attempt))
	}
	return s
}

// newTestNotifier makes a notifier with a fake clock and a recorder,
// closed (drained) at the end of the test.
func newTestNotifier(t *testing.T, opts Options) (*Notifier, *recorder, *fakeClock) {
	t.Helper()
	rec := &recorder{}
	clock := newFakeClock()
	opts.Record = rec.Record
	if opts.Clock == nil {
		opts.Clock = clock
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if opts.BackoffBase == 0 {
		opts.BackoffBase = time.Second
	}
	n := New(opts)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = n.Close(ctx)
	})
	return n, rec, clock
}

// closeNotifier drains n, failing the test if it takes unreasonably long.
func closeNotifier(t *testing.T, n *Notifier) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := n.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

func sampleEvent(kind string) Event {
	e := Event{
		Kind:    kind,
		Project: "acme/shop",
		URL:     "https://gantry.example.com/acme/shop/-/pipelines/42",
		Time:    time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
	}
	switch kind {
	case KindPipelineFailed, KindPipelineFixed:
		e.Ref, e.PipelineID = "main", 42
		if kind == KindPipelineFailed {
			e.Reason = `job "test" failed: exit status 1`
		}
	default:
		e.Env, e.App, e.Revision, e.Version = "production", "shop", 7, "v1.4.2"
		if kind != KindRolloutPromoted {
			e.Reason = "error_rate 0.12 > 0.05 over 2s (240 requests)"
		}
	}
	return e
}
