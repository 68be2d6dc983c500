package notify

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"
)

// Delivery statuses.
const (
	StatusDelivered = "delivered"
	StatusRetrying  = "retrying"
	StatusFailed    = "failed"
)

// Delivery records one attempt to deliver one event to one channel, or
// the reason no attempt was made (Attempt 0: invalid channel or event,
// queue full, notifier closed).
type Delivery struct {
	// ID is shared by all attempts of one delivery; for webhooks it is
	// the X-Gantry-Delivery header.
	ID string
	// Channel is the channel type; Target its destination without
	// secrets (Slack hook tokens, URL credentials and query values).
	Channel string
	Target  string
	Project string
	Event   string // event kind
	Attempt int
	Status  string // StatusDelivered, StatusRetrying or StatusFailed
	Error   string
	Time    time.Time
}

// Options configures a Notifier; zero values get the defaults noted.
type Options struct {
	// HTTPClient sends Slack and webhook requests. The default has a
	// 30 s timeout and does not follow redirects: following a 301/302
	// would turn the POST into a bodiless GET that "succeeds", so a
	// redirect is reported as a failure naming the status instead.
	HTTPClient *http.Client
	// SMTP is the relay for e-mail channels.
	SMTP SMTP
	// TLSConfig is used for STARTTLS (e.g. a private CA); the server
	// name defaults to the SMTP host.
	TLSConfig *tls.Config
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Record stores a delivery record; it is called from worker
	// goroutines, concurrently, and also from Notify for deliveries that
	// never get queued. Its errors are logged.
	Record func(ctx context.Context, d Delivery) error
	// BackoffBase (default 1 s) doubles per attempt up to BackoffMax
	// (default 1 min), with jitter.
	BackoffBase, BackoffMax time.Duration
	// MaxRetryAfter bounds a receiver's Retry-After (default 5 min); a
	// longer request fails the delivery rather than hold a worker.
	MaxRetryAfter time.Duration
	// MaxAttempts per delivery, default 5.
	MaxAttempts int
	// AttemptTimeout bounds one attempt, default 30 s.
	AttemptTimeout time.Duration
	// Workers sending concurrently (default 4) and QueueSize deliveries
	// waiting (default 256).
	Workers, QueueSize int
	// Clock defaults to the real one.
	Clock Clock
}

func (o *Options) defaults() {
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{
			Timeout: 30 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
		}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.BackoffBase <= 0 {
		o.BackoffBase = time.Second
	}
	if o.BackoffMax <= 0 {
		o.BackoffMax = time.Minute
	}
	o.BackoffMax = max(o.BackoffMax, o.BackoffBase)
	if o.MaxRetryAfter <= 0 {
		o.MaxRetryAfter = 5 * time.Minute
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 5
	}
	if o.AttemptTimeout <= 0 {
		o.AttemptTimeout = 30 * time.Second
	}
	if o.Workers <= 0 {
		o.Workers = 4
	}
	if o.QueueSize <= 0 {
		o.QueueSize = 256
	}
	if o.Clock == nil {
		o.Clock = realClock{}
	}
}

// Errors recorded for deliveries that were never attempted.
var (
	ErrQueueFull = errors.New("notification queue is full")
	ErrClosed    = errors.New("notifier is closed")
)

// Notifier delivers events to channels in the background.
type Notifier struct {
	opts  Options
	queue chan job

	mu     sync.RWMutex // guards closed against the close of queue
	closed bool

	// ctx ends in-flight attempts and backoff waits when Close gives up.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// job is one delivery: one event to one channel.
type job struct {
	id string
	ch Channel
	ev Event
}

// New starts a Notifier's workers; stop them with Close.
func New(opts Options) *Notifier {
	opts.defaults()
	ctx, cancel := context.WithCancel(context.Background())
	n := &Notifier{opts: opts, queue: make(chan job, opts.QueueSize), ctx: ctx, cancel: cancel}
	n.wg.Add(opts.Workers)
	for range opts.Workers {
		go func() {
			defer n.wg.Done()
			for j := range n.queue {
				n.deliver(j)
			}
		}()
	}
	return n
}

// Notify queues e for every channel that wants it and returns at once.
// Deliveries outlive ctx, which is only used for records written before
// queueing (invalid channel, full queue, closed notifier). A zero e.Time
// is set to now.
func (n *Notifier) Notify(ctx context.Context, channels []Channel, e Event) {
	ctx = context.WithoutCancel(ctx)
	if e.Time.IsZero() {
		e.Time = n.opts.Clock.Now()
	}
	evErr := e.Validate()
	for _, ch := range channels {
		if !ch.Wants(e.Kind) {
			continue
		}
		j := job{id: newDeliveryID(), ch: ch, ev: e}
		if evErr != nil {
			n.record(ctx, j, 0, StatusFailed, evErr)
			continue
		}
		if err := ch.Validate(); err != nil {
			n.record(ctx, j, 0, StatusFailed, err)
			continue
		}
		n.enqueue(ctx, j)
	}
}

func (n *Notifier) enqueue(ctx context.Context, j job) {
	n.mu.RLock()
	if n.closed {
		n.mu.RUnlock()
		n.record(ctx, j, 0, StatusFailed, ErrClosed)
		return
	}
	select {
	case n.queue <- j:
		n.mu.RUnlock()
	default:
		n.mu.RUnlock()
		n.record(ctx, j, 0, StatusFailed, ErrQueueFull)
	}
}

// Close stops accepting events and waits until every queued delivery has
// finished, retries included. If ctx ends first, in-flight attempts and
// waits are cancelled and what remains is recorded as failed; Close then
// returns ctx's error.
func (n *Notifier) Close(ctx context.Context) error {
	n.mu.Lock()
	if !n.closed {
		n.closed = true
		close(n.queue)
	}
	n.mu.Unlock()
	done := make(chan struct{})
	go func() {
		n.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		n.cancel()
		return nil
	case <-ctx.Done():
		n.cancel()
		<-done
		return fmt.Errorf("drain notifications: %w", ctx.Err())
	}
}

// deliver makes up to MaxAttempts attempts, recording each.
func (n *Notifier) deliver(j job) {
	p, err := n.prepare(j)
	if err != nil {
		n.record(context.Background(), j, 0, StatusFailed, err)
		return
	}
	for attempt := 1; ; attempt++ {
		if n.ctx.Err() != nil {
			n.record(context.Background(), j, attempt-1, StatusFailed, fmt.Errorf("%w before attempt %d", ErrClosed, attempt))
			return
		}
		actx, cancel := context.WithTimeout(n.ctx, n.opts.AttemptTimeout)
		err := p(actx)
		cancel()
		if err == nil {
			n.record(context.Background(), j, attempt, StatusDelivered, nil)
			return
		}
		if n.ctx.Err() != nil {
			n.record(context.Background(), j, attempt, StatusFailed, fmt.Errorf("%w during attempt: %w", ErrClosed, err))
			return
		}
		if !retryable(err) || attempt >= n.opts.MaxAttempts {
			n.record(context.Background(), j, attempt, StatusFailed, err)
			return
		}
		wait := backoff(n.opts.BackoffBase, n.opts.BackoffMax, attempt)
		if d, ok := requestedWait(err); ok {
			if d > n.opts.MaxRetryAfter {
				n.record(context.Background(), j, attempt, StatusFailed,
					fmt.Errorf("%w; receiver asked to retry after %s, more than the %s allowed", err, d, n.opts.MaxRetryAfter))
				return
			}
			wait = d
		}
		n.record(context.Background(), j, attempt, StatusRetrying, err)
		if err := n.opts.Clock.Sleep(n.ctx, wait); err != nil {
			n.record(context.Background(), j, attempt, StatusFailed, fmt.Errorf("%w while waiting to retry", ErrClosed))
			return
		}
	}
}

// prepare renders the payload once and returns the attempt function, so
// every attempt sends identical bytes (same signature, same Message-ID).
func (n *Notifier) prepare(j job) (func(context.Context) error, error) {
	switch j.ch.Type {
	case ChannelSlack:
		body, err := slackPayload(j.ev)
		if err != nil {
			return nil, err
		}
		return func(ctx context.Context) error {
			return n.post(ctx, j.ch.URL, http.Header{}, body)
		}, nil
	case ChannelWebhook:
		body, err := j.ev.MarshalJSON()
		if err != nil {
			return nil, err
		}
		header := webhookHeader(j.ch, j.ev, j.id, body)
		return func(ctx context.Context) error {
			return n.post(ctx, j.ch.URL, header.Clone(), body)
		}, nil
	case ChannelEmail:
		if err := n.opts.SMTP.Validate(); err != nil {
			return nil, err
		}
		m, err := buildMail(n.opts.SMTP, j.ch.To, j.ev, n.opts.Clock.Now())
		if err != nil {
			return nil, err
		}
		return func(ctx context.Context) error {
			return sendMail(ctx, n.opts.SMTP, n.opts.TLSConfig, m)
		}, nil
	}
	return nil, fmt.Errorf("unknown channel type %q", j.ch.Type)
}

// record reports one attempt to Options.Record and the log. Workers pass
// a context that survives Close, so records are written even while the
// notifier shuts down.
func (n *Notifier) record(ctx context.Context, j job, attempt int, status string, err error) {
	d := Delivery{
		ID:      j.id,
		Channel: j.ch.Type,
		Target:  j.ch.redacted(),
		Project: j.ev.Project,
		Event:   j.ev.Kind,
		Attempt: attempt,
		Status:  status,
		Time:    n.opts.Clock.Now(),
	}
	if err != nil {
		d.Error = err.Error()
	}
	attrs := []any{"delivery", d.ID, "channel", d.Channel, "target", d.Target,
		"project", d.Project, "event", d.Event, "attempt", d.Attempt}
	switch status {
	case StatusDelivered:
		n.opts.Logger.Debug("notification delivered", attrs...)
	case StatusRetrying:
		n.opts.Logger.Warn("notification attempt failed, will retry", append(attrs, "err", d.Error)...)
	default:
		n.opts.Logger.Error("notification failed", append(attrs, "err", d.Error)...)
	}
	if n.opts.Record == nil {
		return
	}
	if err := n.opts.Record(ctx, d); err != nil {
		n.opts.Logger.Error("record notification delivery", append(attrs, "err", err)...)
	}
}

// newDeliveryID is unique without coordination, so several servers can
// share one delivery table.
func newDeliveryID() string { return rand.Text() }
