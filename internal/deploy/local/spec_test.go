package local

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestValidate(t *testing.T) {
	ok := ReplicaSpec{App: "a", Kind: KindProcess, Command: []string{"srv"}}
	tests := []struct {
		name    string
		edit    func(*ReplicaSpec)
		wantErr string
	}{
		{"process", func(*ReplicaSpec) {}, ""},
		{"wasm wagi", func(s *ReplicaSpec) { s.Kind, s.Module = KindWasm, "m.wasm" }, ""},
		{"wasm listener", func(s *ReplicaSpec) { s.Kind, s.Module, s.WasmMode = KindWasm, "m.wasm", WasmModeListener }, ""},
		{"no app", func(s *ReplicaSpec) { s.App = "" }, "app name is empty"},
		{"no kind", func(s *ReplicaSpec) { s.Kind = "" }, `unknown replica kind ""`},
		{"no command", func(s *ReplicaSpec) { s.Command = nil }, "no command"},
		{"empty argv0", func(s *ReplicaSpec) { s.Command = []string{""} }, "no command"},
		{"no module", func(s *ReplicaSpec) { s.Kind = KindWasm }, "no module"},
		{"bad mode", func(s *ReplicaSpec) { s.Kind, s.Module, s.WasmMode = KindWasm, "m", "spin" }, `unknown wasm mode "spin"`},
		{"bad env", func(s *ReplicaSpec) { s.Environ = []string{"NOEQUALS"} }, `"NOEQUALS" is not KEY=VALUE`},
		{"empty env key", func(s *ReplicaSpec) { s.Environ = []string{"=x"} }, "is not KEY=VALUE"},
		{"relative health path", func(s *ReplicaSpec) { s.Health.Path = "healthz" }, "does not start with /"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := ok
			tt.edit(&s)
			err := s.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				set, err := NewSet(s, Options{})
				if err != nil {
					t.Fatalf("NewSet: %v", err)
				}
				if err := set.Close(context.Background()); err != nil {
					t.Fatalf("Close: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Validate = %v, want an error containing %q", err, tt.wantErr)
			}
			if _, err := NewSet(s, Options{}); err == nil {
				t.Fatal("NewSet accepted an invalid spec")
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	s := ReplicaSpec{App: "a", Kind: KindWasm, Module: "m", Revision: 4}.withDefaults()
	if s.WasmMode != WasmModeWAGI || s.Version != "r4" {
		t.Errorf("mode %q version %q, want wagi and r4", s.WasmMode, s.Version)
	}
	want := HealthCheck{Interval: DefaultHealthInterval, Timeout: DefaultHealthTimeout, FailureThreshold: DefaultFailureThreshold}
	if s.Health != want {
		t.Errorf("health %+v, want %+v", s.Health, want)
	}
	o := Options{BackoffBase: time.Minute, BackoffMax: time.Second}.withDefaults()
	if o.BackoffMax != time.Minute || o.Logger == nil || o.StopGrace != DefaultStopGrace {
		t.Errorf("options %+v", o)
	}
}

func TestEnvironmentGivenToReplicas(t *testing.T) {
	s := ReplicaSpec{App: "shop", Env: "prod", Revision: 12, Version: "v1.2.0",
		Environ: []string{"A=1", "GANTRY_VERSION=forged", "B=2", "A=3"}}
	got := mergeEnv(s.Environ, s.gantryEnv())
	want := []string{"A=3", "GANTRY_VERSION=v1.2.0", "B=2", "GANTRY_APP=shop", "GANTRY_ENV=prod", "GANTRY_REVISION=12"}
	if !slices.Equal(got, want) {
		t.Errorf("env = %q, want %q", got, want)
	}
}

func TestBackoff(t *testing.T) {
	base, max := 100*time.Millisecond, time.Second
	for streak, want := range []time.Duration{100, 100, 200, 400, 800, 1000, 1000} {
		if got := backoff(base, max, streak); got != want*time.Millisecond {
			t.Errorf("backoff(streak %d) = %s, want %dms", streak, got, want)
		}
	}
	if got := backoff(base, max, 1<<20); got != max {
		t.Errorf("long streak: %s", got)
	}
}
