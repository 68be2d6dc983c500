package localtarget

import (
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"

	"github.com/gantry-ci/gantry/internal/deploy/local"
	"github.com/gantry-ci/gantry/internal/deploy/spec"
	"github.com/gantry-ci/gantry/internal/deploy/target"
)

// revSet is one revision's replicas and the goroutine that scales them
// to the count last asked for.
type revSet struct {
	rev  target.Revision
	set  *local.Set
	wake chan struct{}

	// Guarded by Env.mu.
	desired int
	err     string
}

// Scale asks for n replicas of rev.
func (e *Env) Scale(rev target.Revision, n int) error {
	if n < 0 {
		return fmt.Errorf("scale revision %d to %d replicas: negative count", rev.Number, n)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return errors.New("environment is closed")
	}
	rs := e.revs[rev.Number]
	if rs == nil {
		if n == 0 {
			return nil
		}
		set, err := e.newSet(rev)
		if err != nil {
			return err
		}
		rs = &revSet{rev: rev, set: set, wake: make(chan struct{}, 1)}
		e.revs[rev.Number] = rs
		e.wg.Go(func() { e.forward(rs) })
		e.wg.Go(func() { e.scaler(rs) })
	}
	if rs.desired == n {
		return nil
	}
	rs.desired = n
	select {
	case rs.wake <- struct{}{}:
	default:
	}
	return nil
}

// newSet prepares the replicas of rev without starting any.
func (e *Env) newSet(rev target.Revision) (*local.Set, error) {
	rs, err := replicaSpec(e.o.App, e.o.Env, rev)
	if err != nil {
		return nil, err
	}
	opts := e.t.opts.Replica
	opts.Logger = e.log
	opts.LogDir = e.t.logDir(e.o.App, e.o.Env)
	opts.Drain = e.drain
	if cb := e.o.OnRestart; cb != nil {
		opts.OnRestart = func(r int) { cb(int64(r)) }
	}
	if rs.Kind == local.KindWasm {
		rt, err := e.t.runtime(e.ctx)
		if err != nil {
			return nil, fmt.Errorf("revision %d: %w", rev.Number, err)
		}
		opts.Runtime = rt
	}
	set, err := local.NewSet(rs, opts)
	if err != nil {
		return nil, fmt.Errorf("revision %d: %w", rev.Number, err)
	}
	return set, nil
}

// replicaSpec translates a revision's deploy spec to the replica runner's.
func replicaSpec(app, env string, rev target.Revision) (local.ReplicaSpec, error) {
	s := rev.Spec
	if s == nil {
		return local.ReplicaSpec{}, fmt.Errorf("revision %d has no spec", rev.Number)
	}
	environ := make([]string, 0, len(s.Runtime.Env)+len(rev.Environ))
	for _, k := range slices.Sorted(maps.Keys(s.Runtime.Env)) {
		environ = append(environ, k+"="+s.Runtime.Env[k])
	}
	environ = append(environ, rev.Environ...) // --set wins over the spec
	rs := local.ReplicaSpec{
		App:      app,
		Env:      env,
		Revision: int(rev.Number),
		Version:  rev.Version,
		Dir:      rev.Dir,
		Environ:  environ,
		Health: local.HealthCheck{
			Path:             s.HealthCheck.Path,
			Interval:         s.HealthCheck.Interval.Duration(),
			Timeout:          s.HealthCheck.Timeout.Duration(),
			InitialDelay:     s.HealthCheck.InitialDelay.Duration(),
			FailureThreshold: s.HealthCheck.FailureThreshold,
		},
	}
	switch s.Runtime.Kind {
	case spec.RuntimeWasm:
		rs.Kind, rs.WasmMode = local.KindWasm, string(s.Runtime.Mode)
		rs.Module = s.Runtime.Module
		if !filepath.IsAbs(rs.Module) {
			rs.Module = filepath.Join(rev.Dir, rs.Module)
		}
	default:
		rs.Kind, rs.Command = local.KindProcess, slices.Clone(s.Runtime.Command)
	}
	return rs, rs.Validate()
}

// scaler applies the desired count whenever it changes; scaling to zero
// closes the set and forgets the revision, unless it was asked for again
// meanwhile.
func (e *Env) scaler(rs *revSet) {
	for {
		select {
		case <-rs.wake:
		case <-e.ctx.Done():
			return
		}
		e.mu.Lock()
		n := rs.desired
		e.mu.Unlock()
		err := rs.set.Scale(e.ctx, n)
		if e.ctx.Err() != nil {
			return
		}
		e.mu.Lock()
		rs.err = ""
		if err != nil {
			rs.err = err.Error()
		}
		forget := n == 0 && rs.desired == 0 && e.revs[rs.rev.Number] == rs
		if forget {
			delete(e.revs, rs.rev.Number)
		}
		e.mu.Unlock()
		if err != nil {
			e.log.Warn("scale revision", "revision", rs.rev.Number, "replicas", n, "err", err)
		}
		if forget {
			if err := rs.set.Close(e.ctx); err != nil {
				e.log.Warn("close revision", "revision", rs.rev.Number, "err", err)
			}
			e.signal()
			return
		}
		e.signal()
	}
}

// forward turns the set's readiness changes into new routes and a
// change of the environment. It ends when the set is closed.
func (e *Env) forward(rs *revSet) {
	for range rs.set.Changes() {
		if err := e.reroute(); err != nil {
			e.log.Warn("reroute", "revision", rs.rev.Number, "err", err)
		}
		e.signal()
	}
}

// Status reports every revision with replicas.
func (e *Env) Status() map[int64]target.RevisionStatus {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make(map[int64]target.RevisionStatus, len(e.revs))
	for rev, rs := range e.revs {
		st := target.RevisionStatus{Desired: rs.desired, Error: rs.err}
		for _, r := range rs.set.Status() {
			st.Running++
			if r.Ready {
				st.Ready++
			}
			st.Replicas = append(st.Replicas, target.Replica{
				Endpoint: r.Endpoint, Ready: r.Ready, Restarts: r.Restarts, PID: r.PID, LastError: r.LastError,
			})
		}
		out[rev] = st
	}
	return out
}
