package local

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"
)

// Defaults applied by NewSet to zero fields.
const (
	DefaultHealthInterval   = 2 * time.Second
	DefaultHealthTimeout    = time.Second
	DefaultFailureThreshold = 3
	DefaultBackoffBase      = 200 * time.Millisecond
	DefaultBackoffMax       = 30 * time.Second
	DefaultStopGrace        = 5 * time.Second
	DefaultRequestTimeout   = 30 * time.Second
)

// withDefaults fills the zero fields of h.
func (h HealthCheck) withDefaults() HealthCheck {
	if h.Interval <= 0 {
		h.Interval = DefaultHealthInterval
	}
	if h.Timeout <= 0 {
		h.Timeout = DefaultHealthTimeout
	}
	if h.FailureThreshold <= 0 {
		h.FailureThreshold = DefaultFailureThreshold
	}
	if h.InitialDelay < 0 {
		h.InitialDelay = 0
	}
	return h
}

// withDefaults fills the zero fields of o.
func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.BackoffBase <= 0 {
		o.BackoffBase = DefaultBackoffBase
	}
	if o.BackoffMax <= 0 {
		o.BackoffMax = DefaultBackoffMax
	}
	if o.BackoffMax < o.BackoffBase {
		o.BackoffMax = o.BackoffBase
	}
	if o.StopGrace <= 0 {
		o.StopGrace = DefaultStopGrace
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = DefaultRequestTimeout
	}
	return o
}

// withDefaults fills the zero fields of s that have a natural default.
func (s ReplicaSpec) withDefaults() ReplicaSpec {
	if s.Kind == KindWasm && s.WasmMode == "" {
		s.WasmMode = WasmModeWAGI
	}
	if s.Version == "" {
		s.Version = fmt.Sprintf("r%d", s.Revision)
	}
	s.Health = s.Health.withDefaults()
	return s
}

// Validate reports what makes s impossible to run.
func (s ReplicaSpec) Validate() error {
	var errs []error
	if s.App == "" {
		errs = append(errs, errors.New("app name is empty"))
	}
	switch s.Kind {
	case KindWasm:
		if s.Module == "" {
			errs = append(errs, errors.New("wasm replica has no module"))
		}
		switch s.WasmMode {
		case "", WasmModeWAGI, WasmModeListener:
		default:
			errs = append(errs, fmt.Errorf("unknown wasm mode %q (want %q or %q)", s.WasmMode, WasmModeWAGI, WasmModeListener))
		}
	case KindProcess:
		if len(s.Command) == 0 || s.Command[0] == "" {
			errs = append(errs, errors.New("process replica has no command"))
		}
	default:
		errs = append(errs, fmt.Errorf("unknown replica kind %q (want %q or %q)", s.Kind, KindWasm, KindProcess))
	}
	for _, kv := range s.Environ {
		if k, _, ok := cutEnv(kv); !ok || k == "" {
			errs = append(errs, fmt.Errorf("environment entry %q is not KEY=VALUE", kv))
		}
	}
	if s.Health.Path != "" && s.Health.Path[0] != '/' {
		errs = append(errs, fmt.Errorf("health check path %q does not start with /", s.Health.Path))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("replica spec %s/%s revision %d: %w", s.App, s.Env, s.Revision, err)
	}
	return nil
}
