package gitlab

import (
	"fmt"

	"github.com/gantry-ci/gantry/internal/pipeline"
)

var (
	jobRuleKeys      = []string{"if", "changes", "exists", "when", "start_in", "allow_failure", "variables", "needs", "interruptible"}
	workflowRuleKeys = []string{"if", "changes", "exists", "when", "variables", "auto_cancel"}
	includeRuleKeys  = []string{"if", "changes", "exists", "when"}
)

// decodeRules reads a job's (or an include's) `rules:`.
func decodeRules(n *node, at string, errs *pipeline.Errors, include bool) []pipeline.Rule {
	keys, whens := jobRuleKeys, []string{"on_success", "on_failure", "always", "manual", "delayed", "never"}
	if include {
		keys, whens = includeRuleKeys, []string{"always", "never"}
	}
	return decodeRuleList(n, at, decoder{errs: errs}, keys, whens)
}

func decodeWorkflowRules(n *node, d decoder) []pipeline.Rule {
	return decodeRuleList(n, "workflow:rules", d, workflowRuleKeys, []string{"always", "never"})
}

func decodeRuleList(n *node, at string, d decoder, keys, whens []string) []pipeline.Rule {
	if n == nil || n.kind == kNull {
		return nil
	}
	if n.kind != kSeq {
		d.errorf(n.pos, at, "should be an array of hashes, not %s", n.describe())
		return nil
	}
	items := flattenRules(n.seq, 0)
	out := make([]pipeline.Rule, 0, len(items))
	for i, item := range items {
		kp := fmt.Sprintf("%s:%d", at, i)
		if item.kind == kNull {
			continue // GitLab ignores empty entries left by a !reference to nothing
		}
		if !d.hash(item, kp, keys) {
			continue
		}
		r := pipeline.Rule{Pos: item.pos}
		if v := item.get("if"); v != nil {
			r.If = d.str(v, kp+":if")
			r.IfPos = v.pos
			if r.If != "" {
				checkExpression(d, v, kp+":if", r.If)
			}
		}
		if v := item.get("changes"); v != nil {
			r.Changes = &pipeline.Changes{}
			if v.kind == kMap {
				d.hash(v, kp+":changes", []string{"paths", "compare_to"})
				r.Changes.Paths = d.strList(v.get("paths"), kp+":changes:paths")
				r.Changes.CompareTo = d.str(v.get("compare_to"), kp+":changes:compare_to")
				if v.get("paths") == nil {
					d.errorf(v.pos, kp+":changes:paths", "is required with compare_to")
				}
			} else {
				r.Changes.Paths = d.strList(v, kp+":changes")
			}
		}
		if v := item.get("exists"); v != nil {
			if v.kind == kMap {
				d.hash(v, kp+":exists", []string{"paths", "project", "ref"})
				r.Exists = d.strList(v.get("paths"), kp+":exists:paths")
			} else {
				r.Exists = d.strList(v, kp+":exists")
			}
		}
		if v := item.get("when"); v != nil {
			r.When = pipeline.When(d.oneOf(v, kp+":when", whens...))
		}
		if v := item.get("start_in"); v != nil {
			r.StartIn = d.duration(v, kp+":start_in")
			if r.When != pipeline.WhenDelayed {
				d.errorf(v.pos, kp+":start_in", "may only be used with when: delayed")
			}
		} else if r.When == pipeline.WhenDelayed {
			d.errorf(item.pos, kp+":start_in", "should be set when when is delayed")
		}
		if v := item.get("allow_failure"); v != nil {
			b := d.boolean(v, kp+":allow_failure")
			r.AllowFailure = &b
		}
		if v := item.get("interruptible"); v != nil {
			b := d.boolean(v, kp+":interruptible")
			r.Interruptible = &b
		}
		if v := item.get("variables"); v != nil {
			r.Variables = ruleVariables(v, kp+":variables", d)
		}
		if v := item.get("needs"); v != nil {
			r.HasNeeds = true
			r.Needs = decodeNeeds(v, kp+":needs", d)
		}
		out = append(out, r)
	}
	return out
}

// maxRuleNesting is how deep GitLab lets rules lists nest: `- !reference
// [.x, rules]` puts a whole list where one rule goes, and GitLab flattens it.
const maxRuleNesting = 10

// flattenRules splices nested lists of rules into one list, as GitLab does.
func flattenRules(list []*node, depth int) []*node {
	var out []*node
	for _, item := range list {
		if item.kind == kSeq && depth < maxRuleNesting {
			out = append(out, flattenRules(item.seq, depth+1)...)
			continue
		}
		out = append(out, item)
	}
	return out
}

func ruleVariables(n *node, at string, d decoder) []pipeline.Variable {
	if n.kind != kMap {
		d.errorf(n.pos, at, "should be a hash of variables, not %s", n.describe())
		return nil
	}
	var out []pipeline.Variable
	for _, k := range n.keys {
		v := n.get(k)
		if v.kind != kScalar && v.kind != kNull {
			d.errorf(v.pos, at+":"+k, "should be a string, not %s", v.describe())
			continue
		}
		out = append(out, pipeline.Variable{Name: k, Value: v.str, Pos: n.keyPos(k)})
	}
	return out
}
