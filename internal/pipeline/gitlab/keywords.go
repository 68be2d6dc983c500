package gitlab

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/gantry-ci/gantry/internal/pipeline"
)

var variableNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// variables reads `variables:`; global ones may carry value/description/options/expand.
func (c *compiler) variables(n *node, at string, global bool) []pipeline.Variable {
	if n == nil || n.kind == kNull {
		return nil
	}
	if n.kind != kMap {
		c.d.errorf(n.pos, at, "should be a hash of variables, not %s", n.describe())
		return nil
	}
	out := make([]pipeline.Variable, 0, len(n.keys))
	for _, name := range n.keys {
		v := n.get(name)
		kp := at + ":" + name
		if !variableNameRE.MatchString(name) {
			c.d.errorf(n.keyPos(name), kp, "invalid variable name: use letters, digits and _")
		}
		vr := pipeline.Variable{Name: name, Pos: n.keyPos(name)}
		switch v.kind {
		case kScalar, kNull:
			vr.Value = v.str
		case kMap:
			allowed := []string{"value", "expand"}
			if global {
				allowed = append(allowed, "description", "options")
			}
			c.d.hash(v, kp, allowed)
			vr.Value = c.d.str(v.get("value"), kp+":value")
			vr.Description = c.d.str(v.get("description"), kp+":description")
			if e := v.get("expand"); e != nil {
				vr.Raw = !c.d.boolean(e, kp+":expand")
			}
			if o := v.get("options"); o != nil {
				vr.Options = c.d.strList(o, kp+":options")
				if !contains(vr.Options, vr.Value) {
					c.d.errorf(o.pos, kp+":options", "the value %q must be one of the options", vr.Value)
				}
			}
		default:
			c.d.errorf(v.pos, kp, "should be a string or a hash with value:, not %s", v.describe())
		}
		out = append(out, vr)
	}
	return out
}

func (c *compiler) workflow(n *node) pipeline.Workflow {
	var w pipeline.Workflow
	if n == nil || n.kind == kNull || !c.d.hash(n, "workflow", []string{"rules", "name", "auto_cancel"}) {
		return w
	}
	w.Name = c.d.str(n.get("name"), "workflow:name")
	if r := n.get("rules"); r != nil {
		w.Rules = decodeWorkflowRules(r, c.d)
	}
	if ac := n.get("auto_cancel"); ac != nil && c.d.hash(ac, "workflow:auto_cancel", []string{"on_new_commit", "on_job_failure"}) {
		w.AutoCancel.OnNewCommit = c.d.oneOf(ac.get("on_new_commit"), "workflow:auto_cancel:on_new_commit", "conservative", "interruptible", "none")
		w.AutoCancel.OnJobFailure = c.d.oneOf(ac.get("on_job_failure"), "workflow:auto_cancel:on_job_failure", "all", "none")
	}
	return w
}

var imageKeys = []string{"name", "entrypoint", "command", "alias", "pull_policy", "variables", "docker", "kubernetes", "ports"}

func (c *compiler) image(n *node, at string) *pipeline.Image {
	if n == nil || n.kind == kNull {
		return nil
	}
	if n.kind == kScalar {
		return &pipeline.Image{Name: n.str}
	}
	if !c.d.hash(n, at, imageKeys) {
		return nil
	}
	img := &pipeline.Image{
		Name:       c.d.str(n.get("name"), at+":name"),
		Entrypoint: c.d.strList(n.get("entrypoint"), at+":entrypoint"),
		Command:    c.d.strList(n.get("command"), at+":command"),
		Alias:      c.d.str(n.get("alias"), at+":alias"),
		PullPolicy: c.d.strList(n.get("pull_policy"), at+":pull_policy"),
		Variables:  c.variables(n.get("variables"), at+":variables", false),
	}
	if img.Name == "" {
		c.d.errorf(n.pos, at, "needs a name")
	}
	return img
}

// filter reads legacy only:/except:.
func (c *compiler) filter(n *node, at string) *pipeline.Filter {
	f := &pipeline.Filter{Pos: n.pos}
	switch n.kind {
	case kScalar, kSeq:
		f.Refs = c.d.strList(n, at)
	case kMap:
		c.d.hash(n, at, []string{"refs", "variables", "changes", "kubernetes"})
		f.Refs = c.d.strList(n.get("refs"), at+":refs")
		if v := n.get("variables"); v != nil {
			f.Variables = c.d.strList(v, at+":variables")
			for i, e := range f.Variables {
				item := v
				if v.kind == kSeq && i < len(v.seq) {
					item = v.seq[i]
				}
				checkExpression(c.d, item, at+":variables", e)
			}
		}
		if ch := n.get("changes"); ch != nil {
			f.Changes = c.d.strList(ch, at+":changes")
		}
		f.Kubernetes = c.d.oneOf(n.get("kubernetes"), at+":kubernetes", "active")
	case kNull:
	default:
		c.d.errorf(n.pos, at, "should be an array of refs or a hash, not %s", n.describe())
	}
	for i, r := range f.Refs {
		if len(r) > 1 && strings.HasPrefix(r, "/") {
			item := n
			if n.kind == kSeq && i < len(n.seq) {
				item = n.seq[i]
			}
			checkRefPattern(c.d, item, at, r)
		}
	}
	return f
}

// checkRefPattern validates an only/except ref given as /regex/flags.
func checkRefPattern(d decoder, n *node, at, r string) {
	end := strings.LastIndex(r, "/")
	if end <= 0 {
		d.errorf(n.pos, at, "invalid regular expression %q: missing the closing /", r)
		return
	}
	pattern, flags := r[1:end], r[end+1:]
	if strings.Trim(flags, "imsx") != "" {
		d.errorf(n.pos, at, "invalid regular expression flags %q in %q", flags, r)
		return
	}
	if _, err := regexp.Compile(pattern); err != nil {
		d.errorf(n.pos, at, "invalid regular expression %q: %v", r, err)
	}
}

func (c *compiler) allowFailure(n *node, at string) pipeline.AllowFailure {
	if n.kind == kMap {
		c.d.hash(n, at, []string{"exit_codes"})
		return pipeline.AllowFailure{ExitCodes: c.d.intList(n.get("exit_codes"), at+":exit_codes")}
	}
	return pipeline.AllowFailure{Allowed: c.d.boolean(n, at)}
}

var needKeys = []string{"job", "artifacts", "optional", "pipeline", "project", "ref", "parallel"}

func decodeNeeds(n *node, at string, d decoder) []pipeline.Need {
	out := []pipeline.Need{}
	if n == nil || n.kind == kNull {
		return out
	}
	list := []*node{n}
	if n.kind == kSeq {
		list = n.seq
	}
	if len(list) > 50 {
		d.errorf(n.pos, at, "has %d entries; GitLab allows at most 50", len(list))
	}
	for _, item := range list {
		need := pipeline.Need{Artifacts: true, Pos: item.pos}
		switch item.kind {
		case kScalar:
			need.Job = item.str
		case kMap:
			d.hash(item, at, needKeys)
			need.Job = d.str(item.get("job"), at+":job")
			if a := item.get("artifacts"); a != nil {
				need.Artifacts = d.boolean(a, at+":artifacts")
			}
			need.Optional = d.boolean(item.get("optional"), at+":optional")
			need.Pipeline = d.str(item.get("pipeline"), at+":pipeline")
			need.Project = d.str(item.get("project"), at+":project")
			need.Ref = d.str(item.get("ref"), at+":ref")
			if p := item.get("parallel"); p != nil && d.hash(p, at+":parallel", []string{"matrix"}) {
				need.Matrix, _ = decodeMatrix(p, at+":parallel:matrix", d)
			}
			if need.Job == "" && need.Pipeline == "" {
				d.errorf(item.pos, at, "each need must name a job")
			}
		default:
			d.errorf(item.pos, at, "each need must be a job name or a hash, not %s", item.describe())
			continue
		}
		out = append(out, need)
	}
	return out
}

func (c *compiler) parallel(n *node, at string) *pipeline.Parallel {
	if n.kind == kMap {
		c.d.hash(n, at, []string{"matrix"})
		m, keys := decodeMatrix(n, at+":matrix", c.d)
		total := 0
		for _, entry := range m {
			combos := 1
			for _, vals := range entry {
				combos *= max(len(vals), 1)
				if combos > 200 {
					break
				}
			}
			total += combos
		}
		if total > 200 {
			c.d.errorf(n.pos, at+":matrix", "generates %d jobs; GitLab allows at most 200", total)
		}
		return &pipeline.Parallel{Matrix: m, MatrixKeys: keys}
	}
	count := c.d.integer(n, at)
	if n.kind == kScalar && n.tag == "!!int" && (count < 1 || count > 200) {
		c.d.errorf(n.pos, at, "should be between 1 and 200, not %d", count)
	}
	return &pipeline.Parallel{Count: count}
}

func decodeMatrix(parent *node, at string, d decoder) ([]map[string][]string, [][]string) {
	n := parent.get("matrix")
	if n == nil || n.kind != kSeq {
		if n != nil {
			d.errorf(n.pos, at, "should be an array of hashes, not %s", n.describe())
		} else {
			d.errorf(parent.pos, at, "is required")
		}
		return nil, nil
	}
	var out []map[string][]string
	var order [][]string
	for _, entry := range n.seq {
		if entry.kind != kMap {
			d.errorf(entry.pos, at, "each entry should be a hash, not %s", entry.describe())
			continue
		}
		m := map[string][]string{}
		for _, k := range entry.keys {
			if !variableNameRE.MatchString(k) {
				d.errorf(entry.keyPos(k), at+":"+k, "invalid variable name")
			}
			m[k] = d.strList(entry.get(k), at+":"+k)
		}
		out = append(out, m)
		order = append(order, append([]string(nil), entry.keys...))
	}
	return out, order
}

var retryWhens = []string{"always", "unknown_failure", "script_failure", "api_failure", "stuck_or_timeout_failure",
	"runner_system_failure", "runner_unsupported", "stale_schedule", "job_execution_timeout", "archived_failure",
	"unmet_prerequisites", "scheduler_failure", "data_integrity_failure"}

func (c *compiler) retry(n *node, at string) pipeline.Retry {
	var r pipeline.Retry
	if n.kind == kMap {
		c.d.hash(n, at, []string{"max", "when", "exit_codes"})
		r.Max = c.d.integer(n.get("max"), at+":max")
		if w := n.get("when"); w != nil {
			r.When = c.d.strList(w, at+":when")
			for _, x := range r.When {
				if !contains(retryWhens, x) {
					c.d.errorf(w.pos, at+":when", "unknown failure type %q%s", x, suggest(x, retryWhens))
				}
			}
		}
		r.ExitCodes = c.d.intList(n.get("exit_codes"), at+":exit_codes")
	} else {
		r.Max = c.d.integer(n, at)
	}
	if r.Max < 0 || r.Max > 2 {
		c.d.errorf(n.pos, at, "max should be 0, 1 or 2, not %d", r.Max)
	}
	return r
}

var cacheKeys = []string{"key", "paths", "untracked", "policy", "when", "fallback_keys", "unprotect"}

func (c *compiler) caches(n *node, at string) []pipeline.Cache {
	if n.kind == kNull {
		return nil
	}
	list := []*node{n}
	if n.kind == kSeq {
		list = n.seq
		if len(list) > 4 {
			c.d.errorf(n.pos, at, "has %d caches; GitLab allows at most 4", len(list))
		}
	}
	var out []pipeline.Cache
	for i, item := range list {
		kp := at
		if n.kind == kSeq {
			kp = fmt.Sprintf("%s:%d", at, i)
		}
		if !c.d.hash(item, kp, cacheKeys) {
			continue
		}
		cc := pipeline.Cache{Pos: item.pos, Policy: "pull-push", When: "on_success"}
		if k := item.get("key"); k != nil {
			if k.kind == kMap {
				c.d.hash(k, kp+":key", []string{"files", "prefix"})
				cc.KeyFiles = c.d.strList(k.get("files"), kp+":key:files")
				if len(cc.KeyFiles) == 0 || len(cc.KeyFiles) > 2 {
					c.d.errorf(k.pos, kp+":key:files", "should list one or two files")
				}
				cc.KeyPrefix = c.d.str(k.get("prefix"), kp+":key:prefix")
			} else {
				cc.Key = c.d.str(k, kp+":key")
				checkCacheKey(c.d, k, kp+":key", cc.Key)
			}
		}
		cc.Paths = c.d.strList(item.get("paths"), kp+":paths")
		cc.Untracked = c.d.boolean(item.get("untracked"), kp+":untracked")
		if p := item.get("policy"); p != nil {
			cc.Policy = c.d.str(p, kp+":policy")
			if !strings.Contains(cc.Policy, "$") && !contains([]string{"pull", "push", "pull-push"}, cc.Policy) {
				c.d.errorf(p.pos, kp+":policy", "unknown value %q (one of pull, push, pull-push)", cc.Policy)
			}
		}
		if w := item.get("when"); w != nil {
			cc.When = c.d.oneOf(w, kp+":when", "on_success", "on_failure", "always")
		}
		cc.FallbackKeys = c.d.strList(item.get("fallback_keys"), kp+":fallback_keys")
		if fk := item.get("fallback_keys"); fk != nil && len(cc.FallbackKeys) > 5 {
			c.d.errorf(fk.pos, kp+":fallback_keys", "has %d keys; GitLab allows at most 5", len(cc.FallbackKeys))
		}
		cc.Unprotect = c.d.boolean(item.get("unprotect"), kp+":unprotect")
		out = append(out, cc)
	}
	return out
}

// checkCacheKey refuses keys GitLab refuses: with a slash, or the bare dot
// names (URL-encoded ones included).
func checkCacheKey(d decoder, n *node, at, key string) {
	lower := strings.ToLower(key)
	switch {
	case strings.Contains(key, "/") || strings.Contains(lower, "%2f"):
		d.errorf(n.pos, at, "cannot contain the \"/\" character")
	case key == "." || key == ".." || lower == "%2e" || lower == "%2e%2e":
		d.errorf(n.pos, at, "cannot be \".\" or \"..\"")
	}
}

var artifactKeys = []string{"paths", "exclude", "untracked", "name", "when", "expire_in", "expose_as", "public", "reports", "access"}

var reportKeys = []string{"junit", "dotenv", "metrics", "coverage_report", "accessibility", "annotations",
	"api_fuzzing", "browser_performance", "codequality", "container_scanning", "coverage_fuzzing",
	"cyclonedx", "dast", "dependency_scanning", "load_performance", "requirements", "repository_xray",
	"sast", "secret_detection", "terraform"}

func (c *compiler) artifacts(n *node, at string) *pipeline.Artifacts {
	if n.kind == kNull || !c.d.hash(n, at, artifactKeys) {
		return nil
	}
	a := &pipeline.Artifacts{When: "on_success"}
	a.Paths = c.d.strList(n.get("paths"), at+":paths")
	a.Exclude = c.d.strList(n.get("exclude"), at+":exclude")
	a.Untracked = c.d.boolean(n.get("untracked"), at+":untracked")
	a.Name = c.d.str(n.get("name"), at+":name")
	if w := n.get("when"); w != nil {
		a.When = c.d.oneOf(w, at+":when", "on_success", "on_failure", "always")
	}
	if e := n.get("expire_in"); e != nil {
		a.ExpireIn = c.d.str(e, at+":expire_in")
		if a.ExpireIn != "never" {
			c.d.duration(e, at+":expire_in")
		}
	}
	a.ExposeAs = c.d.str(n.get("expose_as"), at+":expose_as")
	if p := n.get("public"); p != nil {
		b := c.d.boolean(p, at+":public")
		a.Public = &b
	}
	if r := n.get("reports"); r != nil && c.d.hash(r, at+":reports", reportKeys) {
		for _, k := range r.keys {
			v := r.get(k)
			kp := at + ":reports:" + k
			switch k {
			case "junit":
				a.Reports.JUnit = c.d.strList(v, kp)
			case "dotenv":
				a.Reports.Dotenv = c.d.strList(v, kp)
			case "metrics":
				a.Reports.Metrics = c.d.strList(v, kp)
			case "coverage_report":
				if c.d.hash(v, kp, []string{"coverage_format", "path"}) {
					a.Reports.CoverageReport = &pipeline.CoverageReport{
						Format: c.d.oneOf(v.get("coverage_format"), kp+":coverage_format", "cobertura", "jacoco"),
						Path:   c.d.str(v.get("path"), kp+":path"),
					}
				}
			default:
				if a.Reports.Other == nil {
					a.Reports.Other = map[string][]string{}
				}
				if v.kind == kMap {
					a.Reports.Other[k] = nil
				} else {
					a.Reports.Other[k] = c.d.strList(v, kp)
				}
			}
		}
	}
	return a
}

var environmentKeys = []string{"name", "url", "action", "on_stop", "auto_stop_in", "deployment_tier", "kubernetes"}

func (c *compiler) environment(n *node, at string) *pipeline.Environment {
	if n.kind == kScalar {
		return &pipeline.Environment{Name: n.str, Action: "start"}
	}
	if !c.d.hash(n, at, environmentKeys) {
		return nil
	}
	e := &pipeline.Environment{
		Name:       c.d.str(n.get("name"), at+":name"),
		URL:        c.d.str(n.get("url"), at+":url"),
		Action:     "start",
		OnStop:     c.d.str(n.get("on_stop"), at+":on_stop"),
		AutoStopIn: c.d.str(n.get("auto_stop_in"), at+":auto_stop_in"),
	}
	if e.Name == "" {
		c.d.errorf(n.pos, at+":name", "is required")
	}
	if a := n.get("action"); a != nil {
		e.Action = c.d.oneOf(a, at+":action", "start", "prepare", "stop", "verify", "access")
	}
	if t := n.get("deployment_tier"); t != nil {
		e.DeploymentTier = c.d.oneOf(t, at+":deployment_tier", "production", "staging", "testing", "development", "other")
	}
	if a := n.get("auto_stop_in"); a != nil && e.AutoStopIn != "never" {
		c.d.duration(a, at+":auto_stop_in")
	}
	if k := n.get("kubernetes"); k != nil && c.d.hash(k, at+":kubernetes", []string{"namespace", "agent", "flux_resource_path", "dashboard"}) {
		e.Kubernetes = toGo(k).(map[string]any)
	}
	return e
}

// checkExtra validates the shape of keywords Gantry keeps but does not run.
func (c *compiler) checkExtra(k string, v *node, at string) {
	switch k {
	case "trigger":
		if v.kind != kScalar {
			c.d.hash(v, at, []string{"project", "branch", "strategy", "include", "forward", "inputs"})
		}
	case "release":
		if c.d.hash(v, at, []string{"tag_name", "tag_message", "name", "description", "ref", "milestones", "released_at", "assets"}) {
			if v.get("tag_name") == nil {
				c.d.errorf(v.pos, at+":tag_name", "is required")
			}
			if v.get("description") == nil {
				c.d.errorf(v.pos, at+":description", "is required")
			}
		}
	case "pages":
		if v.kind == kMap {
			c.d.hash(v, at, []string{"publish", "path_prefix", "expire_in"})
		} else {
			c.d.boolean(v, at)
		}
	case "secrets", "id_tokens", "inputs":
		if v.kind != kMap {
			c.d.errorf(v.pos, at, "should be a hash, not %s", v.describe())
		}
	case "hooks":
		if c.d.hash(v, at, []string{"pre_get_sources_script"}) {
			c.d.strList(v.get("pre_get_sources_script"), at+":pre_get_sources_script")
		}
	case "identity":
		c.d.oneOf(v, at, "google_cloud")
	case "dast_configuration":
		c.d.hash(v, at, []string{"site_profile", "scanner_profile"})
	case "manual_confirmation":
		c.d.str(v, at)
	}
}
