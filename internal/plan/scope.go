package plan

import (
	"slices"
	"strings"

	"github.com/gantry-ci/gantry/internal/pipeline"
)

// scope answers "what is $NAME" for one job instance (or for the pipeline
// when job is nil) without copying the pipeline-wide layers into every job.
// Layers, from lowest to highest precedence: predefined, job predefined,
// global, workflow:rules variables, job (with matrix values), the matched
// rule's variables, Input.Variables.
type scope struct {
	pl *planner
	// forRules hides job-only predefined variables, which GitLab does not
	// offer to rules and workflow:rules.
	forRules bool
	inherit  []string // the job's inherit:variables: nil all, empty none
	jobPre   []pipeline.Variable
	job      []pipeline.Variable
	rule     []pipeline.Variable
}

func lastByName(vs []pipeline.Variable, name string) (pipeline.Variable, bool) {
	for i := len(vs) - 1; i >= 0; i-- {
		if vs[i].Name == name {
			return vs[i], true
		}
	}
	return pipeline.Variable{}, false
}

func (s *scope) inherits(name string) bool {
	return s.inherit == nil || slices.Contains(s.inherit, name)
}

// get returns the winning definition of name.
func (s *scope) get(name string) (pipeline.Variable, bool) {
	pl := s.pl
	if i, ok := pl.inputIdx[name]; ok {
		return pl.inputs[i], true
	}
	if v, ok := lastByName(s.rule, name); ok {
		return v, true
	}
	if v, ok := lastByName(s.job, name); ok {
		return v, true
	}
	if s.inherits(name) {
		if i, ok := pl.workflowIdx[name]; ok {
			return pl.workflow[i], true
		}
		if i, ok := pl.globalIdx[name]; ok {
			return pl.global[i], true
		}
	}
	if v, ok := lastByName(s.jobPre, name); ok {
		return v, true
	}
	if s.forRules && jobOnly[name] {
		return pipeline.Variable{}, false
	}
	if i, ok := pl.predefIdx[name]; ok {
		return pl.predef[i], true
	}
	return pipeline.Variable{}, false
}

// maxExpandDepth bounds nested expansion ($A holding $B holding $C...) and
// breaks reference cycles.
const maxExpandDepth = 10

// maxExpandLen stops expansion that would grow without bound (each level
// doubling the text); the rest is left unexpanded.
const maxExpandLen = 1 << 20

// value resolves a variable with nested references expanded, the way GitLab
// hands variables to rules:if. A raw (expand: false) variable is taken
// literally.
func (s *scope) value(name string) (string, bool) {
	return s.valueAt(name, 0)
}

func (s *scope) valueAt(name string, depth int) (string, bool) {
	v, ok := s.get(name)
	if !ok {
		return "", false
	}
	if v.Raw || depth >= maxExpandDepth || !strings.Contains(v.Value, "$") {
		return v.Value, true
	}
	return s.expandAt(v.Value, false, depth+1), true
}

// expand replaces $NAME and ${NAME} in text. Unknown variables become ""
// unless keepUnknown, which is GitLab's expand_existing used for paths in
// rules:changes and rules:exists.
func (s *scope) expand(text string, keepUnknown bool) string {
	return s.expandAt(text, keepUnknown, 0)
}

func (s *scope) expandAt(text string, keepUnknown bool, depth int) string {
	if !strings.Contains(text, "$") {
		return text
	}
	var b strings.Builder
	for i := 0; i < len(text); {
		c := text[i]
		if c != '$' || i+1 >= len(text) || b.Len() > maxExpandLen {
			b.WriteByte(c)
			i++
			continue
		}
		start := i
		name, end := "", i+1
		if text[i+1] == '{' {
			j := i + 2
			for j < len(text) && isNameByte(text[j]) {
				j++
			}
			if j < len(text) && text[j] == '}' && j > i+2 {
				name, end = text[i+2:j], j+1
			}
		} else {
			j := i + 1
			for j < len(text) && isNameByte(text[j]) {
				j++
			}
			if j > i+1 {
				name, end = text[i+1:j], j
			}
		}
		if name == "" {
			b.WriteByte(c)
			i++
			continue
		}
		val, ok := s.valueAt(name, depth)
		switch {
		case ok:
			b.WriteString(val)
		case keepUnknown:
			b.WriteString(text[start:end])
		}
		i = end
	}
	return b.String()
}

func isNameByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// lookup adapts the scope to expr.Lookup.
func (s *scope) lookup(name string) (string, bool) { return s.value(name) }

// all lists every variable of the scope, one per name, in precedence order.
// The pipeline-wide layers are merged once per plan (prepareBase), so a job
// only pays for its own few variables.
func (s *scope) all() []pipeline.Variable {
	pl := s.pl
	if s.inherit != nil || len(s.job)+len(s.rule)+len(pl.inputs) > 32 {
		return s.allSlow()
	}
	top := make([]pipeline.Variable, 0, len(s.job)+len(s.rule)+len(pl.inputs))
	top = append(append(append(top, s.job...), s.rule...), pl.inputs...)
	top = dedupeSmall(top)
	jobPre := make([]pipeline.Variable, 0, len(s.jobPre))
	for _, v := range dedupeSmall(s.jobPre) {
		_, inGlobal := pl.globalIdx[v.Name]
		_, inWorkflow := pl.workflowIdx[v.Name]
		if !inGlobal && !inWorkflow && !hasName(top, v.Name) {
			jobPre = append(jobPre, v)
		}
	}
	out := make([]pipeline.Variable, 0, len(pl.predefKept)+len(jobPre)+len(pl.globalKept)+len(top))
	for _, v := range pl.predefKept {
		if !hasName(top, v.Name) && !hasName(jobPre, v.Name) {
			out = append(out, v)
		}
	}
	out = append(out, jobPre...)
	for _, v := range pl.globalKept {
		if !hasName(top, v.Name) {
			out = append(out, v)
		}
	}
	return append(out, top...)
}

// allSlow is all for jobs with inherit:variables or many variables of their own.
func (s *scope) allSlow() []pipeline.Variable {
	pl := s.pl
	n := len(pl.predef) + len(s.jobPre) + len(pl.global) + len(pl.workflow) + len(s.job) + len(s.rule) + len(pl.inputs)
	vs := make([]pipeline.Variable, 0, n)
	vs = append(vs, pl.predef...)
	vs = append(vs, s.jobPre...)
	for _, layer := range [][]pipeline.Variable{pl.global, pl.workflow} {
		for _, v := range layer {
			if s.inherits(v.Name) {
				vs = append(vs, v)
			}
		}
	}
	vs = append(vs, s.job...)
	vs = append(vs, s.rule...)
	vs = append(vs, pl.inputs...)
	return dedupe(vs)
}

// prepareBase merges the pipeline-wide layers for all; it runs again
// whenever workflow:rules or workflow:name change them.
func (pl *planner) prepareBase() {
	pl.predefKept = pl.predefKept[:0]
	for _, v := range pl.predef {
		_, inGlobal := pl.globalIdx[v.Name]
		_, inWorkflow := pl.workflowIdx[v.Name]
		if !inGlobal && !inWorkflow {
			pl.predefKept = append(pl.predefKept, v)
		}
	}
	gw := make([]pipeline.Variable, 0, len(pl.global)+len(pl.workflow))
	pl.globalKept = dedupe(append(append(gw, pl.global...), pl.workflow...))
	pl.predefKept = dedupe(pl.predefKept)
}

func hasName(vs []pipeline.Variable, name string) bool {
	for i := range vs {
		if vs[i].Name == name {
			return true
		}
	}
	return false
}

// dedupeSmall is dedupe without a map, for the handful of variables a job
// defines itself.
func dedupeSmall(vs []pipeline.Variable) []pipeline.Variable {
	dup := false
	for i := range vs {
		if hasName(vs[i+1:], vs[i].Name) {
			dup = true
			break
		}
	}
	if !dup {
		return vs
	}
	out := make([]pipeline.Variable, 0, len(vs))
	for i := range vs {
		if !hasName(vs[i+1:], vs[i].Name) {
			out = append(out, vs[i])
		}
	}
	return out
}
