package spec_test

import (
	"testing"

	"github.com/gantry-ci/gantry/internal/deploy/spec"
)

// TestExampleSpecIsValid keeps examples/wasm-service/gantry.deploy.yaml in step with the spec
// parser, and checks the settings the pipeline and the docs rely on.
func TestExampleSpecIsValid(t *testing.T) {
	s, err := spec.Load("../../../examples/wasm-service/gantry.deploy.yaml")
	if err != nil {
		t.Fatalf("gantry.deploy.yaml: %v", err)
	}
	if s.App != "wasm-service" || s.Runtime.Kind != spec.RuntimeWasm || s.Runtime.Mode != spec.ModeWAGI ||
		s.Runtime.Module != "dist/service.wasm" || s.HealthCheck.Path != "/healthz" {
		t.Errorf("app/runtime/health = %q %+v %+v", s.App, s.Runtime, s.HealthCheck)
	}
	envs := map[string]spec.Environment{}
	for _, e := range s.Environments {
		envs[e.Name] = e
	}
	staging, prod := envs["staging"], envs["production"]
	if staging.Listen != "127.0.0.1:18081" || staging.Strategy.Name() != "rolling" {
		t.Errorf("staging = %+v", staging)
	}
	if prod.Listen != "127.0.0.1:18082" || prod.Strategy.Name() != "canary" {
		t.Fatalf("production = %+v", prod)
	}
	c := prod.Strategy.Canary
	if c.CanaryHeader == nil || *c.CanaryHeader != (spec.HeaderMatch{Name: "canary", Value: "true"}) {
		t.Errorf("canary header = %+v", c.CanaryHeader)
	}
	var kinds []string
	for _, st := range c.Steps {
		kinds = append(kinds, st.Kind())
	}
	if len(c.Steps) != 4 || *c.Steps[0].SetWeight != 20 || *c.Steps[2].SetWeight != 50 ||
		c.Steps[1].Pause.Duration == nil || c.Steps[3].Pause.Duration == nil {
		t.Errorf("canary steps = %v", kinds)
	}
}
