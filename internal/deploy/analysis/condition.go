package analysis

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"
)

// condEnv is what a condition sees. A struct rather than a map lets expr
// check names at compile time: a misspelt `reslt` is a spec error, not an
// Error measurement an hour into the rollout.
type condEnv struct {
	Result any `expr:"result"`
}

// compileCondition compiles src once; Evaluate then runs the program as a
// pure function of the measurement.
func compileCondition(src string) (*vm.Program, error) {
	prog, err := expr.Compile(src,
		expr.Env(condEnv{}),
		expr.AsBool(),
		expr.Function("isNaN", isNaNFunc, new(func(any) bool)),
		expr.Function("isInf", isInfFunc, new(func(any) bool)),
		expr.Function("default", defaultFunc, new(func(any, any) any)),
		expr.Function("asFloat", asFloatFunc, new(func(any) float64)),
	)
	if err != nil {
		return nil, fmt.Errorf("compile %q: %s", src, firstLine(err.Error()))
	}
	return prog, nil
}

// runCondition evaluates a compiled condition on result.
func runCondition(prog *vm.Program, result any) (bool, error) {
	out, err := expr.Run(prog, condEnv{Result: result})
	if err != nil {
		return false, fmt.Errorf("%s", firstLine(err.Error()))
	}
	b, ok := out.(bool)
	if !ok {
		return false, fmt.Errorf("condition gave %T, not a bool", out)
	}
	return b, nil
}

// firstLine drops the source excerpt expr appends to its messages, which
// would break one-line records.
func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return strings.TrimSpace(line)
}

// toFloat converts the numbers conditions may meet.
func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case float32:
		return float64(x), true
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case int32:
		return float64(x), true
	case uint:
		return float64(x), true
	case uint64:
		return float64(x), true
	}
	return 0, false
}

func isNaNFunc(p ...any) (any, error) {
	f, ok := toFloat(p[0])
	return ok && math.IsNaN(f), nil
}

func isInfFunc(p ...any) (any, error) {
	f, ok := toFloat(p[0])
	return ok && math.IsInf(f, 0), nil
}

// defaultFunc returns d when x is missing: nil, or NaN (what Prometheus
// gives for 0/0).
func defaultFunc(p ...any) (any, error) {
	if p[0] == nil {
		return p[1], nil
	}
	if f, ok := toFloat(p[0]); ok && math.IsNaN(f) {
		return p[1], nil
	}
	return p[0], nil
}

// asFloatFunc reads numbers web checks return as strings ("0.02").
func asFloatFunc(p ...any) (any, error) {
	switch x := p[0].(type) {
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		if err != nil {
			return nil, fmt.Errorf("asFloat(%q): not a number", x)
		}
		return f, nil
	case bool:
		if x {
			return 1.0, nil
		}
		return 0.0, nil
	}
	if f, ok := toFloat(p[0]); ok {
		return f, nil
	}
	return nil, fmt.Errorf("asFloat: cannot convert %T", p[0])
}
