package plan

import (
	"regexp"
	"strings"

	"github.com/gantry-ci/gantry/internal/pipeline"
)

// defaultOnly is GitLab's implicit `only: [branches, tags]` for jobs that
// have neither rules nor only, in pipelines without workflow:rules.
var defaultOnly = &pipeline.Filter{Refs: []string{"branches", "tags"}}

// only reports whether every key of an only: filter has a condition that
// holds; desc names the conditions that held, or the key that failed.
func (pl *planner) only(f *pipeline.Filter, s *scope) (bool, string, error) {
	var held []string
	if len(f.Refs) > 0 {
		m, ok := pl.refsMatch(f.Refs)
		if !ok {
			return false, "refs " + strings.Join(f.Refs, ", ") + " (" + pl.describeRef() + ")", nil
		}
		held = append(held, "refs "+m)
	}
	if len(f.Variables) > 0 {
		ok, trace, err := pl.anyVariables(f.Variables, s)
		if err != nil || !ok {
			return false, "variables: none holds (" + trace + ")", err
		}
		held = append(held, "variables "+trace)
	}
	if len(f.Changes) > 0 {
		ok, desc := pl.changes(s.expandAll(f.Changes))
		if !ok {
			return false, desc, nil
		}
		held = append(held, desc)
	}
	if f.Kubernetes != "" {
		if !pl.in.KubernetesActive {
			return false, "kubernetes active (Kubernetes is not active)", nil
		}
		held = append(held, "kubernetes active")
	}
	return true, strings.Join(held, "; "), nil
}

// except reports whether any key of an except: filter has a condition that
// holds, which leaves the job out; desc names it.
func (pl *planner) except(f *pipeline.Filter, s *scope) (bool, string, error) {
	if len(f.Refs) > 0 {
		if m, ok := pl.refsMatch(f.Refs); ok {
			return true, "refs " + m, nil
		}
	}
	if len(f.Variables) > 0 {
		ok, trace, err := pl.anyVariables(f.Variables, s)
		if err != nil {
			return false, "", err
		}
		if ok {
			return true, "variables " + trace, nil
		}
	}
	if len(f.Changes) > 0 {
		if ok, desc := pl.changes(s.expandAll(f.Changes)); ok {
			return true, desc, nil
		}
	}
	if f.Kubernetes != "" && pl.in.KubernetesActive {
		return true, "kubernetes active", nil
	}
	return false, "", nil
}

// anyVariables holds when one of the expressions holds; the trace is that
// expression's, or every expression's when none did.
func (pl *planner) anyVariables(list []string, s *scope) (bool, string, error) {
	var traces []string
	for _, src := range list {
		ok, trace, err := pl.evalIf(src, s)
		if err != nil {
			return false, "", err
		}
		if ok {
			return true, trace, nil
		}
		traces = append(traces, trace)
	}
	return false, strings.Join(traces, "; "), nil
}

// refsMatch returns the first ref pattern that matches this pipeline.
func (pl *planner) refsMatch(refs []string) (string, bool) {
	for _, r := range refs {
		if pl.refMatches(r) {
			return r, true
		}
	}
	return "", false
}

// refMatches follows GitLab's only/except refs policy: the keywords tags and
// branches, a pipeline source in singular or plural (merge_requests,
// schedules, pushes...), then for branch and tag pipelines only, a
// /regex/flags or an exact ref name. `pattern@group/project` also requires
// the project path.
func (pl *planner) refMatches(ref string) bool {
	pattern, project, scoped := strings.Cut(ref, "@")
	if scoped && project != pl.in.Project.Path {
		return false
	}
	in := &pl.in
	switch {
	case pattern == "tags" && in.IsTag:
		return true
	case pattern == "branches" && in.isBranch():
		return true
	}
	source := strings.TrimSuffix(in.Source, "_event")
	if pattern == source || pattern == pluralize(source) {
		return true
	}
	if !in.isBranch() && !in.IsTag {
		return false // GitLab matches names and patterns only for branches and tags
	}
	if re := pl.refRegexp(pattern); re != nil {
		return re.MatchString(in.Ref)
	}
	return pattern == in.Ref
}

// refPatternRE is the /pattern/flags form GitLab accepts for refs.
var refPatternRE = regexp.MustCompile(`^/(.+)/([imsxU]*)$`)

// refRegexp compiles a /regex/flags ref, or returns nil when the text is
// not one (or does not compile), in which case GitLab compares it as a
// plain name.
func (pl *planner) refRegexp(pattern string) *regexp.Regexp {
	if re, ok := pl.refREs[pattern]; ok {
		return re
	}
	var re *regexp.Regexp
	if m := refPatternRE.FindStringSubmatch(pattern); m != nil {
		body, flags := m[1], ""
		for _, f := range "imsU" {
			if strings.ContainsRune(m[2], f) {
				flags += string(f)
			}
		}
		if flags != "" {
			body = "(?" + flags + ")" + body
		}
		re, _ = regexp.Compile(body)
	}
	pl.refREs[pattern] = re
	return re
}

// pluralize is ActiveSupport's rule for the pipeline source names.
func pluralize(s string) string {
	switch {
	case s == "":
		return ""
	case strings.HasSuffix(s, "s"), strings.HasSuffix(s, "sh"), strings.HasSuffix(s, "ch"), strings.HasSuffix(s, "x"):
		return s + "es"
	case strings.HasSuffix(s, "y") && len(s) > 1 && !strings.ContainsRune("aeiou", rune(s[len(s)-2])):
		return s[:len(s)-1] + "ies"
	}
	return s + "s"
}

// describeRef says what kind of pipeline this is, for reasons.
func (pl *planner) describeRef() string {
	in := &pl.in
	var d string
	switch {
	case in.isMergeRequest():
		d = "merge request pipeline for " + in.Ref
	case in.IsTag:
		d = "ref is tag " + in.Ref
	default:
		d = "ref is branch " + in.Ref
	}
	if in.Source != SourcePush && !in.isMergeRequest() {
		d += ", source " + in.Source
	}
	return d
}
