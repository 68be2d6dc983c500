package gitlab

import (
	"strings"

	"github.com/gantry-ci/gantry/internal/pipeline"
)

// Top-level keywords that are not jobs.
var globalKeys = []string{"default", "include", "stages", "types", "variables", "workflow", "spec",
	"image", "services", "cache", "before_script", "after_script"}

// Keywords a job accepts.
var jobKeys = []string{"after_script", "allow_failure", "artifacts", "before_script", "cache", "coverage",
	"dast_configuration", "dependencies", "environment", "except", "extends", "hooks", "id_tokens",
	"identity", "image", "inherit", "inputs", "interruptible", "manual_confirmation", "needs", "only",
	"pages", "parallel", "release", "resource_group", "retry", "rules", "script", "secrets", "services",
	"stage", "start_in", "tags", "timeout", "trigger", "variables", "when"}

// Keywords `default:` may set.
var defaultKeys = []string{"after_script", "artifacts", "before_script", "cache", "hooks", "id_tokens",
	"image", "interruptible", "retry", "services", "tags", "timeout"}

var defaultStages = []string{"build", "test", "deploy"}

// compile turns the merged, reference-free configuration into the model.
func compile(root *node, errs *pipeline.Errors) *pipeline.Pipeline {
	c := &compiler{d: decoder{errs: errs}, root: root, extended: map[string]*node{}, extending: map[string]bool{}}
	return c.pipeline()
}

type compiler struct {
	d         decoder
	root      *node
	defaults  *node
	extended  map[string]*node
	extending map[string]bool
}

func (c *compiler) pipeline() *pipeline.Pipeline {
	p := &pipeline.Pipeline{}
	root := c.root

	stagesNode := root.get("stages")
	if stagesNode == nil {
		stagesNode = root.get("types")
	}
	stages := defaultStages
	if stagesNode != nil {
		stages = c.d.strList(stagesNode, "stages")
	}
	p.Stages = append(p.Stages, ".pre")
	for _, s := range stages {
		if s != ".pre" && s != ".post" && !contains(p.Stages, s) {
			p.Stages = append(p.Stages, s)
		}
	}
	p.Stages = append(p.Stages, ".post")

	p.Variables = c.variables(root.get("variables"), "variables", true)
	p.Workflow = c.workflow(root.get("workflow"))
	c.defaults = c.defaultNode()

	for _, name := range root.keys {
		if contains(globalKeys, name) {
			continue
		}
		n := root.get(name)
		if strings.HasPrefix(name, ".") {
			continue // hidden: a template, compiled only through extends or !reference
		}
		if n == nil || n.kind != kMap {
			c.d.errorf(root.keyPos(name), "jobs:"+name, "config should be a hash, not %s", n.describe())
			continue
		}
		full := c.extend(name, root.keyPos(name))
		if full == nil {
			continue
		}
		job := c.job(name, root.keyPos(name), full)
		p.Jobs = append(p.Jobs, job)
	}
	if len(p.Jobs) == 0 && len(*c.d.errs) == 0 {
		c.d.errorf(pipeline.Pos{File: root.pos.File, Line: max(root.pos.Line, 1), Col: max(root.pos.Col, 1)}, "", "the pipeline has no visible jobs (jobs whose names do not start with a dot)")
	}
	validate(p, c.d)
	return p
}

// defaultNode is `default:` with the deprecated top-level image, services,
// cache, before_script and after_script folded in beneath it.
func (c *compiler) defaultNode() *node {
	def := newMap(c.root.pos)
	for _, k := range []string{"image", "services", "cache", "before_script", "after_script"} {
		if v := c.root.get(k); v != nil {
			def.set(k, c.root.keyPos(k), v)
		}
	}
	if d := c.root.get("default"); d != nil && d.kind != kNull {
		if c.d.hash(d, "default", defaultKeys) {
			// default: keywords replace the legacy top-level ones whole.
			for _, k := range d.keys {
				def.set(k, d.keyPos(k), d.get(k))
			}
		}
	}
	return def
}

// Limits of extends chains, as in GitLab.
const maxExtendsDepth = 11

// extend returns a job's hash with its extends chain merged beneath it
// (GitLab's deep merge: hashes merge, everything else is replaced).
func (c *compiler) extend(name string, at pipeline.Pos) *node {
	if n, ok := c.extended[name]; ok {
		return n
	}
	n := c.root.get(name)
	if n == nil {
		return nil
	}
	ext := n.get("extends")
	if ext == nil || n.kind != kMap {
		c.extended[name] = n
		return n
	}
	keyPath := "jobs:" + name + ":extends"
	if c.extending[name] {
		c.d.errorf(ext.pos, keyPath, "circular dependency detected in extends")
		return nil
	}
	if len(c.extending) >= maxExtendsDepth {
		c.d.errorf(ext.pos, keyPath, "nesting too deep: extends chains may be %d levels at most", maxExtendsDepth)
		return nil
	}
	c.extending[name] = true
	defer delete(c.extending, name)
	merged := newMap(n.pos)
	for _, parent := range c.d.strList(ext, keyPath) {
		pn := c.root.get(parent)
		if pn == nil || contains(globalKeys, parent) {
			c.d.errorf(ext.pos, keyPath, "unknown key %q in extends%s", parent, suggest(parent, c.root.keys))
			return nil
		}
		if pn.kind != kMap {
			c.d.errorf(ext.pos, keyPath, "%q is not a hash and cannot be extended", parent)
			return nil
		}
		base := c.extend(parent, at)
		if base == nil {
			return nil
		}
		merged = deepMerge(merged, base)
	}
	own := newMap(n.pos)
	for _, k := range n.keys {
		if k != "extends" {
			own.set(k, n.keyPos(k), n.get(k))
		}
	}
	merged = deepMerge(merged, own)
	// Keep extends visible so that a script-less template job is recognised.
	merged.set("extends", n.keyPos("extends"), ext)
	c.extended[name] = merged
	return merged
}
