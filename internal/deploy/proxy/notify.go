package proxy

import (
	"sync"
	"sync/atomic"
	"time"
)

// Guardrails are woken after every batch of this many requests, or batchDelay after the
// first request of a smaller batch, whichever comes first: often enough to stop a bad
// canary within a few requests, rarely enough not to re-evaluate on every single one.
const (
	batchSize  = 10
	batchDelay = 50 * time.Millisecond
)

// notifier wakes subscribers after each small batch of finished requests. Signals are
// coalesced in a one-slot channel, so a slow subscriber never slows requests down.
type notifier struct {
	mu      sync.Mutex
	subs    atomic.Pointer[[]chan struct{}] // copy-on-write for a lock-free signal
	pending atomic.Int64
	timer   *time.Timer
}

func newNotifier() *notifier {
	n := &notifier{}
	n.timer = time.AfterFunc(time.Hour, n.flush)
	n.timer.Stop()
	return n
}

// done counts a finished request and signals when a batch is complete.
func (n *notifier) done() {
	if n.subs.Load() == nil {
		return
	}
	switch c := n.pending.Add(1); {
	case c >= batchSize:
		n.flush()
	case c == 1:
		n.timer.Reset(batchDelay)
	}
}

func (n *notifier) flush() {
	if n.pending.Swap(0) == 0 {
		return
	}
	subs := n.subs.Load()
	if subs == nil {
		return
	}
	for _, ch := range *subs {
		select {
		case ch <- struct{}{}:
		default: // a signal is already waiting: coalesce
		}
	}
}

// subscribe adds a subscriber; cancel removes it and is safe to call more than once.
func (n *notifier) subscribe() (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	n.mu.Lock()
	defer n.mu.Unlock()
	var next []chan struct{}
	if cur := n.subs.Load(); cur != nil {
		next = append(next, *cur...)
	}
	next = append(next, ch)
	n.subs.Store(&next)
	var once sync.Once
	return ch, func() { once.Do(func() { n.unsubscribe(ch) }) }
}

func (n *notifier) unsubscribe(ch chan struct{}) {
	n.mu.Lock()
	defer n.mu.Unlock()
	cur := n.subs.Load()
	if cur == nil {
		return
	}
	var next []chan struct{}
	for _, c := range *cur {
		if c != ch {
			next = append(next, c)
		}
	}
	if len(next) == 0 {
		n.subs.Store(nil)
		return
	}
	n.subs.Store(&next)
}
