package spec

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
)

// Limits on what one spec may ask for. They keep replica arithmetic far from
// overflow and catch typos such as `replicas: 30000` on a single machine.
const (
	MaxReplicas = 10_000
	// MaxSeconds bounds the *Seconds fields (a year).
	MaxSeconds = 365 * 24 * 3600
)

// Load reads and parses a deploy spec file.
func Load(path string) (*Spec, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("load deploy spec: %w", err)
	}
	if info.Size() > maxFileBytes {
		return nil, ErrorList{{File: path, Line: 1, Column: 1, Msg: fmt.Sprintf("the file is %d bytes; a deploy spec may have at most %d", info.Size(), maxFileBytes)}}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load deploy spec: %w", err)
	}
	return Parse(path, data)
}

// Parse decodes a deploy spec, applies defaults and validates it. Every
// problem found is returned at once, as an ErrorList whose entries carry
// file:line:column. file only labels the errors.
func Parse(file string, data []byte) (*Spec, error) {
	root, errs := parseTree(file, data)
	if root == nil {
		return nil, errs.asError()
	}
	d := &decoder{file: file, errs: errs, positions: map[string]pos{}}
	s := d.spec(root)
	if len(d.errs) > 0 {
		// Shape errors make semantic ones noisy (a missing strategy after a
		// misspelt key); report the shape first.
		return nil, d.errs.asError()
	}
	s.File = file
	s.positions = d.positions
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return s, nil
}

// decoder maps the YAML tree onto Spec, reporting wrong shapes and unknown
// keys. Ranges and cross-field rules are Validate's job, so that a Spec
// built in code is held to the same rules.
type decoder struct {
	file      string
	errs      ErrorList
	positions map[string]pos
}

func (d *decoder) errorf(at pos, path, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if path != "" {
		msg = path + " " + msg
	}
	d.errs = append(d.errs, &Error{File: d.file, Line: at.line, Column: at.col, Msg: msg})
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// fields checks that n is a mapping whose keys are all allowed, records the
// position of each value and returns n (nil when n is null or wrong).
func (d *decoder) fields(n *node, path string, allowed ...string) *node {
	d.positions[path] = n.at
	switch n.kind {
	case kNull:
		return nil
	case kMap:
	default:
		d.errorf(n.at, path, "should be a mapping, not %s", n.describe())
		return nil
	}
	for _, e := range n.keys {
		if path == "" && strings.HasPrefix(e.key, "x-") {
			// Top-level x- keys are the user's own, as in Compose files:
			// a place for anchors that other keys alias.
			continue
		}
		if !contains(allowed, e.key) {
			d.errorf(e.at, path, "has unknown key %q%s", e.key, suggest(e.key, allowed))
			continue
		}
		d.positions[join(path, e.key)] = e.val.at
	}
	return n
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// str reads any scalar as text, so `value: true` means the string "true",
// as it would in a GitLab variable.
func (d *decoder) str(n *node, path string) (string, bool) {
	if n.kind != kScalar {
		d.errorf(n.at, path, "should be a string, not %s", n.describe())
		return "", false
	}
	return n.value, true
}

func (d *decoder) integer(n *node, path string) (int, bool) {
	if n.kind != kScalar || n.tag != "!!int" {
		d.errorf(n.at, path, "should be a whole number, not %s", n.describe())
		return 0, false
	}
	v, err := strconv.ParseInt(strings.ReplaceAll(n.value, "_", ""), 0, 64)
	if err != nil || v > 1<<31 || v < -(1<<31) {
		d.errorf(n.at, path, "is out of range: %s", n.value)
		return 0, false
	}
	return int(v), true
}

func (d *decoder) boolean(n *node, path string) (bool, bool) {
	if n.kind != kScalar || n.tag != "!!bool" {
		d.errorf(n.at, path, "should be true or false, not %s", n.describe())
		return false, false
	}
	v, err := strconv.ParseBool(strings.ToLower(n.value))
	if err != nil {
		// YAML 1.1 spellings (yes/on) that yaml.v3 tags as bool.
		v = contains([]string{"yes", "y", "on"}, strings.ToLower(n.value))
	}
	return v, true
}

// duration reads a Duration; a number is seconds.
func (d *decoder) duration(n *node, path string) (Duration, bool) {
	if n.kind != kScalar || (n.tag != "!!str" && n.tag != "!!int" && n.tag != "!!float") {
		d.errorf(n.at, path, "should be a duration like 30s, not %s", n.describe())
		return 0, false
	}
	v, err := ParseDuration(n.value)
	if err != nil {
		d.errorf(n.at, path, "%v", err)
		return 0, false
	}
	return v, true
}

func (d *decoder) intOrPercent(n *node, path string) (IntOrPercent, bool) {
	if n.kind != kScalar || (n.tag != "!!str" && n.tag != "!!int") {
		d.errorf(n.at, path, "should be a count like 1 or a percentage like 25%%, not %s", n.describe())
		return IntOrPercent{}, false
	}
	v, err := ParseIntOrPercent(n.value)
	if err != nil {
		d.errorf(n.at, path, "%v", err)
		return IntOrPercent{}, false
	}
	return v, true
}

func (d *decoder) stringList(n *node, path string) []string {
	if n.kind != kSeq {
		d.errorf(n.at, path, "should be a list of strings, not %s", n.describe())
		return nil
	}
	out := make([]string, 0, len(n.items))
	for i, item := range n.items {
		if s, ok := d.str(item, fmt.Sprintf("%s[%d]", path, i)); ok {
			out = append(out, s)
		}
	}
	return out
}

func (d *decoder) stringMap(n *node, path string) map[string]string {
	if n.kind == kNull {
		return nil
	}
	if n.kind != kMap {
		d.errorf(n.at, path, "should be a mapping of names to values, not %s", n.describe())
		return nil
	}
	out := make(map[string]string, len(n.keys))
	for _, e := range n.keys {
		p := join(path, e.key)
		d.positions[p] = e.at
		if e.val.kind == kNull {
			out[e.key] = ""
			continue
		}
		if s, ok := d.str(e.val, p); ok {
			out[e.key] = s
		}
	}
	return out
}

// raw turns a subtree into plain Go values (map[string]any, []any, string,
// int64, float64, bool, nil) for sections parsed by later code.
func (d *decoder) raw(n *node, path string) any {
	switch n.kind {
	case kNull:
		return nil
	case kSeq:
		out := make([]any, len(n.items))
		for i, item := range n.items {
			out[i] = d.raw(item, fmt.Sprintf("%s[%d]", path, i))
		}
		return out
	case kMap:
		out := make(map[string]any, len(n.keys))
		for _, e := range n.keys {
			p := join(path, e.key)
			d.positions[p] = e.val.at
			out[e.key] = d.raw(e.val, p)
		}
		return out
	}
	switch n.tag {
	case "!!int":
		if v, err := strconv.ParseInt(strings.ReplaceAll(n.value, "_", ""), 0, 64); err == nil {
			return v
		}
	case "!!float":
		if v, err := strconv.ParseFloat(n.value, 64); err == nil && !isNonFinite(v) {
			return v
		}
	case "!!bool":
		if v, ok := d.boolean(n, path); ok {
			return v
		}
	}
	return n.value
}

func isNonFinite(f float64) bool { return f != f || f > 1e308 || f < -1e308 }

var topKeys = []string{"app", "runtime", "replicas", "healthCheck", "revisionHistoryLimit",
	"progressDeadlineSeconds", "analysis", "environments"}

func (d *decoder) spec(root *node) *Spec {
	s := defaultSpec()
	if root.kind == kNull {
		d.errorf(root.at, "", "the deploy spec is empty; it needs at least app, runtime and environments")
		return &s
	}
	n := d.fields(root, "", topKeys...)
	if n == nil {
		return &s
	}
	// Keys are read in a fixed order, not file order, because environments
	// inherit replicas whichever comes first.
	if v := n.get("app"); v != nil {
		s.App, _ = d.str(v, "app")
	}
	if v := n.get("replicas"); v != nil {
		s.Replicas, _ = d.integer(v, "replicas")
	}
	if v := n.get("revisionHistoryLimit"); v != nil {
		s.RevisionHistoryLimit, _ = d.integer(v, "revisionHistoryLimit")
	}
	if v := n.get("progressDeadlineSeconds"); v != nil {
		s.ProgressDeadlineSeconds, _ = d.integer(v, "progressDeadlineSeconds")
	}
	if v := n.get("runtime"); v != nil {
		d.runtime(v, &s.Runtime)
	}
	if v := n.get("healthCheck"); v != nil {
		d.healthCheck(v, &s.HealthCheck)
	}
	if v := n.get("analysis"); v != nil {
		switch v.kind {
		case kNull:
		case kMap:
			s.Analysis, _ = d.raw(v, "analysis").(map[string]any)
		default:
			d.errorf(v.at, "analysis", "should be a mapping, not %s", v.describe())
		}
	}
	if v := n.get("environments"); v != nil {
		s.Environments = d.environments(v, &s)
	}
	return &s
}

var runtimeKeys = []string{"kind", "module", "mode", "command", "env"}

func (d *decoder) runtime(v *node, r *Runtime) {
	n := d.fields(v, "runtime", runtimeKeys...)
	if n == nil {
		return
	}
	if k := n.get("kind"); k != nil {
		s, _ := d.str(k, "runtime.kind")
		r.Kind = RuntimeKind(s)
	}
	if m := n.get("module"); m != nil {
		r.Module, _ = d.str(m, "runtime.module")
	}
	if m := n.get("mode"); m != nil {
		s, _ := d.str(m, "runtime.mode")
		r.Mode = WasmMode(s)
	}
	if c := n.get("command"); c != nil {
		if c.kind == kScalar {
			// A single string is the program alone, as in `command: ./server`.
			r.Command = []string{c.value}
		} else {
			r.Command = d.stringList(c, "runtime.command")
		}
	}
	if e := n.get("env"); e != nil {
		r.Env = d.stringMap(e, "runtime.env")
	}
	if r.Kind == "" {
		// The kind is implied when only one of module and command is given.
		switch {
		case r.Module != "" && len(r.Command) == 0:
			r.Kind = RuntimeWasm
		case r.Module == "" && len(r.Command) > 0:
			r.Kind = RuntimeProcess
		}
	}
	defaultRuntime(r)
}

var healthKeys = []string{"path", "interval", "timeout", "failureThreshold", "initialDelay"}

func (d *decoder) healthCheck(v *node, h *HealthCheck) {
	n := d.fields(v, "healthCheck", healthKeys...)
	if n == nil {
		return
	}
	if x := n.get("path"); x != nil {
		h.Path, _ = d.str(x, "healthCheck.path")
	}
	if x := n.get("interval"); x != nil {
		h.Interval, _ = d.duration(x, "healthCheck.interval")
	}
	if x := n.get("timeout"); x != nil {
		h.Timeout, _ = d.duration(x, "healthCheck.timeout")
	}
	if x := n.get("failureThreshold"); x != nil {
		h.FailureThreshold, _ = d.integer(x, "healthCheck.failureThreshold")
	}
	if x := n.get("initialDelay"); x != nil {
		h.InitialDelay, _ = d.duration(x, "healthCheck.initialDelay")
	}
}

// sortedKeys lists a string map's keys in order, for stable messages.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
