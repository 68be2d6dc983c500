// Package expr parses and evaluates GitLab CI/CD variable expressions, the
// little language of `rules:if`, `workflow:rules:if` and
// `only/except:variables`.
//
// The semantics follow GitLab's documentation and its reference
// implementation so that a pipeline behaves the same locally as on GitLab:
//
//   - `$VAR` / `${VAR}` is null when undefined; an empty variable is "" and
//     therefore not null.
//   - A bare operand is true when it is a non-empty string (or a regex
//     literal); null is false.
//   - `==` / `!=` compare strings exactly; null equals only null.
//   - `=~` / `!~` match the left value against the right one. The right side
//     may be a regex literal, or a string or variable holding `/pattern/flags`.
//     A right side that is not a valid `/pattern/` is, as in GitLab, tested
//     as "left is a substring of right". A null left side is matched as "".
//     A null right side never matches.
//   - `&&` binds tighter than `||`; both are left-associative and
//     short-circuit.
//
// Parsing compiles every regex literal up front (Go's RE2 engine, flags
// i, m, s, U), so a bad pattern is a [SyntaxError] at load time rather than a
// surprise while a pipeline is being planned.
package expr

import (
	"slices"
)

// Lookup returns a variable's value and whether it is defined. Expressions
// never call it with names other than those reported by [Expr.Variables].
type Lookup func(name string) (value string, defined bool)

// Expr is a compiled expression. It is immutable once parsed and safe for
// concurrent use.
type Expr struct {
	src  string
	root node
	vars []string
}

// Parse compiles src. The returned error is always a *SyntaxError whose
// Offset points at the offending token, so callers can underline it.
func Parse(src string) (*Expr, error) {
	p := newParser(src)
	root, err := p.parse()
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(p.vars))
	for name := range p.vars {
		names = append(names, name)
	}
	slices.Sort(names)
	return &Expr{src: src, root: root, vars: names}, nil
}

// Eval reports whether the expression holds for the given variables. A nil
// lookup treats every variable as undefined.
func (e *Expr) Eval(vars Lookup) bool {
	if e == nil || e.root == nil {
		return false
	}
	return e.root.eval(safeLookup(vars))
}

// EvalTrace evaluates like [Expr.Eval] and also returns a short reason
// naming the clauses that decided the outcome together with the values
// they saw, e.g. `$CI_COMMIT_BRANCH ("main") == "main"`. It exists so that
// "why did this job (not) run?" can be answered without re-deriving the
// logic.
func (e *Expr) EvalTrace(vars Lookup) (bool, string) {
	if e == nil || e.root == nil {
		return false, "empty expression"
	}
	return e.root.trace(safeLookup(vars))
}

// String returns the source text exactly as it was given to [Parse].
func (e *Expr) String() string {
	if e == nil {
		return ""
	}
	return e.src
}

// Variables returns the names of all variables the expression references,
// sorted and without duplicates. The slice is a copy the caller may keep.
func (e *Expr) Variables() []string {
	if e == nil {
		return nil
	}
	return slices.Clone(e.vars)
}

// safeLookup turns a nil lookup into one where nothing is defined, so the
// evaluator never has to check.
func safeLookup(l Lookup) Lookup {
	if l != nil {
		return l
	}
	return func(string) (string, bool) { return "", false }
}
