// Package variables gives CI/CD variables the values a job sees: references
// to other variables ($VAR, ${VAR}) are replaced, $$ becomes a literal $,
// later definitions override earlier ones, and expand: false values are
// left exactly as written — GitLab's rules, so a pipeline that works there
// gets the same environment under Gantry.
package variables

import (
	"strings"
)

// Expand replaces $NAME and ${NAME} in s with lookup's value and $$ with a
// single $. A name is a letter or underscore followed by letters, digits
// and underscores. A name lookup does not know becomes empty, as in the
// runner's expansion. A $ that starts no reference (a lone $, "${", "${1}")
// is kept as written, so shell syntax the job meant for bash survives.
func Expand(s string, lookup func(string) (string, bool)) string {
	return expand(s, func(name string) string {
		v, _ := lookup(name)
		return v
	}, nil)
}

// expand is Expand with a resolver that may also ask to keep a reference
// as written (keep returns true), which Resolve uses for cycles.
func expand(s string, value func(string) string, keep func(string) bool) string {
	i := strings.IndexByte(s, '$')
	if i < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i >= 0 {
		b.WriteString(s[:i])
		s = s[i:]
		name, n := reference(s)
		switch {
		case n == 0: // not a reference
			b.WriteByte('$')
			s = s[1:]
		case name == "": // $$
			b.WriteByte('$')
			s = s[n:]
		case keep != nil && keep(name):
			b.WriteString(s[:n])
			s = s[n:]
		default:
			b.WriteString(value(name))
			s = s[n:]
		}
		i = strings.IndexByte(s, '$')
	}
	b.WriteString(s)
	return b.String()
}

// reference parses the reference at the start of s, which begins with $.
// It returns the name and the length of the reference text; n is 0 when s
// starts no reference, and name is "" with n 2 for the $$ escape.
func reference(s string) (name string, n int) {
	if len(s) < 2 {
		return "", 0
	}
	switch c := s[1]; {
	case c == '$':
		return "", 2
	case c == '{':
		end := strings.IndexByte(s, '}')
		if end < 0 || !isName(s[2:end]) {
			return "", 0
		}
		return s[2:end], end + 1
	case isNameStart(c):
		j := 2
		for j < len(s) && isNameChar(s[j]) {
			j++
		}
		return s[1:j], j
	}
	return "", 0
}

// References lists the names s refers to, in order, without duplicates.
// Escaped references ($$NAME) are not references.
func References(s string) []string {
	var names []string
	seen := map[string]bool{}
	for i := strings.IndexByte(s, '$'); i >= 0; i = strings.IndexByte(s, '$') {
		s = s[i:]
		name, n := reference(s)
		if n == 0 {
			s = s[1:]
			continue
		}
		if name != "" && !seen[name] {
			seen[name] = true
			names = append(names, name)
		}
		s = s[n:]
	}
	return names
}

func isName(s string) bool {
	if s == "" || !isNameStart(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !isNameChar(s[i]) {
			return false
		}
	}
	return true
}

func isNameStart(c byte) bool {
	return c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

func isNameChar(c byte) bool { return isNameStart(c) || '0' <= c && c <= '9' }
