package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
	"time"
)

// instance is one run of a replica: a process, a WAGI server or a
// listener module. The replica replaces it when it dies.
type instance interface {
	endpoint() string
	pid() int
	exited() <-chan struct{} // closed once the instance is gone
	exitErr() error          // why, valid once exited is closed
	// stop ends the instance, gracefully until ctx ends, and returns
	// once it is gone.
	stop(ctx context.Context)
}

// errPortTaken marks an instance that died because another program took
// its port first: a race of freePort, retried without counting.
var errPortTaken = errors.New("port taken by another program")

// maxPortRetries bounds the uncounted retries after errPortTaken.
const maxPortRetries = 3

// replica keeps one slot of a Set filled with a running instance.
type replica struct {
	set     *Set
	id      int
	logFile *os.File // nil when output is discarded

	ctx    context.Context // cancelled when the replica is to stop
	cancel context.CancelFunc
	done   chan struct{}

	// Guarded by set.mu.
	endpoint string
	ready    bool
	stopping bool
	restarts int
	pid      int
	lastErr  string
	stopCtx  context.Context
}

// output is where the instance's stdout and stderr go.
func (r *replica) output() io.Writer {
	if r.logFile == nil {
		return io.Discard
	}
	return r.logFile
}

// note writes a supervisor line into the replica's log, so its output
// file shows where one run ends and the next begins.
func (r *replica) note(format string, args ...any) {
	if r.logFile != nil {
		fmt.Fprintf(r.logFile, "gantry: replica %d: "+format+"\n", append([]any{r.id}, args...)...)
	}
}

// run starts the replica and restarts it until it is asked to stop.
func (r *replica) run() {
	defer close(r.done)
	defer func() {
		if r.logFile != nil {
			_ = r.logFile.Close()
		}
	}()
	s := r.set
	streak, portRetries := 0, 0
	for {
		inst, err := r.start()
		if err == nil {
			s.update(r, func() { r.endpoint, r.pid = inst.endpoint(), inst.pid() })
			r.note("started on %s (pid %d)", inst.endpoint(), inst.pid())
			var steady bool
			steady, err = r.watch(inst)
			if err == nil { // asked to stop
				r.stopInstance(inst, r.stopContext())
				return
			}
			s.update(r, func() { r.ready = false })
			r.stopInstance(inst, context.Background())
			if steady {
				streak = 0
			}
			if errors.Is(err, errPortTaken) && portRetries < maxPortRetries {
				portRetries++
				r.note("%v, picking another port", err)
				continue
			}
		}
		portRetries = 0
		if r.ctx.Err() != nil {
			return
		}
		if r.set.isStopping(r) {
			// Being drained: the instance is gone already, and a new
			// one would only be stopped again.
			<-r.ctx.Done()
			return
		}
		streak++
		s.update(r, func() { r.restarts++; r.lastErr = err.Error() })
		r.note("restarting: %v", err)
		s.log.Warn("replica restarting", "replica", r.id, "err", err)
		if s.opts.OnRestart != nil {
			s.opts.OnRestart(s.spec.Revision)
		}
		t := time.NewTimer(backoff(s.opts.BackoffBase, s.opts.BackoffMax, streak))
		select {
		case <-t.C:
		case <-r.ctx.Done():
			t.Stop()
			return
		}
	}
}

// backoff doubles base for each failure in a row, up to max.
func backoff(base, max time.Duration, streak int) time.Duration {
	d := base
	for i := 1; i < streak && d < max; i++ {
		d *= 2
	}
	return min(d, max)
}

// start launches one instance of the replica's kind.
func (r *replica) start() (instance, error) {
	s := r.set
	env := mergeEnv(s.spec.Environ, s.spec.gantryEnv())
	switch {
	case s.spec.Kind == KindWasm && s.spec.WasmMode == WasmModeWAGI:
		return startWAGI(s.rt, s.mod, s.spec, env, r.output(), s.opts.RequestTimeout, s.log)
	case s.spec.Kind == KindWasm:
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		return startListener(s.rt, s.mod, s.spec, env, r.output(), port)
	default:
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		return startProcess(s.forker, s.spec, env, r.logFile, port)
	}
}

// watch health checks inst until it dies, fails too many checks in a
// row, or the replica is asked to stop (nil error). Until the first
// success it probes often, for a quick start, and gives the instance
// InitialDelay + FailureThreshold × Interval to get ready. steady
// reports whether the instance stayed ready long enough to clear the
// backoff streak.
func (r *replica) watch(inst instance) (steady bool, err error) {
	s := r.set
	hc := s.spec.Health
	started := time.Now()
	var readySince time.Time
	deadline := started.Add(hc.InitialDelay + time.Duration(hc.FailureThreshold)*hc.Interval)
	startupEvery := min(hc.Interval, 100*time.Millisecond)
	failures := 0
	defer func() { steady = !readySince.IsZero() && time.Since(readySince) >= s.opts.BackoffMax }()

	t := time.NewTimer(hc.InitialDelay)
	defer t.Stop()
	for {
		select {
		case <-r.ctx.Done():
			return false, nil
		case <-inst.exited():
			return false, r.exitReason(inst, readySince.IsZero())
		case <-t.C:
		}
		perr := probe(r.ctx, s.client, inst.endpoint(), hc)
		if r.ctx.Err() != nil {
			return false, nil
		}
		select {
		case <-inst.exited():
			return false, r.exitReason(inst, readySince.IsZero())
		default:
		}
		if perr == nil {
			failures = 0
			if readySince.IsZero() {
				readySince = time.Now()
				r.note("ready after %s", time.Since(started).Round(time.Millisecond))
			}
			s.update(r, func() { r.ready = !r.stopping })
			t.Reset(hc.Interval)
			continue
		}
		s.update(r, func() { r.ready = false })
		if readySince.IsZero() {
			if time.Now().After(deadline) {
				return false, fmt.Errorf("not ready after %s: %w", time.Since(started).Round(time.Millisecond), perr)
			}
			t.Reset(startupEvery)
			continue
		}
		failures++
		if failures >= hc.FailureThreshold {
			return false, fmt.Errorf("%d health checks failed in a row: %w", failures, perr)
		}
		t.Reset(hc.Interval)
	}
}

// exitReason explains why inst died, telling a lost port race apart.
func (r *replica) exitReason(inst instance, neverReady bool) error {
	err := inst.exitErr()
	if neverReady && (errors.Is(err, syscall.EADDRINUSE) || (r.set.spec.Kind == KindProcess && portTaken(inst.endpoint()))) {
		return fmt.Errorf("%w: %w", errPortTaken, err)
	}
	return err
}

// stopInstance stops inst, forcing it after the grace period or when
// ctx ends, whichever is first.
func (r *replica) stopInstance(inst instance, ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, r.set.opts.StopGrace)
	defer cancel()
	inst.stop(ctx)
	r.note("stopped: %v", inst.exitErr())
}

// stopContext is the context the caller of Scale or Close stops with.
func (r *replica) stopContext() context.Context {
	r.set.mu.Lock()
	defer r.set.mu.Unlock()
	if r.stopCtx == nil {
		return context.Background()
	}
	return r.stopCtx
}
