package variables

import (
	"strings"

	"github.com/gantry-ci/gantry/internal/pipeline"
)

// Resolve returns each variable once with its final value. vars is in
// precedence order: a later entry with the same name overrides an earlier
// one (the survivor keeps the place of the name's first appearance).
//
// Values are then expanded against the whole resolved set, recursively, in
// the way GitLab's "variables inside variables" does: a reference gets the
// referenced variable's own final value, whatever the order of definition,
// and that value is not scanned again (so $$ in it stays a literal $).
// Raw (expand: false) values are kept as written, and a reference to a raw
// variable receives its text unchanged. Undefined names become empty. A
// reference that would close a cycle (A: $B, B: $A, or PATH: $PATH:/x) is
// kept as written instead of looping.
func Resolve(vars []pipeline.Variable) []pipeline.Variable {
	index := make(map[string]int, len(vars))
	out := make([]pipeline.Variable, 0, len(vars))
	for _, v := range vars {
		if i, ok := index[v.Name]; ok {
			out[i] = v
			continue
		}
		index[v.Name] = len(out)
		out = append(out, v)
	}
	r := resolver{vars: out, index: index, state: make([]uint8, len(out))}
	for i := range out {
		r.resolve(i)
	}
	return out
}

// Resolution states of one variable.
const (
	unresolved uint8 = iota
	resolving
	resolved
)

type resolver struct {
	vars  []pipeline.Variable
	index map[string]int
	state []uint8
}

// resolve expands vars[i] in place, first resolving what it refers to.
func (r *resolver) resolve(i int) string {
	v := &r.vars[i]
	if r.state[i] == resolved || v.Raw {
		r.state[i] = resolved
		return v.Value
	}
	r.state[i] = resolving
	value := expand(v.Value,
		func(name string) string {
			j, ok := r.index[name]
			if !ok {
				return ""
			}
			return r.resolve(j)
		},
		func(name string) bool {
			j, ok := r.index[name]
			return ok && r.state[j] == resolving
		})
	v.Value = value
	r.state[i] = resolved
	return value
}

// Lookup returns a lookup function over vars for Expand; the last entry of
// a name wins.
func Lookup(vars []pipeline.Variable) func(string) (string, bool) {
	m := make(map[string]string, len(vars))
	for _, v := range vars {
		m[v.Name] = v.Value
	}
	return func(name string) (string, bool) {
		v, ok := m[name]
		return v, ok
	}
}

// Environ formats vars as KEY=VALUE for a process environment, one entry
// per name (the last wins), in order of first appearance. Names that no
// environment can carry (empty, or holding '=' or NUL) are left out, and
// NUL bytes are dropped from values, since the kernel would refuse the
// whole environment. File-type variables are given as their value; the
// caller writes the file and passes its path instead where it wants
// GitLab's file semantics.
func Environ(vars []pipeline.Variable) []string {
	index := make(map[string]int, len(vars))
	env := make([]string, 0, len(vars))
	for _, v := range vars {
		if v.Name == "" || strings.ContainsAny(v.Name, "=\x00") {
			continue
		}
		kv := v.Name + "=" + strings.ReplaceAll(v.Value, "\x00", "")
		if i, ok := index[v.Name]; ok {
			env[i] = kv
			continue
		}
		index[v.Name] = len(env)
		env = append(env, kv)
	}
	return env
}
