package local

import (
	"context"
	"log/slog"
	"time"
)

// Replica kinds and wasm modes accepted in ReplicaSpec.
const (
	KindWasm    = "wasm"
	KindProcess = "process"

	WasmModeWAGI     = "wagi"
	WasmModeListener = "listener"
)

// ReplicaSpec describes the replicas of one app revision. Every replica
// of a Set runs the same spec; only the port differs.
type ReplicaSpec struct {
	App      string
	Env      string // environment name, e.g. "staging"
	Revision int
	// Version is the label the replica sees as GANTRY_VERSION; it lets a
	// test or a user tell which revision answered a request.
	Version string
	Kind    string // KindWasm or KindProcess

	Module   string // wasm file, for KindWasm
	WasmMode string // WasmModeWAGI (default) or WasmModeListener

	// Command is the argv of a process replica; it must listen on
	// 127.0.0.1:$PORT.
	Command []string
	Dir     string

	// Environ holds KEY=VALUE pairs given to every replica. GANTRY_APP,
	// GANTRY_ENV, GANTRY_REVISION and GANTRY_VERSION are always set and
	// override entries here.
	Environ []string

	Health HealthCheck
}

// HealthCheck says how a replica proves it is ready. An empty Path means
// a TCP connect is enough.
type HealthCheck struct {
	Path             string
	Interval         time.Duration
	Timeout          time.Duration
	InitialDelay     time.Duration
	FailureThreshold int
}

// Options tune how a Set supervises its replicas. Zero values get the
// defaults documented on each field.
type Options struct {
	Logger *slog.Logger // default: discard
	// LogDir receives one file per replica with its stdout and stderr,
	// kept across restarts. Empty discards the output.
	LogDir string
	// Runtime runs wasm replicas. Share one between Sets so a module
	// deployed again (a rollback, another environment) is not compiled
	// again. Nil makes the Set create and own one.
	Runtime *Runtime

	BackoffBase time.Duration // first restart delay, default 200ms
	BackoffMax  time.Duration // default 30s

	// StopGrace is how long a replica has to exit after SIGTERM (or a
	// WAGI server to finish its requests) before it is killed; default 5s.
	StopGrace time.Duration
	// RequestTimeout bounds one WAGI request, module run included;
	// default 30s. Past it the client gets 504.
	RequestTimeout time.Duration

	// OnRestart is called after each restart so the caller can count
	// replica_restarts_total; it must not block.
	OnRestart func(revision int)
	// Drain is called when Scale stops a ready replica, before it is
	// stopped, so the proxy stops sending it requests and lets the ones
	// in flight finish.
	Drain func(ctx context.Context, endpoint string) error
}

// ReplicaStatus is a snapshot of one replica.
type ReplicaStatus struct {
	Endpoint  string // host:port, empty before the first start
	Ready     bool
	Restarts  int
	PID       int    // 0 for wasm replicas, which run inside this process
	LastError string // why the replica was last restarted, if ever
}
