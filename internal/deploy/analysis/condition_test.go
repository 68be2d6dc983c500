package analysis

import (
	"math"
	"strings"
	"testing"
)

// TestConditions evaluates expressions over result, including the helper
// functions, the way measurements are judged.
func TestConditions(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	cases := []struct {
		cond    string
		result  any
		want    bool
		wantErr string
	}{
		{"result < 0.05", 0.01, true, ""},
		{"result < 0.05", 0.05, false, ""},
		{"result >= 0.05", 0.31, true, ""},
		{"result < 0.05", nan, false, ""},
		{"result >= 0.05", nan, false, ""},
		{"isNaN(result)", nan, true, ""},
		{"isNaN(result)", 1.0, false, ""},
		{"isNaN(result)", "NaN", false, ""},
		{"isInf(result)", inf, true, ""},
		{"isInf(result)", math.Inf(-1), true, ""},
		{"isInf(result)", 1e308, false, ""},
		{"default(result, 0) < 0.05", nan, true, ""},
		{"default(result, 0) < 0.05", nil, true, ""},
		{"default(result, 1) < 0.05", 0.01, true, ""},
		{"asFloat(result) < 0.05", "0.02", true, ""},
		{"asFloat(result) == 1", true, true, ""},
		{"asFloat(result) < 0.05", "fast", false, "asFloat"},
		{`result == "ok"`, "ok", true, ""},
		{`result == "ok"`, "down", false, ""},
		{`result == "ok"`, 1.0, false, ""},
		{"result == true", true, true, ""},
		{"len(result) >= 2", []any{1.0, 2.0}, true, ""},
		{`len(result) == 2`, "ok", true, ""},
		{"result.healthy", map[string]any{"healthy": true}, true, ""},
		{"result < 0.05", "ok", false, "invalid operation"},
		{"result < 0.05", nil, false, "invalid operation"},
		{"len(result) > 0", 1.0, false, "invalid argument for len"},
		{"result > 1 && result < 3", 2.0, true, ""},
		{"result in [200, 204]", 204.0, true, ""},
	}
	for _, c := range cases {
		t.Run(c.cond, func(t *testing.T) {
			prog, err := compileCondition(c.cond)
			if err != nil {
				t.Fatal(err)
			}
			got, err := runCondition(prog, c.result)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("on %v: want an error containing %q, got %v, %v", c.result, c.wantErr, got, err)
				}
				if strings.Contains(err.Error(), "\n") {
					t.Errorf("errors are recorded on one line: %q", err)
				}
				return
			}
			if err != nil || got != c.want {
				t.Errorf("on %v: got %v, %v; want %v", c.result, got, err, c.want)
			}
		})
	}
}

func TestConditionsCompileErrors(t *testing.T) {
	for _, src := range []string{"result <", "reslt > 1", "1 + 1", `"ok"`, "isNaN()", "default(result)"} {
		if _, err := compileCondition(src); err == nil {
			t.Errorf("%q compiled; want an error at spec time", src)
		} else if strings.Contains(err.Error(), "\n") {
			t.Errorf("%q: error spans lines: %q", src, err)
		}
	}
}
