package plan

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/gantry-ci/gantry/internal/pipeline"
	"github.com/gantry-ci/gantry/internal/pipeline/expr"
)

// parse compiles an expression once per plan; jobs made from one template
// share their rules, and parsing dominates rule evaluation otherwise.
func (pl *planner) parse(src string) (*expr.Expr, error) {
	if e, ok := pl.exprs[src]; ok {
		return e, nil
	}
	e, err := expr.Parse(src)
	if err != nil {
		return nil, fmt.Errorf("invalid expression %q: %w", src, err)
	}
	pl.exprs[src] = e
	return e, nil
}

// evalIf evaluates a rules:if or only/except:variables expression and
// explains the outcome with the values it saw.
func (pl *planner) evalIf(src string, s *scope) (bool, string, error) {
	e, err := pl.parse(src)
	if err != nil {
		return false, "", err
	}
	ok, trace := e.EvalTrace(s.lookup)
	return ok, trace, nil
}

// clauses evaluates one rule's if, changes and exists, which must all hold.
// The description names what matched, or the clause that failed.
func (pl *planner) clauses(r *pipeline.Rule, s *scope, owner string) (bool, string, error) {
	var parts []string
	if r.If != "" {
		ok, trace, err := pl.evalIf(r.If, s)
		if err != nil {
			return false, "", err
		}
		if !ok {
			return false, "if " + trace, nil
		}
		parts = append(parts, "if "+trace)
	}
	if r.Changes != nil {
		var ok bool
		var desc string
		if ref := s.expand(r.Changes.CompareTo, true); ref != "" {
			ok, desc = pl.changesSince(owner, ref, s.expandAll(r.Changes.Paths))
		} else {
			ok, desc = pl.changes(s.expandAll(r.Changes.Paths))
		}
		if !ok {
			return false, desc, nil
		}
		parts = append(parts, desc)
	}
	if len(r.Exists) > 0 {
		patterns := s.expandAll(r.Exists)
		file, ok := pl.firstExisting(patterns)
		if !ok {
			return false, "exists: no file matches " + strings.Join(patterns, ", "), nil
		}
		parts = append(parts, "exists "+file)
	}
	if len(parts) == 0 {
		return true, "no conditions", nil
	}
	return true, strings.Join(parts, "; "), nil
}

// changesSince answers rules:changes with compare_to: the paths that differ
// between ref and the pipeline's commit.
func (pl *planner) changesSince(owner, ref string, patterns []string) (bool, string) {
	if pl.in.ChangedSince == nil {
		pl.notice(owner + ": rules:changes:compare_to " + quote(ref) +
			" is not compared: no repository to diff, so the changed paths given are used")
		return pl.changes(patterns)
	}
	changed, ok := pl.since[ref]
	if !ok {
		list, err := pl.in.ChangedSince(ref)
		if err != nil {
			pl.notice(owner + ": rules:changes:compare_to " + quote(ref) + ": " + err.Error() + "; counted as changed")
			return true, "changes (compare_to " + ref + " could not be compared)"
		}
		for _, c := range list {
			changed = append(changed, cleanPath(c))
		}
		if pl.since == nil {
			pl.since = map[string][]string{}
		}
		pl.since[ref] = changed
	}
	if file, ok := firstMatch(patterns, changed, pl.notice); ok {
		return true, "changes " + file + " (compared to " + ref + ")"
	}
	return false, "changes: no file changed since " + ref + " matches " + strings.Join(patterns, ", ")
}

// changes is the shared truth of rules:changes and only/except:changes.
func (pl *planner) changes(patterns []string) (bool, string) {
	if !pl.in.ChangesKnown {
		return true, "changes (changed files unknown, so counted as changed)"
	}
	if file, ok := pl.firstChanged(patterns); ok {
		return true, "changes " + file
	}
	return false, "changes: no changed file matches " + strings.Join(patterns, ", ")
}

// expandAll expands variables in paths, keeping unknown ones as written
// (GitLab's expand_existing).
func (s *scope) expandAll(paths []string) []string {
	out := make([]string, len(paths))
	for i, p := range paths {
		out[i] = s.expand(p, true)
	}
	return out
}

// ruleMatch is the outcome of a rules list.
type ruleMatch struct {
	rule   *pipeline.Rule // nil when no rule matched
	index  int
	reason string
}

// evalRules finds the first rule whose clauses all hold. label is "rules"
// or "workflow:rules"; owner names the job in notices and errors.
func (pl *planner) evalRules(rules []pipeline.Rule, s *scope, label, owner string) (ruleMatch, error) {
	var misses []string
	for i := range rules {
		r := &rules[i]
		ok, desc, err := pl.clauses(r, s, owner)
		if err != nil {
			return ruleMatch{}, fmt.Errorf("%s: %s:%d:if %w", owner, label, i, err)
		}
		at := label + ":" + strconv.Itoa(i)
		if !ok {
			if len(misses) < 5 {
				misses = append(misses, at+" "+desc)
			}
			continue
		}
		if r.When == pipeline.WhenNever {
			if desc == "no conditions" {
				return ruleMatch{rule: r, index: i, reason: at + ": when never"}, nil
			}
			return ruleMatch{rule: r, index: i, reason: at + ": when never (" + desc + ")"}, nil
		}
		return ruleMatch{rule: r, index: i, reason: at + ": " + desc}, nil
	}
	reason := label + ": no rule matched"
	if len(misses) > 0 {
		reason += " (" + strings.Join(misses, "; ")
		if len(rules) > len(misses) {
			reason += "; ..."
		}
		reason += ")"
	}
	return ruleMatch{index: -1, reason: reason}, nil
}
