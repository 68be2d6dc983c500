// Package target is the boundary between the rollout controller and what
// runs an app: the controller decides how many replicas of each revision
// run and how traffic is split, a Target makes it so. The local target
// (internal/deploy/localtarget) runs replicas on this machine behind
// Gantry's proxy; a Kubernetes target can later implement the same
// interface with ReplicaSets and a mesh route.
//
// The interface lives in its own package so that both the controller and
// the targets can name it without importing each other.
package target

import (
	"context"
	"time"

	"github.com/gantry-ci/gantry/internal/deploy/spec"
	"github.com/gantry-ci/gantry/internal/deploy/strategy"
)

// Target opens environments.
type Target interface {
	// Open starts serving one app's environment: its listener(s) are bound
	// before Open returns, so an address in use is reported to whoever
	// deployed. No replica runs until Scale.
	Open(ctx context.Context, o EnvOptions) (Env, error)
	// Close releases what the environments share (a wasm runtime); close
	// every Env first.
	Close(ctx context.Context) error
}

// EnvOptions name an environment and where it listens.
type EnvOptions struct {
	App, Env string
	// Listen is the address every request of the environment arrives at.
	Listen string
	// PreviewListen serves the blue-green preview revision only; "" for
	// none.
	PreviewListen string
	// OnRestart is told each time a replica of rev crashed and was
	// restarted; it must not block.
	OnRestart func(rev int64)
}

// Revision is what a target needs to run the replicas of one revision.
type Revision struct {
	Number  int64
	Version string
	// Spec is the revision's own deploy spec: runtime and health check.
	Spec *spec.Spec
	// Dir holds the revision's unpacked artifact; replicas start in it and
	// a wasm module path is relative to it.
	Dir string
	// Environ are KEY=VALUE pairs for every replica (deploy --set); the
	// target adds GANTRY_VERSION and the other GANTRY_ variables.
	Environ []string
}

// Env is one running environment of one app.
type Env interface {
	// Scale asks for n replicas of rev and returns at once; replicas start
	// and stop in the background and Changes tells when they did. Ready
	// replicas are drained (taken out of the routes, in-flight requests
	// finished) before they are stopped. Scaling to 0 forgets rev.
	Scale(rev Revision, n int) error
	// Route applies a traffic split. Only ready replicas receive requests;
	// a revision without any gives its share to the others.
	Route(t strategy.Traffic) error
	// Status reports every revision that has replicas (or is stopping
	// them).
	Status() map[int64]RevisionStatus
	// Changes receives a value whenever readiness or membership changed
	// (coalesced). It is never closed.
	Changes() <-chan struct{}
	// Listen moves the listeners when a new revision's spec changes them.
	Listen(ctx context.Context, listen, previewListen string) error
	// URL and PreviewURL are where the environment answers ("" when it
	// has no preview address).
	URL() string
	PreviewURL() string
	// Window reports a revision's request figures over the last d, for
	// analysis and status.
	Window(rev int64, d time.Duration) Stats
	// Close stops every replica (without draining) and the listeners.
	Close(ctx context.Context) error
}

// RevisionStatus is what runs of one revision.
type RevisionStatus struct {
	// Desired is the count last asked for with Scale.
	Desired int `json:"desired"`
	// Running counts replicas started and not yet gone, stopping ones
	// included: the rolling update then never overshoots its surge.
	Running  int       `json:"running"`
	Ready    int       `json:"ready"`
	Replicas []Replica `json:"replicas,omitempty"`
	// Error is why the revision could not be scaled (a module that does
	// not compile, a command that cannot start), "" when it could.
	Error string `json:"error,omitempty"`
}

// Observed converts to what the strategies read.
func (s RevisionStatus) Observed() strategy.ReplicaStatus {
	return strategy.ReplicaStatus{Running: s.Running, Ready: s.Ready}
}

// Replica is one replica of a revision.
type Replica struct {
	Endpoint  string `json:"endpoint,omitempty"`
	Ready     bool   `json:"ready"`
	Restarts  int    `json:"restarts"`
	PID       int    `json:"pid,omitempty"`
	LastError string `json:"lastError,omitempty"`
}

// Stats are a revision's request figures over a window of time.
type Stats struct {
	Requests    int64         `json:"requests"`
	Errors      int64         `json:"errors"` // 5xx answers and proxy failures
	ErrorRate   float64       `json:"errorRate"`
	P50         time.Duration `json:"p50"`
	P99         time.Duration `json:"p99"`
	RequestRate float64       `json:"requestRate"`
}
