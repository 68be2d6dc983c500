package expr

import (
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// node is one vertex of the syntax tree. trace mirrors eval but also
// explains the outcome; the two are kept side by side so they cannot drift.
type node interface {
	eval(vars Lookup) bool
	trace(vars Lookup) (bool, string)
}

// operand is a leaf value as written in the source.
type operand struct {
	kind tokenKind // tokVar, tokString, tokNull or tokRegex
	src  string
	text string
	re   *regexp.Regexp
}

type valueKind int

const (
	valNull valueKind = iota
	valString
	valRegex
)

// value is an operand resolved against the variables.
type value struct {
	kind valueKind
	s    string         // string content; source text for regexes
	re   *regexp.Regexp // set for valRegex
}

func (o operand) resolve(vars Lookup) value {
	switch o.kind {
	case tokVar:
		if s, ok := vars(o.text); ok {
			return value{kind: valString, s: s}
		}
		return value{kind: valNull}
	case tokString:
		return value{kind: valString, s: o.text}
	case tokRegex:
		return value{kind: valRegex, s: o.src, re: o.re}
	default:
		return value{kind: valNull}
	}
}

// truthy mirrors Ruby's `present?`, which GitLab applies to a bare operand.
func (v value) truthy() bool {
	switch v.kind {
	case valString:
		return v.s != ""
	case valRegex:
		return true
	}
	return false
}

func equal(a, b value) bool {
	return a.kind == b.kind && a.s == b.s
}

// matchKind records how =~ reached its verdict, for traces.
type matchKind int

const (
	matchNull      matchKind = iota // right side null: never matches
	matchRegex                      // regex literal or /pattern/ value
	matchSubstring                  // GitLab fallback: left is a substring of right
)

// match implements =~. A null left side is matched as "", because GitLab
// stringifies it before scanning.
func match(left, right value) (bool, matchKind) {
	text := left.s // "" for null
	switch right.kind {
	case valNull:
		return false, matchNull
	case valRegex:
		return right.re.MatchString(text), matchRegex
	}
	if re, ok := regexFromValue(right.s); ok {
		return re.MatchString(text), matchRegex
	}
	return strings.Contains(right.s, text), matchSubstring
}

type bareNode struct{ operand operand }

func (n *bareNode) eval(vars Lookup) bool { return n.operand.resolve(vars).truthy() }

func (n *bareNode) trace(vars Lookup) (bool, string) {
	v := n.operand.resolve(vars)
	return v.truthy(), describeOperand(n.operand, v)
}

type cmpNode struct {
	op          tokenKind
	left, right operand
}

func (n *cmpNode) eval(vars Lookup) bool {
	ok, _ := n.decide(vars)
	return ok
}

func (n *cmpNode) decide(vars Lookup) (bool, matchKind) {
	l, r := n.left.resolve(vars), n.right.resolve(vars)
	switch n.op {
	case tokEq:
		return equal(l, r), matchRegex
	case tokNe:
		return !equal(l, r), matchRegex
	case tokMatch:
		return match(l, r)
	default: // tokNoMatch
		ok, how := match(l, r)
		return !ok, how
	}
}

func (n *cmpNode) trace(vars Lookup) (bool, string) {
	ok, how := n.decide(vars)
	l, r := n.left.resolve(vars), n.right.resolve(vars)
	s := describeOperand(n.left, l) + " " + opText(n.op) + " " + describeOperand(n.right, r)
	if (n.op == tokMatch || n.op == tokNoMatch) && how == matchSubstring {
		s += " (right side is not a /regex/, so compared as substring)"
	}
	return ok, s
}

type groupNode struct{ inner node }

func (n *groupNode) eval(vars Lookup) bool { return n.inner.eval(vars) }

func (n *groupNode) trace(vars Lookup) (bool, string) {
	ok, s := n.inner.trace(vars)
	return ok, "(" + s + ")"
}

type andNode struct{ terms []node }

func (n *andNode) eval(vars Lookup) bool {
	for _, t := range n.terms {
		if !t.eval(vars) {
			return false
		}
	}
	return true
}

// trace names the first false term (the one that short-circuited), or all
// terms when every one held.
func (n *andNode) trace(vars Lookup) (bool, string) {
	parts := make([]string, 0, len(n.terms))
	for _, t := range n.terms {
		ok, s := t.trace(vars)
		if !ok {
			return false, s
		}
		parts = append(parts, s)
	}
	return true, strings.Join(parts, " && ")
}

type orNode struct{ terms []node }

func (n *orNode) eval(vars Lookup) bool {
	for _, t := range n.terms {
		if t.eval(vars) {
			return true
		}
	}
	return false
}

// trace names the first true term, or all terms when none held.
func (n *orNode) trace(vars Lookup) (bool, string) {
	parts := make([]string, 0, len(n.terms))
	for _, t := range n.terms {
		ok, s := t.trace(vars)
		if ok {
			return true, s
		}
		parts = append(parts, s)
	}
	return false, strings.Join(parts, " || ")
}

func opText(op tokenKind) string {
	switch op {
	case tokEq:
		return "=="
	case tokNe:
		return "!="
	case tokMatch:
		return "=~"
	default:
		return "!~"
	}
}

// maxTraceValue keeps traces readable when a variable holds, say, a whole
// commit message.
const maxTraceValue = 60

// describeOperand renders a variable with the value it had; literals are
// shown as written.
func describeOperand(o operand, v value) string {
	if o.kind != tokVar {
		return o.src
	}
	if v.kind == valNull {
		return o.src + " (undefined)"
	}
	s := v.s
	if len(s) > maxTraceValue {
		cut := maxTraceValue
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		return o.src + " (" + strconv.Quote(s[:cut]) + "...)"
	}
	return o.src + " (" + strconv.Quote(s) + ")"
}
