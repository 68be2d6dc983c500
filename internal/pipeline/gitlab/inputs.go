package gitlab

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/gantry-ci/gantry/internal/pipeline"
)

var inputKeys = []string{"default", "description", "options", "regex", "type"}

// parseSpec reads the spec:inputs of a header document.
func (l *loader) parseSpec(header *node) []pipeline.Input {
	if !l.d.hash(header, "", []string{"spec"}) {
		return nil
	}
	spec := header.get("spec")
	if spec == nil || spec.kind == kNull {
		return nil
	}
	if !l.d.hash(spec, "spec", []string{"inputs", "include", "component"}) {
		return nil
	}
	inputs := spec.get("inputs")
	if inputs == nil || inputs.kind == kNull {
		return nil
	}
	if inputs.kind != kMap {
		l.errorf(inputs.pos, "spec:inputs", "should be a hash, not %s", inputs.describe())
		return nil
	}
	var out []pipeline.Input
	for _, name := range inputs.keys {
		v := inputs.get(name)
		in := pipeline.Input{Name: name, Type: "string", Pos: inputs.keyPos(name)}
		keyPath := "spec:inputs:" + name
		if v.kind == kMap {
			l.d.hash(v, keyPath, inputKeys)
			if t := v.get("type"); t != nil {
				in.Type = l.d.oneOf(t, keyPath+":type", "string", "number", "boolean", "array")
			}
			if def := v.get("default"); def != nil {
				in.Default, in.HasDefault = toGo(def), true
			} else if v.hasKey("default") {
				in.Default, in.HasDefault = "", true
			}
			in.Description = l.d.str(v.get("description"), keyPath+":description")
			if opts := v.get("options"); opts != nil {
				if opts.kind != kSeq {
					l.errorf(opts.pos, keyPath+":options", "should be an array, not %s", opts.describe())
				} else {
					for _, o := range opts.seq {
						in.Options = append(in.Options, toGo(o))
					}
				}
			}
			if re := v.get("regex"); re != nil {
				in.Regex = l.d.str(re, keyPath+":regex")
				if _, err := regexp.Compile(strings.Trim(in.Regex, "/")); err != nil {
					l.errorf(re.pos, keyPath+":regex", "invalid regular expression: %v", err)
				}
			}
		} else if v.kind != kNull {
			l.errorf(v.pos, keyPath, "should be a hash, not %s", v.describe())
		}
		out = append(out, in)
	}
	return out
}

func (l *loader) recordInputs(inputs []pipeline.Input) {
	l.mainInputs = inputs
}

// inputValues checks the given values against the spec and fills defaults.
func (l *loader) inputValues(spec []pipeline.Input, given map[string]any, at pipeline.Pos) map[string]any {
	values := map[string]any{}
	known := map[string]bool{}
	for _, in := range spec {
		known[in.Name] = true
		v, ok := given[in.Name]
		if !ok {
			if !in.HasDefault {
				l.errorf(in.Pos, "spec:inputs:"+in.Name, "is required but no value was given")
				continue
			}
			v = in.Default
		}
		if msg := checkInput(in, v); msg != "" {
			l.errorf(in.Pos, "spec:inputs:"+in.Name, "%s", msg)
			continue
		}
		values[in.Name] = v
	}
	var unknown []string
	for name := range given {
		if !known[name] {
			unknown = append(unknown, name)
		}
	}
	sort.Strings(unknown)
	for _, name := range unknown {
		l.errorf(at, "inputs", "unknown input %q", name)
	}
	return values
}

func checkInput(in pipeline.Input, v any) string {
	switch in.Type {
	case "string":
		if _, ok := v.(string); !ok {
			return fmt.Sprintf("should be a string, got %v", v)
		}
	case "number":
		switch v.(type) {
		case int, int64, float64:
		default:
			return fmt.Sprintf("should be a number, got %v", v)
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			return fmt.Sprintf("should be a boolean, got %v", v)
		}
	case "array":
		if _, ok := v.([]any); !ok {
			return fmt.Sprintf("should be an array, got %v", v)
		}
	}
	if len(in.Options) > 0 {
		found := false
		for _, o := range in.Options {
			if fmt.Sprint(o) == fmt.Sprint(v) {
				found = true
			}
		}
		if !found {
			return fmt.Sprintf("value %v is not one of the options %v", v, in.Options)
		}
	}
	if in.Regex != "" {
		if s, ok := v.(string); ok {
			re, err := regexp.Compile(strings.Trim(in.Regex, "/"))
			if err == nil && !re.MatchString(s) {
				return fmt.Sprintf("value %q does not match %s", s, in.Regex)
			}
		}
	}
	return ""
}

var interpolation = regexp.MustCompile(`\$\[\[\s*(.*?)\s*\]\]`)

// interpolate replaces $[[ inputs.NAME ]] in every key and value. A value
// that is exactly one interpolation takes the input's own type, as in GitLab.
func interpolate(n *node, values map[string]any, errs *pipeline.Errors) *node {
	if n == nil {
		return nil
	}
	switch n.kind {
	case kScalar:
		if !strings.Contains(n.str, "$[[") {
			return n
		}
		if m := interpolation.FindStringSubmatchIndex(n.str); m != nil && m[0] == 0 && m[1] == len(n.str) {
			v, err := evalInterpolation(n.str[m[2]:m[3]], values)
			if err != nil {
				*errs = append(*errs, &pipeline.Error{Pos: n.pos, Msg: err.Error()})
				return n
			}
			return fromGo(v, n.pos)
		}
		out := *n
		out.str = interpolation.ReplaceAllStringFunc(n.str, func(s string) string {
			inner := interpolation.FindStringSubmatch(s)[1]
			v, err := evalInterpolation(inner, values)
			if err != nil {
				*errs = append(*errs, &pipeline.Error{Pos: n.pos, Msg: err.Error()})
				return s
			}
			return fmt.Sprint(v)
		})
		out.tag = "!!str"
		return &out
	case kSeq, kRef:
		out := *n
		out.seq = make([]*node, len(n.seq))
		for i, item := range n.seq {
			out.seq[i] = interpolate(item, values, errs)
		}
		return &out
	case kMap:
		out := newMap(n.pos)
		for _, k := range n.keys {
			key := k
			if strings.Contains(k, "$[[") {
				key = interpolate(&node{kind: kScalar, str: k, pos: n.keyPos(k)}, values, errs).str
			}
			out.set(key, n.keyPos(k), interpolate(n.get(k), values, errs))
		}
		return out
	}
	return n
}

// evalInterpolation evaluates "inputs.NAME | fn | fn(args)".
func evalInterpolation(expr string, values map[string]any) (any, error) {
	parts := strings.Split(expr, "|")
	ref := strings.TrimSpace(parts[0])
	name, ok := strings.CutPrefix(ref, "inputs.")
	if !ok {
		return nil, fmt.Errorf("unknown interpolation %q: only inputs.NAME is supported", ref)
	}
	v, ok := values[name]
	if !ok {
		return nil, fmt.Errorf("unknown input %q in $[[ %s ]]", name, expr)
	}
	for _, fn := range parts[1:] {
		fn = strings.TrimSpace(fn)
		switch {
		case fn == "expand_vars":
			// Variables are expanded when the job runs; nothing to do here.
		case strings.HasPrefix(fn, "truncate(") && strings.HasSuffix(fn, ")"):
			args := strings.Split(strings.TrimSuffix(strings.TrimPrefix(fn, "truncate("), ")"), ",")
			if len(args) != 2 {
				return nil, fmt.Errorf("truncate takes two numbers: %s", fn)
			}
			off, err1 := strconv.Atoi(strings.TrimSpace(args[0]))
			n, err2 := strconv.Atoi(strings.TrimSpace(args[1]))
			if err1 != nil || err2 != nil || off < 0 || n < 0 {
				return nil, fmt.Errorf("truncate takes two non-negative numbers: %s", fn)
			}
			s := fmt.Sprint(v)
			off = min(off, len(s))
			v = s[off:min(len(s), off+n)]
		default:
			return nil, fmt.Errorf("unknown interpolation function %q", fn)
		}
	}
	return v, nil
}

// fromGo turns a Go value (an input's value) into a node.
func fromGo(v any, pos pipeline.Pos) *node {
	switch x := v.(type) {
	case nil:
		return &node{kind: kNull, pos: pos}
	case bool:
		return &node{kind: kScalar, pos: pos, tag: "!!bool", str: strconv.FormatBool(x)}
	case int:
		return &node{kind: kScalar, pos: pos, tag: "!!int", str: strconv.Itoa(x)}
	case int64:
		return &node{kind: kScalar, pos: pos, tag: "!!int", str: strconv.FormatInt(x, 10)}
	case float64:
		return &node{kind: kScalar, pos: pos, tag: "!!float", str: strconv.FormatFloat(x, 'g', -1, 64)}
	case []any:
		n := &node{kind: kSeq, pos: pos}
		for _, item := range x {
			n.seq = append(n.seq, fromGo(item, pos))
		}
		return n
	case map[string]any:
		n := newMap(pos)
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			n.set(k, pos, fromGo(x[k], pos))
		}
		return n
	}
	return &node{kind: kScalar, pos: pos, tag: "!!str", str: fmt.Sprint(v)}
}
