package notify

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Clock is the notifier's sense of time, replaceable so tests can check
// waits without spending them.
type Clock interface {
	Now() time.Time
	// Sleep waits for d or until ctx is done, returning ctx's error then.
	Sleep(ctx context.Context, d time.Duration) error
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// permanentError marks a failure that retrying cannot fix: a 4xx answer,
// a refused recipient, bad configuration.
type permanentError struct{ err error }

func (p *permanentError) Error() string { return p.err.Error() }
func (p *permanentError) Unwrap() error { return p.err }

func permanent(err error) error { return &permanentError{err: err} }

// retryAfterError carries the wait a server asked for with Retry-After.
type retryAfterError struct {
	err   error
	after time.Duration
}

func (r *retryAfterError) Error() string { return r.err.Error() }
func (r *retryAfterError) Unwrap() error { return r.err }

// backoff is the wait before attempt+1 after attempt failed: base doubled
// per attempt, capped at max, with "equal jitter" (a random point in the
// upper half) so deliveries failing together do not retry together, yet
// never retry sooner than half the nominal wait.
func backoff(base, maxWait time.Duration, attempt int) time.Duration {
	d := base
	for i := 1; i < attempt && d < maxWait; i++ {
		d *= 2
	}
	d = min(d, maxWait)
	if d <= 1 {
		return d
	}
	half := d / 2
	return half + rand.N(d-half+1)
}

// parseRetryAfter reads a Retry-After header (RFC 9110 §10.2.3): either
// delay-seconds or an HTTP-date. A date in the past means no wait. ok is
// false when the header is absent or malformed, and the caller falls back
// to its own backoff.
func parseRetryAfter(v string, now time.Time) (d time.Duration, ok bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	// Beyond a year the value is nonsense anyway; capping avoids
	// overflow in both forms.
	const limit = 365 * 24 * time.Hour
	if v[0] >= '0' && v[0] <= '9' {
		secs, err := strconv.ParseInt(v, 10, 64)
		if err != nil || secs < 0 {
			return 0, false
		}
		return time.Duration(min(secs, int64(limit/time.Second))) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return min(max(t.Sub(now), 0), limit), true
}

// retryable says whether err is worth another attempt: anything not
// marked permanent is, since network errors, timeouts, 5xx and 429 are
// the usual transient failures.
func retryable(err error) bool {
	var p *permanentError
	return !errors.As(err, &p)
}

// requestedWait is the Retry-After a failure carried, if any.
func requestedWait(err error) (time.Duration, bool) {
	var r *retryAfterError
	if errors.As(err, &r) {
		return r.after, true
	}
	return 0, false
}
