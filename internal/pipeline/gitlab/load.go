// Package gitlab compiles a .gitlab-ci.yml file into Gantry's pipeline model,
// with GitLab's meaning for includes, anchors, merge keys, !reference,
// extends, default, inherit, workflow and spec:inputs, and GitLab-lint-style
// errors that carry a file, line and column.
//
// It does no I/O of its own: local includes are read from an fs.FS and remote
// ones through a function the caller supplies, so the compiler stays a pure
// function of its inputs.
package gitlab

import (
	"context"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"

	"github.com/bmatcuk/doublestar/v4"

	"github.com/gantry-ci/gantry/internal/pipeline"
	"github.com/gantry-ci/gantry/internal/pipeline/expr"
)

// Options are the inputs of a load besides the file itself.
type Options struct {
	// FS holds the repository's files for include:local (slash paths from the
	// repository root). Nil makes every local include an error.
	FS fs.FS
	// Fetch reads an include:remote URL. Nil leaves remote includes
	// unresolved; they are then listed in the pipeline and reported by plan.
	Fetch func(ctx context.Context, url string) ([]byte, error)
	// Inputs are the values for the main file's spec:inputs.
	Inputs map[string]any
	// Variables answers include:rules:if (the pipeline's predefined and
	// given variables). Nil includes every file whatever its rules say,
	// and records the rules on the Include for the plan to report.
	Variables expr.Lookup
}

// GitLab's own limits on includes.
const (
	maxIncludes     = 150
	maxIncludeDepth = 100
)

// LoadFile reads file from fsys and compiles it; see Load.
func LoadFile(ctx context.Context, fsys fs.FS, file string, opts Options) (*pipeline.Pipeline, error) {
	data, err := fs.ReadFile(fsys, file)
	if err != nil {
		return nil, fmt.Errorf("read pipeline %s: %w", file, err)
	}
	if opts.FS == nil {
		opts.FS = fsys
	}
	return Load(ctx, file, data, opts)
}

// Load compiles one pipeline file. The error, when not nil, is a
// pipeline.Errors holding every problem found, sorted by position; the
// returned pipeline is then nil.
func Load(ctx context.Context, file string, data []byte, opts Options) (*pipeline.Pipeline, error) {
	l := &loader{ctx: ctx, opts: opts, seen: map[string]bool{}}
	l.d = decoder{errs: &l.errs}
	root := l.loadFile(file, data, opts.Inputs, 0)
	var p *pipeline.Pipeline
	if root != nil && len(l.errs) == 0 {
		root = l.resolveReferences(root)
		p = compile(root, &l.errs)
		if p != nil {
			p.Includes = l.includes
			p.Inputs = l.mainInputs
		}
	}
	if len(l.errs) > 0 {
		l.errs.Sort()
		return nil, l.errs
	}
	return p, nil
}

type loader struct {
	ctx  context.Context
	opts Options
	errs pipeline.Errors
	d    decoder
	// mainInputs is the main file's spec:inputs, kept for the model.
	mainInputs []pipeline.Input
	includes   []pipeline.Include
	count      int
	seen       map[string]bool
}

func (l *loader) errorf(p pipeline.Pos, keyPath, format string, args ...any) {
	l.errs = append(l.errs, &pipeline.Error{Pos: p, Path: keyPath, Msg: fmt.Sprintf(format, args...)})
}

// loadFile parses one file (its optional spec header and its body), loads
// its includes and returns the body with the included content merged
// beneath it.
func (l *loader) loadFile(file string, data []byte, inputs map[string]any, depth int) *node {
	before := len(l.errs)
	docs := parseDocuments(file, data, &l.errs)
	if len(l.errs) > before {
		return nil
	}
	if len(docs) == 0 {
		docs = []*node{{kind: kNull, pos: pipeline.Pos{File: file, Line: 1, Col: 1}}}
	}
	var body *node
	switch {
	case len(docs) >= 2 && docs[0].kind == kMap && docs[0].has("spec"):
		if len(docs) > 2 {
			l.errorf(docs[2].pos, "", "a pipeline file holds at most two YAML documents: the spec header and the configuration")
		}
		specInputs := l.parseSpec(docs[0])
		if depth == 0 {
			l.recordInputs(specInputs)
		}
		values := l.inputValues(specInputs, inputs, docs[0].pos)
		body = interpolate(docs[1], values, &l.errs)
	case len(docs) >= 2:
		l.errorf(docs[1].pos, "", "a second YAML document is allowed only after a header with spec:")
		return nil
	default:
		body = docs[0]
		if body.kind == kMap && body.has("spec") && len(body.keys) == 1 {
			l.errorf(body.pos, "spec", "the spec header must be followed by --- and the configuration")
			return nil
		}
		if len(inputs) > 0 && depth > 0 {
			l.errorf(body.pos, "", "inputs were given but the file has no spec:inputs header")
		}
	}
	if body.kind == kNull {
		return newMap(body.pos)
	}
	if body.kind != kMap {
		l.errorf(body.pos, "", "the configuration must be a hash, not %s", body.describe())
		return nil
	}
	inc := body.get("include")
	if inc == nil {
		return body
	}
	merged := newMap(body.pos)
	for _, item := range l.includeItems(inc) {
		if !l.includeWanted(item.inc) {
			continue
		}
		included := l.loadInclude(item, depth)
		if included != nil {
			merged = deepMerge(merged, included)
		}
	}
	own := newMap(body.pos)
	for _, k := range body.keys {
		if k != "include" {
			own.set(k, body.keyPos(k), body.get(k))
		}
	}
	return deepMerge(merged, own)
}

// includeItem is one include entry in its hash form.
type includeItem struct {
	inc  pipeline.Include
	node *node
}

func (l *loader) includeItems(inc *node) []includeItem {
	var list []*node
	switch inc.kind {
	case kSeq:
		list = inc.seq
	case kScalar, kMap:
		list = []*node{inc}
	default:
		l.errorf(inc.pos, "include", "must be a string, a hash or an array, not %s", inc.describe())
		return nil
	}
	var items []includeItem
	for _, n := range list {
		it, ok := l.includeItem(n)
		if ok {
			items = append(items, it)
		}
	}
	return items
}

func (l *loader) includeItem(n *node) (includeItem, bool) {
	it := includeItem{node: n, inc: pipeline.Include{Pos: n.pos}}
	if n.kind == kScalar {
		it.inc.Target = n.str
		it.inc.Kind = "local"
		if strings.Contains(n.str, "://") {
			it.inc.Kind = "remote"
		}
		return it, true
	}
	if n.kind != kMap {
		l.errorf(n.pos, "include", "each include must be a string or a hash, not %s", n.describe())
		return it, false
	}
	kinds := 0
	for _, k := range n.keys {
		v := n.get(k)
		kp := n.keyPos(k)
		switch k {
		case "local", "remote", "project", "template", "component":
			kinds++
			it.inc.Kind = k
			it.inc.Target = l.d.str(v, "include:"+k)
		case "file":
			if v.kind == kSeq {
				it.inc.Files = l.d.strList(v, "include:file")
			} else {
				it.inc.Files = []string{l.d.str(v, "include:file")}
			}
		case "ref":
			it.inc.Ref = l.d.str(v, "include:ref")
		case "inputs":
			if v.kind != kMap {
				l.errorf(v.pos, "include:inputs", "must be a hash, not %s", v.describe())
				continue
			}
			it.inc.Inputs = map[string]any{}
			for _, ik := range v.keys {
				it.inc.Inputs[ik] = toGo(v.get(ik))
			}
		case "rules":
			it.inc.Rules = decodeRules(v, "include:rules", &l.errs, true)
		case "integrity", "cache":
			// integrity (a checksum of a remote file) and cache are accepted;
			// Gantry does not verify or cache remote includes yet.
		default:
			l.errorf(kp, "include", "unknown keyword %q%s", k, suggest(k, includeKeys))
		}
	}
	if kinds != 1 {
		l.errorf(n.pos, "include", "each include needs exactly one of local, remote, project, template or component")
		return it, false
	}
	if it.inc.Kind == "project" && len(it.inc.Files) == 0 {
		l.errorf(n.pos, "include:project", "needs file:")
	}
	return it, true
}

// includeWanted applies include:rules: the first rule whose if and exists
// hold decides, and when: never (or no matching rule) leaves the file out.
func (l *loader) includeWanted(inc pipeline.Include) bool {
	if len(inc.Rules) == 0 || l.opts.Variables == nil {
		return true
	}
	for _, r := range inc.Rules {
		if r.If != "" {
			e, err := expr.Parse(r.If)
			if err != nil || !e.Eval(l.opts.Variables) {
				continue
			}
		}
		if len(r.Exists) > 0 && !anyExists(l.opts.FS, r.Exists) {
			continue
		}
		return r.When != pipeline.WhenNever
	}
	return false
}

func anyExists(fsys fs.FS, patterns []string) bool {
	if fsys == nil {
		return false
	}
	for _, p := range patterns {
		if matches, err := doublestar.Glob(fsys, strings.TrimPrefix(p, "/")); err == nil && len(matches) > 0 {
			return true
		}
	}
	return false
}

var includeKeys = []string{"local", "remote", "project", "template", "component", "file", "ref", "inputs", "rules", "integrity", "cache"}

func (l *loader) loadInclude(it includeItem, depth int) *node {
	inc := it.inc
	if depth+1 > maxIncludeDepth {
		l.errorf(inc.Pos, "include", "nested deeper than %d levels", maxIncludeDepth)
		return nil
	}
	switch inc.Kind {
	case "local":
		return l.loadLocal(inc, depth)
	case "remote":
		if l.opts.Fetch == nil {
			l.includes = append(l.includes, inc)
			return nil
		}
		if !l.countInclude(inc) {
			return nil
		}
		data, err := l.opts.Fetch(l.ctx, inc.Target)
		if err != nil {
			l.errorf(inc.Pos, "include:remote", "fetch %s: %v", inc.Target, err)
			return nil
		}
		inc.Resolved = true
		l.includes = append(l.includes, inc)
		return l.loadFile(inc.Target, data, inc.Inputs, depth+1)
	default:
		// project, template and component need a GitLab instance; they are
		// kept so that planning says plainly what was not included.
		l.includes = append(l.includes, inc)
		return nil
	}
}

func (l *loader) countInclude(inc pipeline.Include) bool {
	l.count++
	if l.count > maxIncludes {
		l.errorf(inc.Pos, "include", "more than %d includes", maxIncludes)
		return false
	}
	return true
}

func (l *loader) loadLocal(inc pipeline.Include, depth int) *node {
	if l.opts.FS == nil {
		l.errorf(inc.Pos, "include:local", "%s: local includes need the repository's files", inc.Target)
		return nil
	}
	pattern := strings.TrimPrefix(path.Clean("/"+inc.Target), "/")
	if ext := path.Ext(pattern); ext != ".yml" && ext != ".yaml" {
		l.errorf(inc.Pos, "include:local", "%s: an included file must end in .yml or .yaml", inc.Target)
		return nil
	}
	files := []string{pattern}
	if strings.ContainsAny(pattern, "*?[{") {
		matches, err := doublestar.Glob(l.opts.FS, pattern)
		if err != nil {
			l.errorf(inc.Pos, "include:local", "%s: %v", inc.Target, err)
			return nil
		}
		sort.Strings(matches)
		files = matches
	}
	merged := newMap(inc.Pos)
	for _, f := range files {
		if !l.countInclude(inc) {
			return nil
		}
		if l.seen[f] && depth > 0 {
			// GitLab includes a file only once; a repeat is not an error.
			continue
		}
		data, err := fs.ReadFile(l.opts.FS, f)
		if err != nil {
			l.errorf(inc.Pos, "include:local", "%s: file does not exist or cannot be read", f)
			continue
		}
		l.seen[f] = true
		one := inc
		one.Target = f
		one.Resolved = true
		l.includes = append(l.includes, one)
		if body := l.loadFile(f, data, inc.Inputs, depth+1); body != nil {
			merged = deepMerge(merged, body)
		}
	}
	return merged
}

// deepMerge lays over on top of base: hashes merge key by key, everything
// else in over replaces what base had. Neither argument is changed.
func deepMerge(base, over *node) *node {
	if base == nil || base.kind != kMap || over.kind != kMap {
		return over
	}
	out := newMap(over.pos)
	for _, k := range base.keys {
		out.set(k, base.keyPos(k), base.get(k))
	}
	for _, k := range over.keys {
		if b := out.get(k); b != nil && b.kind == kMap && over.get(k).kind == kMap {
			out.set(k, over.keyPos(k), deepMerge(b, over.get(k)))
			continue
		}
		out.set(k, over.keyPos(k), over.get(k))
	}
	return out
}
