package spec

import (
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// TestGolden parses every testdata/*.yaml and compares the result (the spec
// as JSON, or the error text) with its .golden file.
func TestGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata: %v", err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".yaml"), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			got := render(t, file, data)
			golden := strings.TrimSuffix(file, ".yaml") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update)", err)
			}
			if got != string(want) {
				t.Errorf("%s differs from %s:\n--- got\n%s\n--- want\n%s", file, golden, got, want)
			}
			// The file name says which outcome the file is for.
			isErr := strings.HasPrefix(filepath.Base(file), "err_")
			if isErr != strings.HasPrefix(got, "error:") {
				t.Errorf("%s: error expected = %v, got:\n%s", file, isErr, got)
			}
		})
	}
}

func render(t *testing.T, file string, data []byte) string {
	t.Helper()
	s, err := Parse(filepath.Base(file), data)
	if err != nil {
		var list ErrorList
		if !errors.As(err, &list) {
			t.Fatalf("error is not an ErrorList: %v", err)
		}
		return "error:\n" + err.Error() + "\n"
	}
	out, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return string(out) + "\n"
}

func TestExampleSpecMeaning(t *testing.T) {
	s, err := Load("testdata/example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	staging := s.Environment("staging")
	if staging == nil || staging.Replicas != 2 || staging.Strategy.Rolling == nil {
		t.Fatalf("staging = %+v", staging)
	}
	if got := staging.Strategy.Rolling.MaxSurge.Scaled(staging.Replicas, true); got != 1 {
		t.Errorf("25%% of 2 rounded up = %d, want 1", got)
	}
	prod := s.Environment("production")
	if prod == nil || prod.Replicas != 3 || prod.Tier != TierProduction {
		t.Fatalf("production = %+v (replicas and tier should be inherited/derived)", prod)
	}
	c := prod.Strategy.Canary
	if c == nil || len(c.Steps) != 5 {
		t.Fatalf("canary = %+v", c)
	}
	if *c.CanaryHeader != (HeaderMatch{Name: "canary", Value: "true"}) {
		t.Errorf("header = %+v", c.CanaryHeader)
	}
	if d := c.Steps[1].Pause.Duration; d == nil || d.Duration() != 30*time.Second {
		t.Errorf("pause duration = %v", d)
	}
	if c.Steps[4].Pause == nil || c.Steps[4].Pause.Duration != nil {
		t.Errorf("pause: {} should wait indefinitely: %+v", c.Steps[4])
	}
	if s.Environment("nope") != nil {
		t.Error("unknown environment found")
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "gantry.deploy.yaml"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("err = %v, want not exist", err)
	}
}

// TestErrorPositions checks that each error points at the offending value,
// one table row per rule, so a regression names the rule it broke.
func TestErrorPositions(t *testing.T) {
	const base = "app: a\nruntime: {module: m.wasm}\nenvironments:\n  production:\n    listen: 127.0.0.1:8080\n"
	tests := []struct {
		name, yaml, want string
	}{
		{"weight too high", base + "    strategy: {canary: {steps: [{setWeight: 101}]}}\n",
			"f.yaml:6:45: environments.production.strategy.canary.steps[0].setWeight must be between 0 and 100, not 101"},
		{"both zero", base + "    strategy: {rolling: {maxSurge: 0, maxUnavailable: 0}}\n",
			"f.yaml:6:55: environments.production.strategy.rolling.maxUnavailable and maxSurge cannot both be 0: the update could never replace a replica"},
		{"both zero percent", base + "    strategy: {rolling: {maxSurge: 0%, maxUnavailable: 0%}}\n",
			"f.yaml:6:56: environments.production.strategy.rolling.maxUnavailable and maxSurge cannot both be 0: the update could never replace a replica"},
		{"unknown environment key", base + "    replcas: 2\n",
			`f.yaml:6:5: environments.production has unknown key "replcas" (did you mean "replicas"?)`},
		{"unknown key far from any", base + "    zzzzzz: 2\n",
			`f.yaml:6:5: environments.production has unknown key "zzzzzz"`},
		{"case typo", "App: a\n",
			`f.yaml:1:1: has unknown key "App" (did you mean "app"?)`},
		{"negative replicas", base + "    replicas: -3\n",
			"f.yaml:6:15: environments.production.replicas must be between 0 and 10000, not -3"},
		{"listen without port", "app: a\nruntime: {module: m.wasm}\nenvironments:\n  production:\n    listen: 127.0.0.1\n",
			`f.yaml:5:13: environments.production.listen "127.0.0.1" is not host:port: missing port in address`},
		{"listen missing", "app: a\nruntime: {module: m.wasm}\nenvironments:\n  production: {}\n",
			"f.yaml:4:15: environments.production.listen is required: the address the environment's proxy listens on, like 127.0.0.1:8080"},
		{"duplicate key", base + "    listen: 127.0.0.1:8081\n",
			`f.yaml:6:5: duplicate key "listen" (first at line 5)`},
		{"two strategies", base + "    strategy: {rolling: {}, canary: {}}\n",
			"f.yaml:6:29: environments.production.strategy has both rolling and canary; an environment uses exactly one strategy"},
		{"bad duration", base + "    strategy: {canary: {steps: [{pause: {duration: 3 fortnights}}]}}\n",
			`f.yaml:6:52: environments.production.strategy.canary.steps[0].pause.duration invalid duration "3 fortnights": use a Go duration like 30s or 1m30s, or a number of seconds`},
		{"preview on live address", base + "    strategy: {blueGreen: {previewListen: 127.0.0.1:8080}}\n",
			`f.yaml:6:43: environments.production.strategy.blueGreen.previewListen "127.0.0.1:8080" is already used by environments.production.listen`},
		{"same listen twice", base + "  staging: {listen: 127.0.0.1:8080}\n",
			`f.yaml:6:21: environments.staging.listen "127.0.0.1:8080" is already used by environments.production.listen`},
		{"bad environment name", "app: a\nruntime: {module: m.wasm}\nenvironments:\n  Prod_1: {listen: 127.0.0.1:8080}\n",
			"f.yaml:4:3: environments.Prod_1 is not a valid environment name: lowercase letters, digits and '-', at most 63 characters"},
		{"port env", "app: a\nruntime: {module: m.wasm, env: {PORT: 1}}\nenvironments: {production: {listen: 127.0.0.1:8080}}\n",
			"f.yaml:2:33: runtime.env.PORT is set by Gantry for each replica and cannot be overridden"},
		{"ambiguous runtime", "app: a\nruntime: {module: m.wasm, command: [x]}\nenvironments: {production: {listen: 127.0.0.1:8080}}\n",
			"f.yaml:2:10: runtime.kind is required: wasm (with module) or process (with command)"},
		{"syntax", "app: a\n  b: c\n",
			"f.yaml:2:3: invalid YAML: mapping values are not allowed in this context"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("f.yaml", []byte(tt.yaml))
			if err == nil {
				t.Fatal("no error")
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestDurations(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"30s", 30 * time.Second, true},
		{"1m", time.Minute, true},
		{"1m30s", 90 * time.Second, true},
		{"500ms", 500 * time.Millisecond, true},
		{"30", 30 * time.Second, true},
		{"0", 0, true},
		{"2 mins 4 sec", 124 * time.Second, true},
		{"1:30", 90 * time.Second, true},
		{"1 hour", time.Hour, true},
		{"-1s", 0, false},
		{"soon", 0, false},
		{"", 0, false},
	}
	for _, tt := range tests {
		got, err := ParseDuration(tt.in)
		if (err == nil) != tt.ok || got.Duration() != tt.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestIntOrPercentScaled(t *testing.T) {
	tests := []struct {
		v       string
		total   int
		up      bool
		want    int
		wantErr bool
	}{
		{"25%", 1, true, 1, false}, // surge rounds up: a single replica still gets a surge
		{"25%", 1, false, 0, false},
		{"25%", 4, true, 1, false},
		{"25%", 5, true, 2, false},
		{"25%", 5, false, 1, false},
		{"100%", 3, false, 3, false},
		{"0%", 10, true, 0, false},
		{"2", 10, true, 2, false},
		{"2", 0, false, 2, false},
		{"50%", 0, true, 0, false},
		{"-1", 0, false, 0, true},
		{"x%", 0, false, 0, true},
		{"1.5", 0, false, 0, true},
	}
	for _, tt := range tests {
		v, err := ParseIntOrPercent(tt.v)
		if (err != nil) != tt.wantErr {
			t.Errorf("ParseIntOrPercent(%q) err = %v", tt.v, err)
			continue
		}
		if err != nil {
			continue
		}
		if got := v.Scaled(tt.total, tt.up); got != tt.want {
			t.Errorf("%s of %d (up=%v) = %d, want %d", tt.v, tt.total, tt.up, got, tt.want)
		}
		if v.String() != tt.v {
			t.Errorf("String() = %q, want %q", v.String(), tt.v)
		}
	}
}

// TestJSONRoundTrip: a controller persists specs as JSON; what comes back
// must be the same spec and still valid.
func TestJSONRoundTrip(t *testing.T) {
	for _, file := range []string{"testdata/example.yaml", "testdata/bluegreen.yaml", "testdata/durations.yaml"} {
		s, err := Load(file)
		if err != nil {
			t.Fatal(err)
		}
		checkRoundTrip(t, s)
	}
}

func checkRoundTrip(t *testing.T, s *Spec) {
	t.Helper()
	data, err := json.Marshal(s)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	var back Spec
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatalf("unmarshal %s: %v", data, err)
	}
	if err := back.Validate(); err != nil {
		t.Fatalf("round-tripped spec is invalid: %v\n%s", err, data)
	}
	again, err := json.Marshal(&back)
	if err != nil || string(again) != string(data) {
		t.Fatalf("round trip changed the spec:\n%s\n%s", data, again)
	}
}

// TestValidateBuiltInCode: rules hold for a Spec that never saw a file, and
// its errors name the field without a position.
func TestValidateBuiltInCode(t *testing.T) {
	w := 150
	s := &Spec{
		App: "svc", Runtime: Runtime{Kind: RuntimeProcess, Command: []string{"./srv"}},
		Replicas: 2, HealthCheck: defaultHealthCheck(), RevisionHistoryLimit: 10, ProgressDeadlineSeconds: 60,
		Environments: []Environment{{Name: "production", Listen: "127.0.0.1:1", Tier: TierProduction, Replicas: 2,
			Strategy: Strategy{Canary: &Canary{Steps: []CanaryStep{{SetWeight: &w}}}}}},
	}
	err := s.Validate()
	want := "environments.production.strategy.canary.steps[0].setWeight must be between 0 and 100, not 150"
	if err == nil || err.Error() != want {
		t.Fatalf("got %v\nwant %s", err, want)
	}
	w = 50
	if err := s.Validate(); err != nil {
		t.Fatalf("valid spec rejected: %v", err)
	}
	s.Environments[0].Strategy.Rolling = &Rolling{MaxSurge: Int(1)}
	if err := s.Validate(); err == nil || !strings.Contains(err.Error(), "exactly one of rolling, blueGreen or canary") {
		t.Fatalf("two strategies accepted: %v", err)
	}
}

// TestAnalysisKeptRaw: the analysis section is not interpreted here but
// must reach its later parser intact, as plain JSON-able data.
func TestAnalysisKeptRaw(t *testing.T) {
	src := "app: a\nruntime: {module: m.wasm}\nenvironments: {production: {listen: ':8080'}}\n" +
		"analysis:\n  errorRate: {query: 'rate(x[5m])', max: 0.01, count: 3, enabled: true, tags: [a, b], none: ~}\n"
	s, err := Parse("f.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	got, err := json.Marshal(s.Analysis)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"errorRate":{"count":3,"enabled":true,"max":0.01,"none":null,"query":"rate(x[5m])","tags":["a","b"]}}`
	if string(got) != want {
		t.Errorf("analysis = %s\nwant       %s", got, want)
	}
}
