package spec

import (
	"fmt"
	"sort"
	"strings"
)

// Error is one problem in a deploy spec, located so that editors and CI logs
// can jump to it. Line and Column are 1-based; both are 0 for a Spec built in
// code rather than parsed from a file.
type Error struct {
	File   string `json:"file,omitempty"`
	Line   int    `json:"line,omitempty"`
	Column int    `json:"column,omitempty"`
	Msg    string `json:"message"`
}

// Error formats the problem as `file:line:col: msg`, the form compilers use,
// leaving out the parts that are unknown.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d:%d", e.Line, e.Column)
	}
	if b.Len() > 0 {
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// ErrorList is every problem found in one spec, in file order, so a user
// fixes them all in one edit instead of one per run.
type ErrorList []*Error

// Error puts one problem on each line.
func (l ErrorList) Error() string {
	lines := make([]string, len(l))
	for i, e := range l {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap lets errors.As reach the individual *Error values.
func (l ErrorList) Unwrap() []error {
	out := make([]error, len(l))
	for i, e := range l {
		out[i] = e
	}
	return out
}

// normalize sorts by position and drops exact duplicates (an aliased node
// that is wrong is reported once, not once per use).
func (l ErrorList) normalize() ErrorList {
	sort.SliceStable(l, func(i, j int) bool {
		a, b := l[i], l[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		if a.Column != b.Column {
			return a.Column < b.Column
		}
		return a.Msg < b.Msg
	})
	out := l[:0]
	for i, e := range l {
		if i > 0 && *e == *l[i-1] {
			continue
		}
		out = append(out, e)
	}
	return out
}

// asError returns nil for an empty list so callers can `return errs.asError()`
// without handing back a non-nil interface holding an empty list.
func (l ErrorList) asError() error {
	if len(l) == 0 {
		return nil
	}
	return l.normalize()
}

// pos is a location inside the parsed file.
type pos struct {
	line, col int
}

// suggest offers the closest allowed word for a misspelt one, or "".
func suggest(word string, allowed []string) string {
	best, bestDist := "", -1
	for _, a := range allowed {
		d := editDistance(strings.ToLower(word), strings.ToLower(a))
		if bestDist < 0 || d < bestDist {
			best, bestDist = a, d
		}
	}
	if bestDist < 0 || bestDist > max(1, len(best)/3) {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// editDistance counts insertions, deletions, substitutions and swaps of
// neighbours, so that "maxSurg" and "maxSruge" are both one typo away.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 1 << 10
	}
	prev2 := make([]int, len(b)+1)
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
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}
