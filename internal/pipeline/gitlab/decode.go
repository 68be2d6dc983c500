package gitlab

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gantry-ci/gantry/internal/pipeline"
)

// decoder reads typed values out of nodes and records a located error for
// every value of the wrong type, so that one pass reports every problem.
type decoder struct {
	errs *pipeline.Errors
}

func (d decoder) errorf(p pipeline.Pos, keyPath, format string, args ...any) {
	*d.errs = append(*d.errs, &pipeline.Error{Pos: p, Path: keyPath, Msg: fmt.Sprintf(format, args...)})
}

// str reads a string; numbers and booleans are taken as their text, as GitLab does.
func (d decoder) str(n *node, keyPath string) string {
	if n == nil || n.kind == kNull {
		return ""
	}
	if n.kind != kScalar {
		d.errorf(n.pos, keyPath, "should be a string, not %s", n.describe())
		return ""
	}
	return n.str
}

// strList reads a string or an array of strings. Nested arrays are
// flattened, as GitLab does for scripts built from !reference.
func (d decoder) strList(n *node, keyPath string) []string {
	if n == nil || n.kind == kNull {
		return nil
	}
	if n.kind == kScalar {
		return []string{n.str}
	}
	if n.kind != kSeq {
		d.errorf(n.pos, keyPath, "should be a string or an array of strings, not %s", n.describe())
		return nil
	}
	out := make([]string, 0, len(n.seq))
	var walk func(list []*node, depth int)
	walk = func(list []*node, depth int) {
		for _, item := range list {
			switch {
			case item.kind == kScalar:
				out = append(out, item.str)
			case item.kind == kSeq && depth < 10:
				walk(item.seq, depth+1)
			case item.kind == kNull:
				d.errorf(item.pos, keyPath, "should not hold an empty item")
			default:
				d.errorf(item.pos, keyPath, "should be an array of strings, not hold %s", item.describe())
			}
		}
	}
	walk(n.seq, 0)
	return out
}

func (d decoder) boolean(n *node, keyPath string) bool {
	if n == nil || n.kind == kNull {
		return false
	}
	if n.kind != kScalar || n.tag != "!!bool" {
		d.errorf(n.pos, keyPath, "should be a boolean, not %s", n.describe())
		return false
	}
	b, _ := strconv.ParseBool(strings.ToLower(n.str))
	return b
}

func (d decoder) integer(n *node, keyPath string) int {
	if n == nil || n.kind == kNull {
		return 0
	}
	if n.kind != kScalar || n.tag != "!!int" {
		d.errorf(n.pos, keyPath, "should be an integer, not %s", n.describe())
		return 0
	}
	v, err := strconv.Atoi(n.str)
	if err != nil {
		d.errorf(n.pos, keyPath, "should be an integer: %v", err)
	}
	return v
}

func (d decoder) intList(n *node, keyPath string) []int {
	if n == nil || n.kind == kNull {
		return nil
	}
	if n.kind == kScalar {
		return []int{d.integer(n, keyPath)}
	}
	if n.kind != kSeq {
		d.errorf(n.pos, keyPath, "should be an integer or an array of integers, not %s", n.describe())
		return nil
	}
	out := make([]int, 0, len(n.seq))
	for _, item := range n.seq {
		out = append(out, d.integer(item, keyPath))
	}
	return out
}

// duration reads a GitLab duration ("1h 30m", "3 hours", "2 days").
func (d decoder) duration(n *node, keyPath string) time.Duration {
	s := d.str(n, keyPath)
	if s == "" {
		return 0
	}
	v, err := pipeline.ParseDuration(s)
	if err != nil {
		d.errorf(n.pos, keyPath, "%v", err)
	}
	return v
}

// hash checks that n is a hash and reports unknown keys against allowed.
func (d decoder) hash(n *node, keyPath string, allowed []string) bool {
	if n == nil {
		return false
	}
	if n.kind != kMap {
		d.errorf(n.pos, keyPath, "should be a hash, not %s", n.describe())
		return false
	}
	for _, k := range n.keys {
		if !contains(allowed, k) {
			d.errorf(n.keyPos(k), keyPath, "unknown keyword %q%s", k, suggest(k, allowed))
		}
	}
	return true
}

func (d decoder) oneOf(n *node, keyPath string, allowed ...string) string {
	s := d.str(n, keyPath)
	if s != "" && !contains(allowed, s) {
		d.errorf(n.pos, keyPath, "unknown value %q (one of %s)%s", s, strings.Join(allowed, ", "), suggest(s, allowed))
	}
	return s
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// suggest offers the closest allowed word for a misspelt one.
func suggest(word string, allowed []string) string {
	best, bestDist := "", -1
	for _, a := range allowed {
		if d := editDistance(word, a); bestDist < 0 || d < bestDist {
			best, bestDist = a, d
		}
	}
	if bestDist < 0 || len(best) < 3 || bestDist > max(1, len(best)/3) {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// editDistance is the optimal string alignment distance: insertions,
// deletions, substitutions and swaps of two neighbours each cost one, so
// that "stgae" is one typo away from "stage".
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 99
	}
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}

// toGo turns a node into plain Go values, for keywords kept as raw data.
func toGo(n *node) any {
	if n == nil {
		return nil
	}
	switch n.kind {
	case kScalar:
		switch n.tag {
		case "!!int":
			if v, err := strconv.ParseInt(n.str, 0, 64); err == nil {
				return v
			}
		case "!!float":
			if v, err := strconv.ParseFloat(n.str, 64); err == nil {
				return v
			}
		case "!!bool":
			if v, err := strconv.ParseBool(strings.ToLower(n.str)); err == nil {
				return v
			}
		}
		return n.str
	case kSeq, kRef:
		out := make([]any, len(n.seq))
		for i, item := range n.seq {
			out[i] = toGo(item)
		}
		return out
	case kMap:
		out := make(map[string]any, len(n.keys))
		for _, k := range n.keys {
			out[k] = toGo(n.get(k))
		}
		return out
	}
	return nil
}
