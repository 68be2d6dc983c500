package analysis

import (
	"fmt"
	"strconv"
	"strings"
)

// jsonPath is a parsed JSONPath of the subset web checks need: the root $,
// member names (.status or ['status']) and array indexes ([0], [-1] from
// the end). Filters and wildcards are left out on purpose: a condition
// judges one value.
type jsonPath []pathStep

type pathStep struct {
	name  string
	index int
	isIdx bool
}

// parseJSONPath reads "$.a.b[0]", "$['a b'][-1]", or the same wrapped in
// braces as Argo Rollouts' (Kubernetes') syntax writes it: "{$.a}".
func parseJSONPath(s string) (jsonPath, error) {
	src := strings.TrimSpace(s)
	if strings.HasPrefix(src, "{") && strings.HasSuffix(src, "}") {
		src = strings.TrimSpace(src[1 : len(src)-1])
	}
	if !strings.HasPrefix(src, "$") {
		return nil, fmt.Errorf("jsonPath %q: must start with $", s)
	}
	var p jsonPath
	for i := 1; i < len(src); {
		switch src[i] {
		case '.':
			j := i + 1
			for j < len(src) && src[j] != '.' && src[j] != '[' {
				j++
			}
			if j == i+1 {
				return nil, fmt.Errorf("jsonPath %q: empty name at offset %d", s, i)
			}
			name := src[i+1 : j]
			if strings.ContainsAny(name, "]*?@()") {
				return nil, fmt.Errorf("jsonPath %q: unsupported name %q (only names, ['quoted names'] and [indexes])", s, name)
			}
			p = append(p, pathStep{name: name})
			i = j
		case '[':
			step, n, err := parseBracket(src[i:])
			if err != nil {
				return nil, fmt.Errorf("jsonPath %q: at offset %d: %w", s, i, err)
			}
			p = append(p, step)
			i += n
		default:
			return nil, fmt.Errorf("jsonPath %q: unexpected %q at offset %d", s, src[i], i)
		}
	}
	return p, nil
}

// parseBracket reads one [..] at the start of s and returns its length.
func parseBracket(s string) (pathStep, int, error) {
	if len(s) >= 2 && (s[1] == '\'' || s[1] == '"') {
		quote := s[1]
		var name strings.Builder
		for i := 2; i < len(s); i++ {
			switch c := s[i]; {
			case c == '\\' && i+1 < len(s):
				i++
				name.WriteByte(s[i])
			case c == quote:
				if i+1 >= len(s) || s[i+1] != ']' {
					return pathStep{}, 0, fmt.Errorf("expected ] after the quoted name")
				}
				return pathStep{name: name.String()}, i + 2, nil
			default:
				name.WriteByte(c)
			}
		}
		return pathStep{}, 0, fmt.Errorf("unclosed quoted name")
	}
	end := strings.IndexByte(s, ']')
	if end < 0 {
		return pathStep{}, 0, fmt.Errorf("unclosed [")
	}
	n, err := strconv.Atoi(strings.TrimSpace(s[1:end]))
	if err != nil {
		return pathStep{}, 0, fmt.Errorf("[%s] is not an index (wildcards, slices and filters are not supported)", s[1:end])
	}
	return pathStep{index: n, isIdx: true}, end + 1, nil
}

// String writes the path back in a canonical form that parses to the same
// path.
func (p jsonPath) String() string {
	var b strings.Builder
	b.WriteByte('$')
	for _, st := range p {
		switch {
		case st.isIdx:
			fmt.Fprintf(&b, "[%d]", st.index)
		case plainName(st.name):
			b.WriteByte('.')
			b.WriteString(st.name)
		default:
			b.WriteString("['")
			for i := 0; i < len(st.name); i++ {
				if c := st.name[i]; c == '\'' || c == '\\' {
					b.WriteByte('\\')
				}
				b.WriteByte(st.name[i])
			}
			b.WriteString("']")
		}
	}
	return b.String()
}

func plainName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if !(c == '_' || c == '-' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// lookup walks doc (as encoding/json decodes into any) along p; ok is
// false when a step finds nothing, and where says which step.
func (p jsonPath) lookup(doc any) (v any, ok bool, where string) {
	v = doc
	for i, st := range p {
		switch cur := v.(type) {
		case map[string]any:
			if st.isIdx {
				return nil, false, jsonPath(p[:i+1]).String() + " indexes an object"
			}
			v, ok = cur[st.name]
			if !ok {
				return nil, false, jsonPath(p[:i+1]).String() + " is missing"
			}
		case []any:
			if !st.isIdx {
				return nil, false, jsonPath(p[:i+1]).String() + " names a member of an array"
			}
			idx := st.index
			if idx < 0 {
				idx += len(cur)
			}
			if idx < 0 || idx >= len(cur) {
				return nil, false, fmt.Sprintf("%s is out of range (length %d)", jsonPath(p[:i+1]), len(cur))
			}
			v = cur[idx]
		default:
			return nil, false, fmt.Sprintf("%s: %s is not an object or array", jsonPath(p[:i+1]), jsonPath(p[:i]))
		}
	}
	return v, true, ""
}
