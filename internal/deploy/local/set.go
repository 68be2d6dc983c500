package local

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
)

// Set is the replicas of one app revision. Its methods are safe for
// concurrent use.
type Set struct {
	spec   ReplicaSpec
	opts   Options
	log    *slog.Logger
	client *http.Client

	rt         *Runtime
	ownRuntime bool
	forker     *forker // starts process replicas; nil for wasm

	scaleMu sync.Mutex // serializes Scale and Close
	mod     *module    // compiled module of a wasm Set, under scaleMu

	mu       sync.Mutex
	replicas []*replica
	nextID   int
	closed   bool
	finished bool // changes and notify are closed
	changes  chan struct{}
	notify   chan struct{} // closed and replaced on every change
}

// NewSet prepares the replicas of spec without starting any; Scale
// starts them. A wasm module is compiled on the first Scale above zero.
// The Set holds a thread (for process replicas) or a runtime until Close.
func NewSet(spec ReplicaSpec, opts Options) (*Set, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	spec = spec.withDefaults()
	opts = opts.withDefaults()
	s := &Set{
		spec: spec,
		opts: opts,
		log:  opts.Logger.With("app", spec.App, "env", spec.Env, "revision", spec.Revision),
		client: &http.Client{
			// Probes must not keep connections to replicas being stopped,
			// nor go through $HTTP_PROXY.
			Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil},
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
		},
		rt:      opts.Runtime,
		changes: make(chan struct{}, 1),
		notify:  make(chan struct{}),
	}
	if opts.LogDir != "" {
		if err := os.MkdirAll(opts.LogDir, 0o755); err != nil {
			return nil, fmt.Errorf("create replica log directory: %w", err)
		}
	}
	if spec.Kind == KindProcess {
		s.forker = newForker()
	}
	if spec.Kind == KindWasm && s.rt == nil {
		rt, err := NewRuntime(context.Background(), RuntimeOptions{})
		if err != nil {
			return nil, err
		}
		s.rt, s.ownRuntime = rt, true
	}
	return s, nil
}

// Spec returns the spec the Set runs, defaults filled in.
func (s *Set) Spec() ReplicaSpec { return s.spec }

// Scale starts or stops replicas until n are running. It does not wait
// for new replicas to become ready (see WaitReady). Replicas are stopped
// not-ready ones first, then newest first; each ready one is passed to
// Options.Drain before it is stopped, and Scale returns once they are
// gone. If ctx ends, replicas being stopped are killed at once.
func (s *Set) Scale(ctx context.Context, n int) error {
	if n < 0 {
		return fmt.Errorf("scale %s to %d replicas: negative count", s.name(), n)
	}
	s.scaleMu.Lock()
	defer s.scaleMu.Unlock()

	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return fmt.Errorf("scale %s: set is closed", s.name())
	}
	live := s.liveLocked()
	ready := map[*replica]bool{}
	for _, r := range live {
		ready[r] = r.ready
	}
	s.mu.Unlock()

	if n > len(live) {
		if s.spec.Kind == KindWasm && s.mod == nil {
			mod, err := s.rt.acquire(ctx, s.spec.Module)
			if err != nil {
				return fmt.Errorf("scale %s: %w", s.name(), err)
			}
			s.mod = mod
		}
		for range n - len(live) {
			if err := s.addReplica(); err != nil {
				return fmt.Errorf("scale %s to %d replicas: %w", s.name(), n, err)
			}
		}
		return nil
	}
	if n == len(live) {
		return nil
	}
	slices.SortStableFunc(live, func(a, b *replica) int {
		if ready[a] != ready[b] {
			if ready[a] {
				return 1
			}
			return -1
		}
		return b.id - a.id
	})
	if err := s.stop(ctx, live[:len(live)-n], true); err != nil {
		return fmt.Errorf("scale %s to %d replicas: %w", s.name(), n, err)
	}
	return nil
}

// addReplica starts one more replica.
func (s *Set) addReplica() error {
	s.mu.Lock()
	s.nextID++
	id := s.nextID
	s.mu.Unlock()

	r := &replica{set: s, id: id, done: make(chan struct{})}
	if s.opts.LogDir != "" {
		name := fmt.Sprintf("%s-%s-r%d-%d.log", safeName(s.spec.App), safeName(s.spec.Env), s.spec.Revision, id)
		f, err := os.OpenFile(filepath.Join(s.opts.LogDir, name), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return fmt.Errorf("open replica log: %w", err)
		}
		r.logFile = f
	}
	r.ctx, r.cancel = context.WithCancel(context.Background())

	s.mu.Lock()
	s.replicas = append(s.replicas, r)
	s.mu.Unlock()
	go r.run()
	return nil
}

// stop drains (if asked) and stops rs concurrently, then forgets them.
func (s *Set) stop(ctx context.Context, rs []*replica, drain bool) error {
	errs := make([]error, len(rs))
	var wg sync.WaitGroup
	for i, r := range rs {
		var endpoint string
		var wasReady bool
		s.update(r, func() {
			endpoint, wasReady = r.endpoint, r.ready
			r.stopping, r.ready = true, false
		})
		wg.Go(func() {
			if drain && wasReady && s.opts.Drain != nil {
				if err := s.opts.Drain(ctx, endpoint); err != nil {
					errs[i] = fmt.Errorf("drain %s: %w", endpoint, err)
				}
			}
			s.mu.Lock()
			r.stopCtx = ctx
			s.mu.Unlock()
			r.cancel()
			<-r.done
		})
	}
	wg.Wait()

	s.mu.Lock()
	s.replicas = slices.DeleteFunc(s.replicas, func(r *replica) bool { return slices.Contains(rs, r) })
	s.mu.Unlock()
	s.signal()
	return errors.Join(errs...)
}

// Close stops every replica without draining (scale to zero first for
// that) and frees the module. Changes is closed once all are gone.
// Close waits for the replicas to exit; if ctx ends it kills them.
func (s *Set) Close(ctx context.Context) error {
	s.scaleMu.Lock()
	defer s.scaleMu.Unlock()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	all := slices.Clone(s.replicas)
	s.mu.Unlock()

	err := s.stop(ctx, all, false)
	if s.mod != nil {
		s.rt.release(s.mod)
		s.mod = nil
	}
	if s.ownRuntime {
		err = errors.Join(err, s.rt.Close(ctx))
	}
	if s.forker != nil {
		s.forker.close()
	}
	s.mu.Lock()
	s.finished = true
	close(s.changes)
	close(s.notify)
	s.mu.Unlock()
	if err != nil {
		return fmt.Errorf("close %s: %w", s.name(), err)
	}
	return nil
}

// Endpoints returns the host:port of every ready replica, oldest first.
func (s *Set) Endpoints() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, r := range s.replicas {
		if r.ready {
			out = append(out, r.endpoint)
		}
	}
	return out
}

// Status returns a snapshot of every replica, oldest first, including
// ones being stopped.
func (s *Set) Status() []ReplicaStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]ReplicaStatus, 0, len(s.replicas))
	for _, r := range s.replicas {
		out = append(out, ReplicaStatus{
			Endpoint: r.endpoint, Ready: r.ready, Restarts: r.restarts,
			PID: r.pid, LastError: r.lastErr,
		})
	}
	return out
}

// Changes receives a value after readiness or membership changes; many
// changes between two receives arrive as one. It is closed by Close.
// Only one goroutine should receive from it; others use WaitReady.
func (s *Set) Changes() <-chan struct{} { return s.changes }

// WaitReady waits until at least n replicas are ready.
func (s *Set) WaitReady(ctx context.Context, n int) error {
	for {
		s.mu.Lock()
		ready, closed, notify := 0, s.closed, s.notify
		for _, r := range s.replicas {
			if r.ready {
				ready++
			}
		}
		s.mu.Unlock()
		if ready >= n {
			return nil
		}
		if closed {
			return fmt.Errorf("wait for %d ready replicas of %s: set is closed", n, s.name())
		}
		select {
		case <-notify:
		case <-ctx.Done():
			return fmt.Errorf("wait for %d ready replicas of %s (%d ready): %w", n, s.name(), ready, ctx.Err())
		}
	}
}

// update changes r under the lock and signals if readiness or the
// endpoint changed.
func (s *Set) update(r *replica, fn func()) {
	s.mu.Lock()
	ready, endpoint := r.ready, r.endpoint
	fn()
	changed := ready != r.ready || (r.ready && endpoint != r.endpoint)
	s.mu.Unlock()
	if changed {
		s.signal()
	}
}

// signal wakes Changes and WaitReady.
func (s *Set) signal() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.finished {
		return
	}
	select {
	case s.changes <- struct{}{}:
	default:
	}
	close(s.notify)
	s.notify = make(chan struct{})
}

func (s *Set) isStopping(r *replica) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return r.stopping
}

// liveLocked returns the replicas not being stopped.
func (s *Set) liveLocked() []*replica {
	var out []*replica
	for _, r := range s.replicas {
		if !r.stopping {
			out = append(out, r)
		}
	}
	return out
}

func (s *Set) name() string {
	return fmt.Sprintf("%s/%s revision %d", s.spec.App, s.spec.Env, s.spec.Revision)
}

// safeName keeps a name usable as part of a file name.
func safeName(s string) string {
	if s == "" {
		return "_"
	}
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			return r
		}
		return '_'
	}, s)
}
