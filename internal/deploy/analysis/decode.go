package analysis

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"
)

// decoder reads the spec's plain data (what the deploy spec parser or a
// YAML/JSON decoder produces) and collects every problem, so that one run
// of `gantry deploy` reports them all.
type decoder struct {
	errs []error
}

func (d *decoder) err() error { return errors.Join(d.errs...) }

// obj is one mapping being read; where names it for people (template
// "x", metric "y") and field prefixes its keys (provider.web.).
type obj struct {
	d     *decoder
	where string
	field string
	m     map[string]any
}

func (o obj) errorf(key, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	name := strings.TrimSuffix(o.field+key, ".")
	switch {
	case o.where != "" && name != "":
		o.d.errs = append(o.d.errs, fmt.Errorf("%s: %s: %s", o.where, name, msg))
	case o.where != "":
		o.d.errs = append(o.d.errs, fmt.Errorf("%s: %s", o.where, msg))
	default:
		o.d.errs = append(o.d.errs, fmt.Errorf("%s: %s", name, msg))
	}
}

// sub reads the mapping under key; ok is false when it is absent or not a
// mapping (the latter reported).
func (o obj) sub(key string) (obj, bool) {
	v, present := o.m[key]
	if !present || v == nil {
		return obj{}, false
	}
	m, ok := v.(map[string]any)
	if !ok {
		o.errorf(key, "should be a mapping, not %s", describe(v))
		return obj{}, false
	}
	return obj{d: o.d, where: o.where, field: o.field + key + ".", m: m}, true
}

// only reports keys outside known, naming the near miss when there is one.
func (o obj) only(known ...string) {
	keys := make([]string, 0, len(o.m))
	for k := range o.m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if slices.Contains(known, k) {
			continue
		}
		if near := nearest(k, known); near != "" {
			o.errorf(k, "unknown field (did you mean %q?)", near)
		} else {
			o.errorf(k, "unknown field (known: %s)", strings.Join(known, ", "))
		}
	}
}

func (o obj) has(key string) bool {
	v, ok := o.m[key]
	return ok && v != nil
}

func (o obj) str(key, def string) string {
	v, ok := o.m[key]
	if !ok || v == nil {
		return def
	}
	s, ok := v.(string)
	if !ok {
		o.errorf(key, "should be a string, not %s", describe(v))
		return def
	}
	return s
}

func (o obj) boolean(key string, def bool) bool {
	v, ok := o.m[key]
	if !ok || v == nil {
		return def
	}
	b, ok := v.(bool)
	if !ok {
		o.errorf(key, "should be true or false, not %s", describe(v))
		return def
	}
	return b
}

// duration reads a Go duration string ("30s", "1m30s"); a bare 0 is
// accepted, other numbers are refused as ambiguous.
func (o obj) duration(key string, def time.Duration) time.Duration {
	v, ok := o.m[key]
	if !ok || v == nil {
		return def
	}
	if f, isNum := number(v); isNum && f == 0 {
		return 0
	}
	s, isStr := v.(string)
	if !isStr {
		o.errorf(key, "should be a duration like \"30s\", not %s", describe(v))
		return def
	}
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil || d < 0 {
		o.errorf(key, "should be a duration like \"30s\", not %q", s)
		return def
	}
	return d
}

// integer reads a whole number not below lo.
func (o obj) integer(key string, def, lo int64) int64 {
	v, ok := o.m[key]
	if !ok || v == nil {
		return def
	}
	f, isNum := number(v)
	if !isNum || f != math.Trunc(f) || math.Abs(f) > 1<<31 {
		o.errorf(key, "should be a whole number, not %s", describe(v))
		return def
	}
	if int64(f) < lo {
		o.errorf(key, "should be at least %d, not %d", lo, int64(f))
		return def
	}
	return int64(f)
}

// float reads any finite number.
func (o obj) float(key string) (float64, bool) {
	v, ok := o.m[key]
	if !ok || v == nil {
		return 0, false
	}
	f, isNum := number(v)
	if !isNum || math.IsNaN(f) || math.IsInf(f, 0) {
		o.errorf(key, "should be a number, not %s", describe(v))
		return 0, false
	}
	return f, true
}

// number accepts the numeric types the spec parser, YAML and JSON decoders
// and code produce.
func number(v any) (float64, bool) {
	switch x := v.(type) {
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case int32:
		return float64(x), true
	case uint64:
		return float64(x), true
	case uint:
		return float64(x), true
	case float64:
		return x, true
	case float32:
		return float64(x), true
	}
	return 0, false
}

func describe(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return fmt.Sprintf("%q", truncate(x, 40))
	case bool:
		return fmt.Sprintf("%t", x)
	case map[string]any:
		return "a mapping"
	case []any:
		return "a list"
	}
	if f, ok := number(v); ok {
		return formatValue(f)
	}
	return fmt.Sprintf("a %T", v)
}

// nearest is the known key within two edits of k, for "did you mean".
func nearest(k string, known []string) string {
	best, bestD := "", 3
	for _, c := range known {
		if d := editDistance(strings.ToLower(k), strings.ToLower(c)); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 99
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
