package gitlab

import (
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/gantry-ci/gantry/internal/pipeline"
	"github.com/gantry-ci/gantry/internal/pipeline/expr"
)

// job decodes one visible job whose extends chain is already merged in.
func (c *compiler) job(name string, pos pipeline.Pos, n *node) *pipeline.Job {
	j := &pipeline.Job{Name: name, Pos: pos, When: pipeline.WhenOnSuccess}
	at := "jobs:" + name
	c.d.hash(n, at, jobKeys)

	j.Inherit = c.inherit(n.get("inherit"), at+":inherit")
	n = c.withDefaults(n, j.Inherit.Default)

	for _, k := range n.keys {
		if k == "extends" || k == "inherit" {
			continue
		}
		j.Keywords = append(j.Keywords, k)
	}
	if name == "pages" && !n.hasKey("pages") {
		// A job named pages publishes GitLab Pages unless it says pages: false.
		j.Keywords = append(j.Keywords, "pages")
	}
	if p := n.get("pages"); p != nil && p.kind == kScalar && p.tag == "!!bool" && strings.EqualFold(p.str, "false") {
		j.Keywords = slices.DeleteFunc(j.Keywords, func(k string) bool { return k == "pages" })
	}
	sort.Strings(j.Keywords)

	for _, k := range n.keys {
		v := n.get(k)
		kp := at + ":" + k
		switch k {
		case "stage":
			j.Stage = c.d.str(v, kp)
		case "script":
			j.Script = c.d.strList(v, kp)
		case "before_script":
			j.BeforeScript = c.d.strList(v, kp)
		case "after_script":
			j.AfterScript = c.d.strList(v, kp)
		case "image":
			j.Image = c.image(v, kp)
		case "services":
			if v.kind != kSeq {
				c.d.errorf(v.pos, kp, "should be an array, not %s", v.describe())
				break
			}
			for _, s := range v.seq {
				if img := c.image(s, kp); img != nil {
					j.Services = append(j.Services, *img)
				}
			}
		case "variables":
			j.Variables = c.variables(v, kp, false)
		case "tags":
			j.Tags = c.d.strList(v, kp)
		case "rules":
			j.HasRules = true
			j.Rules = decodeRules(v, kp, c.d.errs, false)
		case "only":
			j.Only = c.filter(v, kp)
		case "except":
			j.Except = c.filter(v, kp)
		case "when":
			// never is a rules value only: GitLab refuses it on the job itself.
			j.When = pipeline.When(c.d.oneOf(v, kp, "on_success", "on_failure", "always", "manual", "delayed"))
		case "start_in":
			j.StartIn = c.d.duration(v, kp)
		case "allow_failure":
			j.AllowFailure = c.allowFailure(v, kp)
		case "needs":
			j.Needs = decodeNeeds(v, kp, c.d)
		case "dependencies":
			j.HasDependencies = true
			j.Dependencies = c.d.strList(v, kp)
			if j.Dependencies == nil {
				j.Dependencies = []string{}
			}
		case "parallel":
			j.Parallel = c.parallel(v, kp)
		case "retry":
			j.Retry = c.retry(v, kp)
		case "timeout":
			j.Timeout = c.d.duration(v, kp)
		case "interruptible":
			j.Interruptible = c.d.boolean(v, kp)
		case "resource_group":
			j.ResourceGroup = c.d.str(v, kp)
		case "coverage":
			j.Coverage = c.d.str(v, kp)
			checkRegexLiteral(c.d, v, kp, j.Coverage)
		case "cache":
			j.Cache = c.caches(v, kp)
			for _, cc := range j.Cache {
				if cc.Unprotect {
					j.Keywords = append(j.Keywords, "cache:unprotect")
					break
				}
			}
		case "artifacts":
			j.Artifacts = c.artifacts(v, kp)
			if a := j.Artifacts; a != nil && a.Public != nil {
				j.Keywords = append(j.Keywords, "artifacts:public")
			}
			if a := j.Artifacts; a != nil && a.ExposeAs != "" {
				j.Keywords = append(j.Keywords, "artifacts:expose_as")
			}
		case "environment":
			j.Environment = c.environment(v, kp)
			if j.Environment != nil && j.Environment.Kubernetes != nil {
				j.Keywords = append(j.Keywords, "environment:kubernetes")
			}
		case "trigger", "release", "pages", "secrets", "id_tokens", "hooks", "identity",
			"dast_configuration", "inputs", "manual_confirmation":
			c.checkExtra(k, v, kp)
			if j.Extra == nil {
				j.Extra = map[string]any{}
			}
			j.Extra[k] = toGo(v)
		}
	}
	c.checkJob(j, n, at)
	return j
}

// withDefaults fills the keywords a job leaves unset from `default:`, as far
// as inherit:default allows. A job's own value replaces the default whole.
func (c *compiler) withDefaults(n *node, inherit []string) *node {
	if len(c.defaults.keys) == 0 || (inherit != nil && len(inherit) == 0) {
		return n
	}
	out := newMap(n.pos)
	for _, k := range n.keys {
		out.set(k, n.keyPos(k), n.get(k))
	}
	for _, k := range c.defaults.keys {
		if n.hasKey(k) || (inherit != nil && !contains(inherit, k)) {
			continue
		}
		out.set(k, c.defaults.keyPos(k), c.defaults.get(k))
	}
	return out
}

func (c *compiler) inherit(n *node, at string) pipeline.Inherit {
	var in pipeline.Inherit
	if n == nil || !c.d.hash(n, at, []string{"default", "variables"}) {
		return in
	}
	read := func(v *node, kp string, allowed []string) []string {
		if v == nil {
			return nil
		}
		if v.kind == kScalar && v.tag == "!!bool" {
			if c.d.boolean(v, kp) {
				return nil
			}
			return []string{}
		}
		list := c.d.strList(v, kp)
		if list == nil {
			list = []string{}
		}
		for _, k := range list {
			if allowed != nil && !contains(allowed, k) {
				c.d.errorf(v.pos, kp, "unknown default keyword %q%s", k, suggest(k, allowed))
			}
		}
		return list
	}
	in.Default = read(n.get("default"), at+":default", defaultKeys)
	in.Variables = read(n.get("variables"), at+":variables", nil)
	return in
}

// checkJob reports what GitLab refuses about a job as a whole.
func (c *compiler) checkJob(j *pipeline.Job, n *node, at string) {
	_, hasTrigger := j.Extra["trigger"]
	if !n.hasKey("script") && !hasTrigger {
		c.d.errorf(j.Pos, at, "config should implement the script: or a trigger: keyword")
	}
	if s := n.get("script"); s != nil && s.kind == kSeq && len(s.seq) == 0 {
		c.d.errorf(n.get("script").pos, at+":script", "should not be empty")
	}
	if j.HasRules {
		// A job-level when is allowed beside rules (GitLab 16.x): it is the
		// when of every matching rule that sets none. start_in is not.
		for _, k := range []string{"only", "except", "start_in"} {
			if n.hasKey(k) {
				c.d.errorf(n.keyPos(k), at+":"+k, "may not be used with rules (set it inside a rule instead)")
			}
		}
	}
	if j.When == pipeline.WhenDelayed && !n.hasKey("start_in") && !j.HasRules {
		c.d.errorf(n.keyPos("when"), at+":start_in", "should be set when when is delayed")
	}
	if n.hasKey("start_in") && j.When != pipeline.WhenDelayed && !j.HasRules {
		c.d.errorf(n.keyPos("start_in"), at+":start_in", "may only be used with when: delayed")
	}
	if j.StartIn > 7*24*60*60*1e9 {
		c.d.errorf(n.keyPos("start_in"), at+":start_in", "should not exceed one week")
	}
}

// checkRegexLiteral validates a `/regex/` value such as coverage:.
func checkRegexLiteral(d decoder, n *node, at, s string) {
	if s == "" {
		return
	}
	if len(s) < 2 || !strings.HasPrefix(s, "/") || !strings.HasSuffix(s, "/") {
		d.errorf(n.pos, at, "should be a regular expression between slashes, like /\\d+\\.\\d+%%/")
		return
	}
	if _, err := regexp.Compile(s[1 : len(s)-1]); err != nil {
		d.errorf(n.pos, at, "invalid regular expression: %v", err)
	}
}

// checkExpression validates a rule or only/except:variables expression and
// points at the column where it breaks.
func checkExpression(d decoder, n *node, at, src string) {
	if _, err := expr.Parse(src); err != nil {
		p := n.pos
		if se, ok := err.(*expr.SyntaxError); ok && p.Line > 0 {
			p.Col += se.Offset
		}
		d.errorf(p, at, "invalid expression %q: %v", src, err)
	}
}
